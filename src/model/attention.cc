#include "model/attention.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/fp16.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/ops.h"

namespace sobre::model {
namespace {

void store_kv(const AttentionOptions& opt, const Batch& batch, int il, KvStore& kv, const float* k,
              const float* v) {
    const int64_t k_width = static_cast<int64_t>(opt.n_head_kv) * opt.head_dim_k;
    const int64_t v_width = static_cast<int64_t>(opt.n_head_kv) * opt.head_dim_v;
    for (int64_t t = 0; t < batch.size(); ++t) {
        const KvSeqView view = kv.view(il, batch.seq_ids[t]);
        kernels::to_f16(k + t * k_width, view.k_row(batch.positions[t]), k_width);
        if (!opt.v_in_k) kernels::to_f16(v + t * v_width, view.v_row(batch.positions[t]), v_width);
    }
}

// One query head of one token against the n_ctx listed positions of its sequence (sparse
// attention). Two passes over the rows (scores, then the weighted sum of V), each row read once;
// the f16 products and the softmax run in the start-up ISA's kernels.
void attend_head(const AttentionOptions& opt, const float* qh, const KvSeqView& view, int kv_head,
                 int64_t n_ctx, const int32_t* positions, float* out, std::vector<float>& scores,
                 std::vector<uint16_t>& q16) {
    auto at = [positions](int64_t j) { return int64_t{positions[j]}; };
    const int64_t v_head_stride = opt.v_in_k ? opt.head_dim_k : opt.head_dim_v;
    q16.resize(static_cast<size_t>(opt.head_dim_k));
    kernels::to_f16(qh, q16.data(), opt.head_dim_k);
    scores.resize(static_cast<size_t>(n_ctx));
    for (int64_t j = 0; j < n_ctx; ++j) {
        const uint16_t* kj = view.k_row(at(j)) + static_cast<int64_t>(kv_head) * opt.head_dim_k;
        scores[j] = kernels::dot_f16(kj, q16.data(), opt.head_dim_k);
    }
    kernels::softmax(scores.data(), n_ctx, opt.kq_scale);
    for (int64_t j = 0; j < n_ctx; ++j) scores[j] = fp16_to_fp32(fp32_to_fp16(scores[j]));
    for (int d = 0; d < opt.head_dim_v; ++d) out[d] = 0;
    for (int64_t j = 0; j < n_ctx; ++j) {
        const uint16_t* row = opt.v_in_k ? view.k_row(at(j)) : view.v_row(at(j));
        kernels::axpy_f16(scores[j], row + static_cast<int64_t>(kv_head) * v_head_stride, out,
                          opt.head_dim_v);
    }
}

// A unit of work of the causal path: the queries of heads [h0, h1) of KV head `kv_head` for the
// batch tokens tok[t0, t1) (all of one sequence). Jobs only partition the work, so results do not
// depend on the thread count.
struct AttnJob {
    int seq;
    int kv_head;
    int h0, h1;  // query heads, within the KV head's group
    const int64_t* tok;
    int64_t t0, t1;
};

constexpr int64_t kTokensPerJob = 32;  // bounds the scores buffer: 32 tokens x group x keys floats

// Every token attends to positions [0, pos] of its sequence: the queries of one KV head share its
// K and V rows, so they go to kernels::attend together (tiled over keys in the SIMD levels).
void causal_attention(const AttentionOptions& opt, const Batch& batch, int il, KvStore& kv,
                      const float* q, float* out, ThreadPool& pool) {
    const int group = opt.n_head / opt.n_head_kv;
    std::vector<std::vector<int64_t>> by_seq(static_cast<size_t>(kv.n_seq()));
    for (int64_t t = 0; t < batch.size(); ++t)
        by_seq[static_cast<size_t>(batch.seq_ids[t])].push_back(t);
    std::vector<AttnJob> jobs;
    for (int s = 0; s < kv.n_seq(); ++s) {
        const std::vector<int64_t>& toks = by_seq[static_cast<size_t>(s)];
        for (int h = 0; h < opt.n_head_kv; ++h) {
            for (int64_t t0 = 0; t0 < static_cast<int64_t>(toks.size()); t0 += kTokensPerJob) {
                const int64_t t1 =
                    std::min<int64_t>(t0 + kTokensPerJob, static_cast<int64_t>(toks.size()));
                jobs.push_back({s, h, 0, group, toks.data(), t0, t1});
            }
        }
    }
    // Few jobs (decode, or one KV head as in MLA): split the heads of each group too.
    const int64_t want = 2 * static_cast<int64_t>(pool.size());
    if (static_cast<int64_t>(jobs.size()) < want && group > 1) {
        const int parts = static_cast<int>(
            std::min<int64_t>(group, (want + static_cast<int64_t>(jobs.size()) - 1) /
                                         std::max<int64_t>(1, static_cast<int64_t>(jobs.size()))));
        std::vector<AttnJob> split;
        for (const AttnJob& j : jobs) {
            for (int p = 0; p < parts; ++p) {
                AttnJob part = j;
                part.h0 = group * p / parts;
                part.h1 = group * (p + 1) / parts;
                if (part.h0 < part.h1) split.push_back(part);
            }
        }
        jobs.swap(split);
    }
    const int64_t q_width = static_cast<int64_t>(opt.n_head) * opt.head_dim_k;
    const int64_t o_width = static_cast<int64_t>(opt.n_head) * opt.head_dim_v;
    const int64_t v_head_stride = opt.v_in_k ? opt.head_dim_k : opt.head_dim_v;
    pool.parallel_for(static_cast<int64_t>(jobs.size()), [&](int64_t begin, int64_t end) {
        std::vector<const uint16_t*> krows, vrows;
        std::vector<const float*> qs;
        std::vector<float*> outs;
        std::vector<int64_t> n_ctx;
        std::vector<float> scratch;
        for (int64_t ji = begin; ji < end; ++ji) {
            const AttnJob& j = jobs[static_cast<size_t>(ji)];
            const KvSeqView view = kv.view(il, j.seq);
            qs.clear();
            outs.clear();
            n_ctx.clear();
            int64_t n_keys = 0;
            for (int64_t i = j.t0; i < j.t1; ++i) {
                const int64_t t = j.tok[i];
                for (int h = j.kv_head * group + j.h0; h < j.kv_head * group + j.h1; ++h) {
                    qs.push_back(q + t * q_width + static_cast<int64_t>(h) * opt.head_dim_k);
                    outs.push_back(out + t * o_width + static_cast<int64_t>(h) * opt.head_dim_v);
                    n_ctx.push_back(int64_t{batch.positions[t]} + 1);
                    n_keys = std::max(n_keys, n_ctx.back());
                }
            }
            krows.resize(static_cast<size_t>(n_keys));
            vrows.resize(static_cast<size_t>(n_keys));
            for (int64_t p = 0; p < n_keys; ++p) {
                krows[p] = view.k_row(p) + static_cast<int64_t>(j.kv_head) * opt.head_dim_k;
                const uint16_t* vrow = opt.v_in_k ? view.k_row(p) : view.v_row(p);
                vrows[p] = vrow + static_cast<int64_t>(j.kv_head) * v_head_stride;
            }
            kernels::AttnArgs a;
            a.head_dim_k = opt.head_dim_k;
            a.head_dim_v = opt.head_dim_v;
            a.n_keys = n_keys;
            a.k = krows.data();
            a.v = vrows.data();
            a.n_q = static_cast<int64_t>(qs.size());
            a.q = qs.data();
            a.n_ctx = n_ctx.data();
            a.scale = opt.kq_scale;
            a.out = outs.data();
            const int64_t need =
                kernels::attend_scratch_floats(a.n_q, n_keys, opt.head_dim_k, opt.head_dim_v);
            scratch.resize(static_cast<size_t>(need + 16));
            const auto addr = reinterpret_cast<uintptr_t>(scratch.data());
            kernels::attend(a, scratch.data() + (64 - addr % 64) % 64 / sizeof(float));
        }
    });
}

}  // namespace

void attention(const AttentionOptions& opt, const Batch& batch, int il, KvStore& kv, const float* q,
               const float* k, const float* v, float* out, ThreadPool& pool,
               const PositionLists* only) {
    store_kv(opt, batch, il, kv, k, v);
    if (only == nullptr) {
        causal_attention(opt, batch, il, kv, q, out, pool);
        return;
    }
    const int group = opt.n_head / opt.n_head_kv;
    const int64_t q_width = static_cast<int64_t>(opt.n_head) * opt.head_dim_k;
    const int64_t o_width = static_cast<int64_t>(opt.n_head) * opt.head_dim_v;
    pool.parallel_for(batch.size() * opt.n_head, [&](int64_t begin, int64_t end) {
        std::vector<float> scores;
        std::vector<uint16_t> q16;
        for (int64_t i = begin; i < end; ++i) {
            const int64_t t = i / opt.n_head;
            const int h = static_cast<int>(i % opt.n_head);
            const KvSeqView view = kv.view(il, batch.seq_ids[t]);
            const int64_t n_ctx = only->start[t + 1] - only->start[t];
            const int32_t* positions = only->pos.data() + only->start[t];
            attend_head(opt, q + t * q_width + static_cast<int64_t>(h) * opt.head_dim_k, view,
                        h / group, n_ctx, positions,
                        out + t * o_width + static_cast<int64_t>(h) * opt.head_dim_v, scores, q16);
        }
    });
}

}  // namespace sobre::model
