#include "model/attention.h"

#include <vector>

#include "core/fp16.h"
#include "kernels/cpu/ops.h"

namespace sobre::model {
namespace {

void store_kv(const AttentionOptions& opt, const Batch& batch, int il, KvStore& kv, const float* k,
              const float* v) {
    const int64_t k_width = static_cast<int64_t>(opt.n_head_kv) * opt.head_dim_k;
    const int64_t v_width = static_cast<int64_t>(opt.n_head_kv) * opt.head_dim_v;
    for (int64_t t = 0; t < batch.size(); ++t) {
        const KvSeqView view = kv.view(il, batch.seq_ids[t]);
        uint16_t* kr = view.k_row(batch.positions[t]);
        uint16_t* vr = opt.v_in_k ? nullptr : view.v_row(batch.positions[t]);
        for (int64_t i = 0; i < k_width; ++i) kr[i] = fp32_to_fp16(k[t * k_width + i]);
        if (opt.v_in_k) continue;
        for (int64_t i = 0; i < v_width; ++i) vr[i] = fp32_to_fp16(v[t * v_width + i]);
    }
}

// One query head of one token against positions [0, n_ctx) of its sequence.
void attend_head(const AttentionOptions& opt, const float* qh, const KvSeqView& view, int kv_head, int64_t n_ctx,
                 float* out, std::vector<float>& scores, std::vector<float>& qf) {
    const int64_t v_head_stride = opt.v_in_k ? opt.head_dim_k : opt.head_dim_v;
    qf.resize(static_cast<size_t>(opt.head_dim_k));
    for (int d = 0; d < opt.head_dim_k; ++d) qf[d] = fp16_to_fp32(fp32_to_fp16(qh[d]));
    scores.resize(static_cast<size_t>(n_ctx));
    for (int64_t j = 0; j < n_ctx; ++j) {
        const uint16_t* kj = view.k_row(j) + static_cast<int64_t>(kv_head) * opt.head_dim_k;
        float s = 0;
        for (int d = 0; d < opt.head_dim_k; ++d) s += qf[d] * fp16_to_fp32(kj[d]);
        scores[j] = s;
    }
    kernels::softmax(scores.data(), n_ctx, opt.kq_scale);
    for (int64_t j = 0; j < n_ctx; ++j) scores[j] = fp16_to_fp32(fp32_to_fp16(scores[j]));
    for (int d = 0; d < opt.head_dim_v; ++d) out[d] = 0;
    for (int64_t j = 0; j < n_ctx; ++j) {
        const uint16_t* vj = (opt.v_in_k ? view.k_row(j) : view.v_row(j)) + static_cast<int64_t>(kv_head) * v_head_stride;
        const float w = scores[j];
        for (int d = 0; d < opt.head_dim_v; ++d) out[d] += w * fp16_to_fp32(vj[d]);
    }
}

}  // namespace

void attention(const AttentionOptions& opt, const Batch& batch, int il, KvStore& kv, const float* q,
               const float* k, const float* v, float* out, ThreadPool& pool) {
    store_kv(opt, batch, il, kv, k, v);
    const int group = opt.n_head / opt.n_head_kv;
    const int64_t q_width = static_cast<int64_t>(opt.n_head) * opt.head_dim_k;
    const int64_t o_width = static_cast<int64_t>(opt.n_head) * opt.head_dim_v;
    pool.parallel_for(batch.size() * opt.n_head, [&](int64_t begin, int64_t end) {
        std::vector<float> scores, qf;
        for (int64_t i = begin; i < end; ++i) {
            const int64_t t = i / opt.n_head;
            const int h = static_cast<int>(i % opt.n_head);
            const KvSeqView view = kv.view(il, batch.seq_ids[t]);
            attend_head(opt, q + t * q_width + static_cast<int64_t>(h) * opt.head_dim_k, view, h / group,
                        batch.positions[t] + 1, out + t * o_width + static_cast<int64_t>(h) * opt.head_dim_v, scores,
                        qf);
        }
    });
}

}  // namespace sobre::model
