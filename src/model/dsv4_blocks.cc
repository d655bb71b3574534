#include "model/dsv4_blocks.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "core/error.h"
#include "core/fp16.h"
#include "kernels/cpu/matmul.h"
#include "model/dsa.h"

namespace sobre::model {

void rope_last(const kernels::RopeParams& p, int64_t pos, int n_rot, float* x, int n_heads,
               int head_dim, bool inverse) {
    std::vector<float> cs(static_cast<size_t>(n_rot));
    kernels::rope_cache(p, pos, cs.data());
    // The inverse rotation (ggml rope_ext_back) is the rotation by -theta.
    if (inverse) {
        for (int i = 1; i < n_rot; i += 2) cs[i] = -cs[i];
    }
    for (int h = 0; h < n_heads; ++h) {
        kernels::rope_apply(p, cs.data(), x + int64_t{h} * head_dim + (head_dim - n_rot), 1, n_rot);
    }
}

namespace {

// This compressor's values [0, n) of block b in a sequence's K rows, as (row, column) runs.
template <class Fn>
void for_each_run(const CompressorSpec& spec, int64_t b, int64_t n, Fn&& fn) {
    const int64_t first_row = int64_t{spec.ratio} * b;
    int64_t done = 0;
    while (done < n) {
        const int64_t i = spec.block_offset + done;
        const int64_t row = first_row + i / spec.row_width, col = i % spec.row_width;
        const int64_t len = std::min(n - done, spec.row_width - col);
        fn(row, col, done, len);
        done += len;
    }
}

void write_block(const CompressorSpec& spec, const KvSeqView& view, int64_t b, const float* v) {
    for_each_run(spec, b, spec.dim, [&](int64_t row, int64_t col, int64_t at, int64_t len) {
        uint16_t* dst = view.k_row(row) + col;
        for (int64_t i = 0; i < len; ++i) dst[i] = fp32_to_fp16(v[at + i]);
    });
}

// Softmax-gated sum of one channel over its candidates (ggml's softmax: max-subtracted, sum in
// double).
float gated_sum(const float* score, const float* value, int n) {
    float max = -INFINITY;
    for (int j = 0; j < n; ++j) max = std::max(max, score[j]);
    double sum = 0;
    for (int j = 0; j < n; ++j) sum += std::exp(score[j] - max);
    const auto inv = static_cast<float>(1.0 / sum);
    float acc = 0;
    for (int j = 0; j < n; ++j) acc += std::exp(score[j] - max) * inv * value[j];
    return acc;
}

// Block b from the ring: per channel, a softmax over the candidate tokens' scores weights their
// values. Ratio 4 overlaps: the previous block's 4 tokens (first half of the channels; none for
// b = 0) and the current block's 4 (second half). Ratio 128: the block's own tokens.
void build_block(const CompressorSpec& spec, const float* ring, int64_t b, float* out) {
    const int ch = spec.channels(), slots = spec.ring_slots();
    auto slot = [&](int64_t pos) {
        return ring + (pos % slots) * 2 * ch;
    };  // [kv (ch) | score (ch)]
    std::vector<float> score, value;
    for (int e = 0; e < spec.dim; ++e) {
        score.clear();
        value.clear();
        if (spec.ratio == 4) {
            for (int j = 0; j < 4 && b > 0; ++j) {
                const float* s = slot(4 * (b - 1) + j);
                value.push_back(s[e]);
                score.push_back(s[ch + e]);
            }
            for (int j = 0; j < 4; ++j) {
                const float* s = slot(4 * b + j);
                value.push_back(s[spec.dim + e]);
                score.push_back(s[ch + spec.dim + e]);
            }
        } else {
            for (int j = 0; j < spec.ratio; ++j) {
                const float* s = slot(int64_t{spec.ratio} * b + j);
                value.push_back(s[e]);
                score.push_back(s[ch + e]);
            }
        }
        out[e] = gated_sum(score.data(), value.data(), static_cast<int>(score.size()));
    }
}

}  // namespace

void read_block(const CompressorSpec& spec, const KvSeqView& view, int64_t b, float* out) {
    for_each_run(spec, b, spec.dim, [&](int64_t row, int64_t col, int64_t at, int64_t len) {
        const uint16_t* src = view.k_row(row) + col;
        for (int64_t i = 0; i < len; ++i) out[at + i] = fp16_to_fp32(src[i]);
    });
}

void compress(const CompressorSpec& spec, const CompressorWeights& w, int il, const Batch& batch,
              KvStore& kv, ThreadPool& pool, const float* x) {
    const int64_t n = batch.size(), ch = spec.channels();
    SOBRE_CHECK(spec.block_offset + spec.dim <= spec.block_width &&
                spec.block_width <= spec.row_width * spec.ratio);
    std::vector<float> values(static_cast<size_t>(n * ch)), scores(values.size()),
        ape(values.size());
    kernels::matmul(w.kv, x, n, values.data(), pool);
    kernels::matmul(w.gate, x, n, scores.data(), pool);
    std::vector<int32_t> in_block(static_cast<size_t>(n));
    for (int64_t t = 0; t < n; ++t) in_block[t] = batch.positions[t] % spec.ratio;
    kernels::get_rows(w.ape, in_block.data(), n, ape.data());
    kernels::add_inplace(scores.data(), ape.data(), n * ch);

    std::vector<float> block(static_cast<size_t>(spec.dim));
    for (int64_t t = 0; t < n; ++t) {
        const int seq = batch.seq_ids[t];
        const int64_t pos = batch.positions[t];
        float* ring = kv.state(il, seq) + spec.ring_offset;
        float* slot = ring + (pos % spec.ring_slots()) * 2 * ch;
        std::copy_n(&values[t * ch], ch, slot);
        std::copy_n(&scores[t * ch], ch, slot + ch);
        if ((pos + 1) % spec.ratio != 0) continue;
        const int64_t b = pos / spec.ratio;
        build_block(spec, ring, b, block.data());
        kernels::rms_norm(block.data(), w.norm.f32(), block.data(), spec.dim, spec.rms_eps);
        rope_last(spec.rope, int64_t{spec.ratio} * b, spec.n_rot, block.data(), 1, spec.dim);
        if (spec.hadamard) hadamard_transform(block.data(), spec.dim);
        write_block(spec, kv.view(il, seq), b, block.data());
    }
}

void select_blocks(const BlockIndexerHparams& ip, const BlockIndexerWeights& w,
                   const CompressorSpec& keys, int il, const Batch& batch, KvStore& kv,
                   ThreadPool& pool, const float* x, const float* q_latent, PositionLists& out) {
    const int64_t n = batch.size(), d = ip.head_dim, nh = ip.n_head;
    std::vector<float> q(static_cast<size_t>(n * nh * d)), wt(static_cast<size_t>(n * nh));
    kernels::matmul(w.wq_b, q_latent, n, q.data(), pool);
    kernels::matmul(w.proj, x, n, wt.data(), pool);
    const float w_scale = 1.0f / std::sqrt(static_cast<float>(d * nh));
    for (int64_t t = 0; t < n; ++t) {
        float* qt = &q[t * nh * d];
        rope_last(ip.rope, batch.positions[t], ip.n_rot, qt, static_cast<int>(nh),
                  static_cast<int>(d));
        for (int64_t h = 0; h < nh; ++h) hadamard_transform(qt + h * d, static_cast<int>(d));
        for (int64_t h = 0; h < nh; ++h) wt[t * nh + h] *= w_scale;
    }
    out.start.assign(static_cast<size_t>(n + 1), 0);
    for (int64_t t = 0; t < n; ++t) {
        out.start[t + 1] =
            out.start[t] +
            std::min<int64_t>(visible_blocks(keys.ratio, batch.positions[t]), ip.top_k);
    }
    out.pos.resize(static_cast<size_t>(out.start[n]));
    pool.parallel_for(n, [&](int64_t begin, int64_t end) {
        std::vector<float> scores, key(static_cast<size_t>(d));
        for (int64_t t = begin; t < end; ++t) {
            const int64_t n_vis = visible_blocks(keys.ratio, batch.positions[t]);
            int32_t* dst = &out.pos[out.start[t]];
            if (n_vis <= ip.top_k) {
                std::iota(dst, dst + n_vis, 0);
                continue;
            }
            const KvSeqView view = kv.view(il, batch.seq_ids[t]);
            const float* qt = &q[t * nh * d];
            scores.resize(static_cast<size_t>(n_vis));
            for (int64_t b = 0; b < n_vis; ++b) {
                read_block(keys, view, b, key.data());
                float score = 0;
                for (int64_t h = 0; h < nh; ++h) {
                    float dot = 0;
                    for (int64_t i = 0; i < d; ++i) dot += qt[h * d + i] * key[i];
                    score +=
                        wt[t * nh + h] * std::max(dot, 0.0f);  // ReLU per head, then the weight
                }
                scores[b] = score;
            }
            const std::vector<int32_t> best = top_k_ascending(scores.data(), n_vis, ip.top_k);
            std::copy(best.begin(), best.end(), dst);
        }
    });
}

}  // namespace sobre::model
