#include "model/dsv4_attention.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

#include "core/error.h"
#include "core/fp16.h"
#include "kernels/cpu/matmul.h"

namespace sobre::model {
namespace {

float round_f16(float v) { return fp16_to_fp32(fp32_to_fp16(v)); }

// Where each position of each sequence sits in the batch.
struct SeqIndex {
    struct Run {
        int64_t first_pos = 0;
        std::vector<int64_t> index;  // batch index of position first_pos + i
    };
    std::map<int, Run> runs;

    // Batch index of `pos` of `seq`, or -1 when the position came before this batch.
    int64_t find(int seq, int64_t pos) const {
        const Run& r = runs.at(seq);
        return pos >= r.first_pos ? r.index[pos - r.first_pos] : -1;
    }
};

SeqIndex index_batch(const Batch& batch) {
    SeqIndex idx;
    for (int64_t t = 0; t < batch.size(); ++t) {
        const int seq = batch.seq_ids[t];
        const int64_t pos = batch.positions[t];
        auto [it, fresh] = idx.runs.try_emplace(seq);
        SeqIndex::Run& r = it->second;
        if (fresh) r.first_pos = pos;
        if (pos != r.first_pos + static_cast<int64_t>(r.index.size())) {
            fail(ErrorKind::kInvalidArgument,
                 "deepseek4: sequence {} has position {} after {} in one batch; its tokens must "
                 "come at consecutive "
                 "positions (the window and compressor state run token by token)",
                 seq, pos, r.first_pos + static_cast<int64_t>(r.index.size()) - 1);
        }
        r.index.push_back(t);
    }
    return idx;
}

// The roped query heads [T][H][D] (per-head RMSNorm without weight, as the reference) and the
// normed q latent [T][q_lora_rank] (the indexer's query source).
void project_q(const Dsv4AttnHparams& hp, const Dsv4AttnWeights& w, const kernels::RopeParams& rope,
               const Batch& batch, ThreadPool& pool, const float* x, std::vector<float>& q_latent,
               std::vector<float>& q) {
    const int64_t n = batch.size(), d = hp.head_dim;
    q_latent.resize(static_cast<size_t>(n * hp.q_lora_rank));
    q.resize(static_cast<size_t>(n * hp.n_head * d));
    kernels::matmul(w.q_a, x, n, q_latent.data(), pool);
    for (int64_t t = 0; t < n; ++t) {
        float* row = &q_latent[t * hp.q_lora_rank];
        kernels::rms_norm(row, w.q_a_norm.f32(), row, hp.q_lora_rank, hp.rms_eps);
    }
    kernels::matmul(w.q_b, q_latent.data(), n, q.data(), pool);
    for (int64_t t = 0; t < n; ++t) {
        float* qt = &q[t * hp.n_head * d];
        for (int h = 0; h < hp.n_head; ++h)
            kernels::rms_norm(qt + h * d, nullptr, qt + h * d, d, hp.rms_eps);
        rope_last(rope, batch.positions[t], hp.n_rot, qt, hp.n_head, static_cast<int>(d));
    }
}

// The shared K = V head [T][D], roped and rounded to f16 as the reference's cache holds it.
std::vector<float> project_kv(const Dsv4AttnHparams& hp, const Dsv4AttnWeights& w,
                              const kernels::RopeParams& rope, const Batch& batch, ThreadPool& pool,
                              const float* x) {
    const int64_t n = batch.size(), d = hp.head_dim;
    std::vector<float> kv(static_cast<size_t>(n * d));
    kernels::matmul(w.kv, x, n, kv.data(), pool);
    for (int64_t t = 0; t < n; ++t) {
        float* row = &kv[t * d];
        kernels::rms_norm(row, w.kv_norm.f32(), row, d, hp.rms_eps);
        rope_last(rope, batch.positions[t], hp.n_rot, row, 1, static_cast<int>(d));
        for (int64_t i = 0; i < d; ++i) row[i] = round_f16(row[i]);
    }
    return kv;
}

// One head over n keys of d values (each also its value) with an unscaled sink logit, as ggml's
// soft_max with sinks; q and the softmax weights are rounded to f16 for the two products.
void attend_sink(const float* qh, const float* keys, int64_t n, int64_t d, float scale, float sink,
                 float* out, std::vector<float>& s) {
    std::vector<float> qf(qh, qh + d);
    for (float& v : qf) v = round_f16(v);
    s.resize(static_cast<size_t>(n));
    float max = sink;
    for (int64_t j = 0; j < n; ++j) {
        float dot = 0;
        for (int64_t i = 0; i < d; ++i) dot += qf[i] * keys[j * d + i];
        s[j] = dot * scale;
        max = std::max(max, s[j]);
    }
    double sum = 0;
    for (int64_t j = 0; j < n; ++j) sum += (s[j] = std::exp(s[j] - max));
    sum += std::exp(sink - max);
    const auto inv = static_cast<float>(1.0 / sum);
    std::fill(out, out + d, 0.0f);
    for (int64_t j = 0; j < n; ++j) {
        const float p = round_f16(s[j] * inv);
        for (int64_t i = 0; i < d; ++i) out[i] += p * keys[j * d + i];
    }
}

// The keys token t reads: its window (from the batch or the ring), then its compressed blocks.
void gather_keys(const Dsv4AttnHparams& hp, const Dsv4AttnWeights& w, const SeqIndex& idx, int il,
                 const Batch& batch, KvStore& kv, const float* kvh, const PositionLists& selected,
                 int64_t t, std::vector<float>& keys) {
    const int64_t d = hp.head_dim, pos = batch.positions[t];
    const int seq = batch.seq_ids[t];
    const float* ring = kv.state(il, seq);
    keys.clear();
    for (int64_t s = std::max<int64_t>(0, pos - hp.n_swa + 1); s <= pos; ++s) {
        const int64_t at = idx.find(seq, s);
        const float* src = at >= 0 ? kvh + at * d : ring + (s % hp.n_swa) * d;
        keys.insert(keys.end(), src, src + d);
    }
    if (w.ratio == 0) return;
    const KvSeqView view = kv.view(il, seq);
    auto add_block = [&](int64_t b) {
        keys.resize(keys.size() + static_cast<size_t>(d));
        read_block(w.comp_spec, view, b, &keys[keys.size() - static_cast<size_t>(d)]);
    };
    if (w.ratio == 4) {
        for (int64_t i = selected.start[t]; i < selected.start[t + 1]; ++i)
            add_block(selected.pos[i]);
    } else {
        for (int64_t b = 0; b < visible_blocks(w.ratio, pos); ++b) add_block(b);
    }
}

void update_window(const Dsv4AttnHparams& hp, const SeqIndex& idx, int il, KvStore& kv,
                   const float* kvh) {
    const int64_t d = hp.head_dim;
    for (const auto& [seq, run] : idx.runs) {
        float* ring = kv.state(il, seq);
        const auto n = static_cast<int64_t>(run.index.size());
        for (int64_t i = std::max<int64_t>(0, n - hp.n_swa); i < n; ++i) {
            std::copy_n(kvh + run.index[i] * d, d, ring + ((run.first_pos + i) % hp.n_swa) * d);
        }
    }
}

// out = attn_output_b · concat_g(attn_output_a[g] · o_g), o_g = heads g*H/G .. (g+1)*H/G - 1.
void grouped_output(const Dsv4AttnHparams& hp, const Dsv4AttnWeights& w, const float* o, int64_t n,
                    ThreadPool& pool, float* out) {
    const int64_t group_in = int64_t{hp.n_head} * hp.head_dim / hp.n_group, r = hp.group_rank;
    std::vector<float> in(static_cast<size_t>(n * group_in)), a(static_cast<size_t>(n * r));
    std::vector<float> low(static_cast<size_t>(n * hp.n_group * r));
    for (int g = 0; g < hp.n_group; ++g) {
        for (int64_t t = 0; t < n; ++t) {
            std::copy_n(o + (t * hp.n_group + g) * group_in, group_in, &in[t * group_in]);
        }
        kernels::matmul(w.out_a.slice(g), in.data(), n, a.data(), pool);
        for (int64_t t = 0; t < n; ++t) std::copy_n(&a[t * r], r, &low[(t * hp.n_group + g) * r]);
    }
    kernels::matmul(w.out_b, low.data(), n, out, pool);
}

}  // namespace

void dsv4_attention(const Dsv4AttnHparams& hp, const Dsv4AttnWeights& w, int il, const Batch& batch,
                    KvStore& kv, ThreadPool& pool, const float* x, float* out) {
    const int64_t n = batch.size(), d = hp.head_dim, nh = hp.n_head;
    const SeqIndex idx = index_batch(batch);
    const kernels::RopeParams& rope = w.ratio == 0 ? hp.rope_raw : hp.rope_comp;
    std::vector<float> q_latent, q;
    project_q(hp, w, rope, batch, pool, x, q_latent, q);
    const std::vector<float> kvh = project_kv(hp, w, rope, batch, pool, x);

    PositionLists selected;
    if (w.ratio > 0) compress(w.comp_spec, w.comp, il, batch, kv, pool, x);
    if (w.ratio == 4) {
        compress(w.ix_spec, w.ix_comp, il, batch, kv, pool, x);
        select_blocks(hp.indexer, w.indexer, w.ix_spec, il, batch, kv, pool, x, q_latent.data(),
                      selected);
    }

    std::vector<float> o(static_cast<size_t>(n * nh * d));
    const float scale = 1.0f / std::sqrt(static_cast<float>(d));
    pool.parallel_for(n, [&](int64_t begin, int64_t end) {
        std::vector<float> keys, s;
        for (int64_t t = begin; t < end; ++t) {
            gather_keys(hp, w, idx, il, batch, kv, kvh.data(), selected, t, keys);
            const auto n_keys = static_cast<int64_t>(keys.size()) / d;
            for (int64_t h = 0; h < nh; ++h) {
                attend_sink(&q[(t * nh + h) * d], keys.data(), n_keys, d, scale, w.sinks.f32()[h],
                            &o[(t * nh + h) * d], s);
            }
            // V carries rotated dims: rotate the output back to the query's frame.
            rope_last(rope, batch.positions[t], hp.n_rot, &o[t * nh * d], static_cast<int>(nh),
                      static_cast<int>(d), true);
        }
    });
    update_window(hp, idx, il, kv, kvh.data());
    grouped_output(hp, w, o.data(), n, pool, out);
}

}  // namespace sobre::model
