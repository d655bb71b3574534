// Hyper-connections (DeepSeek-V4): the residual is kept as n streams per token; around each
// sub-block, weights computed from all streams collapse them into the sub-block's input and
// spread its output back over a Sinkhorn-normalised mix of the streams.
// ref: ../shared/ARCHITECTURES.md §8.3 (llama.cpp src/models/deepseek4.cpp build_hc_pre,
// build_hc_sinkhorn, build_hc_post, build_hc_head).
#pragma once

#include <cstdint>
#include <vector>

#include "core/thread_pool.h"
#include "model/weights.h"

namespace sobre::model {

struct HcOptions {
    int n_streams = 4;  // hyper_connection.count
    int sinkhorn_iters = 0;
    float eps = 0;      // hyper_connection.epsilon
    float rms_eps = 0;  // of the (weightless) RMSNorm over the concatenated streams
};

struct HcWeights {
    TensorView fn;    // (n_streams * n_embd, 2 n + n^2) around a sub-block, (n_streams * n_embd, n)
                      // at the head
    TensorView base;  // f32 (2 n + n^2) or (n)
    TensorView scale;  // f32 (3) or (1): for the pre, post and mixing logits
};

// Per token, how a sub-block reads and writes the streams.
struct HcMix {
    std::vector<float> pre;   // [T][n]: input weights
    std::vector<float> post;  // [T][n]: output weights
    std::vector<float> comb;  // [T][n][n]: comb[d * n + s], stream s's share of destination d
};

// The mixing weights of a sub-block for n_tokens tokens of streams [T][n][n_embd]:
//   m = fn . RMSNorm(concat streams); pre_i = sigmoid(m_i s0 + b_i) + eps;
//   post_i = 2 sigmoid(m_{n+i} s1 + b_{n+i}); comb = Sinkhorn(m_{2n + d + n s} s2 + b_{2n + d + n
//   s}).
// With `head` set (the output collapse) only pre is computed, from n logits and one scale.
void hc_weights(const HcOptions& opt, const HcWeights& w, const float* streams, int64_t n_tokens,
                int64_t n_embd, bool head, HcMix& mix, ThreadPool& pool);

// x[t] = sum_i pre[t][i] * streams[t][i]   (x: [T][n_embd])
void hc_collapse(const HcOptions& opt, const HcMix& mix, const float* streams, int64_t n_tokens,
                 int64_t n_embd, float* x);

// streams[t][d] = post[t][d] * y[t] + sum_s comb[t][d][s] * streams[t][s]   (in place)
void hc_expand(const HcOptions& opt, const HcMix& mix, const float* y, int64_t n_tokens,
               int64_t n_embd, float* streams);

}  // namespace sobre::model
