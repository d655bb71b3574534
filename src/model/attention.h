// Causal multi-head attention with grouped K/V heads over an f16 KV cache.
#pragma once

#include "core/thread_pool.h"
#include "model/batch.h"

namespace sobre::model {

struct AttentionOptions {
    int n_head = 0;
    int n_head_kv = 0;  // query head h reads K/V head h / (n_head / n_head_kv) (contiguous groups)
    int head_dim_k = 0;
    int head_dim_v = 0;
    float kq_scale = 1.0f;  // applied inside the softmax
    // V is the first head_dim_v values of each cached K row (MLA's latent cache): nothing is
    // stored for V and `v` is ignored.
    bool v_in_k = false;
};

// Stores the batch's K and V rows (rounded to f16, like llama.cpp's default cache) at each
// token's position of its sequence in layer `il`, then computes for each token and head
// softmax(q·K^T * scale) · V over positions [0, pos] of its sequence.
//   q:   [T][n_head * head_dim_k]   (RoPE already applied)
//   k:   [T][n_head_kv * head_dim_k]
//   v:   [T][n_head_kv * head_dim_v]
//   out: [T][n_head * head_dim_v]
// Like llama.cpp's non-flash path, q and the softmax weights are rounded to f16 for the two
// products and accumulated in f32.
void attention(const AttentionOptions& opt, const Batch& batch, int il, KvStore& kv, const float* q,
               const float* k, const float* v, float* out, ThreadPool& pool);

}  // namespace sobre::model
