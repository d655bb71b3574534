// Causal multi-head attention with grouped K/V heads over an f16 KV cache.
#pragma once

#include <cstdint>
#include <vector>

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

// Sparse attention (DSA): per batch token, the positions of its sequence it attends to, ascending,
// each <= the token's own position. Token t's list is pos[start[t] .. start[t + 1]).
struct PositionLists {
    std::vector<int64_t> start;  // [T + 1]
    std::vector<int32_t> pos;
};

// Stores the batch's K and V rows (rounded to f16, like llama.cpp's default cache) at each
// token's position of its sequence in layer `il`, then computes for each token and head
// softmax(q·K^T * scale) · V over positions [0, pos] of its sequence.
//   q:   [T][n_head * head_dim_k]   (RoPE already applied)
//   k:   [T][n_head_kv * head_dim_k]
//   v:   [T][n_head_kv * head_dim_v]
//   out: [T][n_head * head_dim_v]
// Like llama.cpp's non-flash path, q and the softmax weights are rounded to f16 for the two
// products and accumulated in f32. With `only`, token t attends to its listed positions instead of
// [0, pos] (the softmax runs over those alone, as under the reference's -inf mask).
void attention(const AttentionOptions& opt, const Batch& batch, int il, KvStore& kv, const float* q,
               const float* k, const float* v, float* out, ThreadPool& pool,
               const PositionLists* only = nullptr);

}  // namespace sobre::model
