// DeepSeek sparse attention (DSA, DeepSeek-V3.2 and GLM-5): the lightning indexer scores every
// visible position of a query's sequence from a small f16 key cache and keeps the top-k; the main
// MLA attention then reads only those positions (mask = selected AND causal).
// ref: ../shared/ARCHITECTURES.md §7 (llama.cpp src/models/deepseek32.cpp, glm-dsa.cpp,
// src/llama-kv-cache-dsa.cpp, ggml-cpu lightning-indexer op).
#pragma once

#include <cstdint>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/cpu/ops.h"
#include "model/attention.h"
#include "model/batch.h"
#include "model/hparams.h"
#include "model/weights.h"

namespace sobre::model {

struct IndexerHparams {
    int n_head = 0;    // attention.indexer.head_count (H_I)
    int head_dim = 0;  // attention.indexer.key_length (d_I); a power of two (Hadamard rotation)
    int top_k = 0;     // attention.indexer.top_k (K): positions each query keeps, >= 1
    float k_norm_eps =
        0;  // LayerNorm eps of the key (1e-6 deepseek32, 0 glm-dsa: the reference's values)
    // The main attention's RoPE (position, base, YaRN, attn_factor) with the indexer's own pairing,
    // applied to the FIRST n_dims dims of each indexer head (the main MLA rotates its last dims).
    kernels::RopeParams rope;
    int64_t cache_offset = 0;  // where the key starts in a layer's K row (after the MLA latent)
};

// Reads the indexer keys. `rope` is the main attention's (final) RoPE, `style` the indexer's
// pairing. Throws Error naming the key for a top_k of 0, a key length that is not a power of two
// or shorter than the rotated dims, and absurd head counts.
IndexerHparams read_indexer_hparams(const KeyReader& keys, const kernels::RopeParams& rope,
                                    kernels::RopeStyle style, float k_norm_eps,
                                    int64_t cache_offset);

struct IndexerWeights {
    TensorView wq_b;      // (q_lora_rank, n_head * head_dim): queries from the normed q latent
    TensorView wk;        // (n_embd, head_dim): the single key head, shared by all indexer heads
    TensorView k_norm;    // f32 (head_dim): LayerNorm weight of the key
    TensorView k_norm_b;  // f32 (head_dim): LayerNorm bias of the key
    TensorView proj;      // (n_embd, n_head): per-head weights of the score
};

IndexerWeights bind_indexer(Binder& b, const IndexerHparams& ip, int64_t n_embd,
                            int64_t q_lora_rank, int il);

// Computes the batch's indexer keys and stores them (f16, like the reference's cache) at
// `ip.cache_offset` of each token's K row of layer il, then for every token t of the batch:
//   score[s] = sum_h w[t,h] * max(0, q[t,h] . k[s]),  s in [0, pos_t] of t's sequence,
// and writes to `out` the min(pos_t + 1, top_k) best positions, ascending.
//   cur:      [T][n_embd]       the attention input (normed), source of the keys and head weights
//   q_latent: [T][q_lora_rank]  mla_q_latent() of cur, source of the queries
void indexer_select(const IndexerHparams& ip, const IndexerWeights& w, int il, const Batch& batch,
                    KvStore& kv, ThreadPool& pool, const float* cur, const float* q_latent,
                    PositionLists& out);

// In place x = H x / sqrt(n) with the Sylvester-ordered Hadamard matrix
// H[i][j] = (-1)^popcount(i & j). REQUIRES: n is a power of two.
void hadamard_transform(float* x, int n);

// In place y = (x - mean) / sqrt(var + eps) * w + b over n values (w, b may be null).
void layer_norm(float* x, const float* w, const float* b, int64_t n, float eps);

// Indices of the k largest of v[0, n), ascending by index; ties go to the lower index.
// Every index when k >= n.
std::vector<int32_t> top_k_ascending(const float* v, int64_t n, int64_t k);

}  // namespace sobre::model
