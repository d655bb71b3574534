// Grouped-query attention block: projections (+ optional biases), optional QK-norm, RoPE on the
// first n_rot dims, causal attention over the KV cache, output projection.
#pragma once

#include "core/thread_pool.h"
#include "model/batch.h"
#include "model/hparams.h"
#include "model/weights.h"

namespace sobre::model {

enum class QkNorm : uint8_t {
    kNone,
    kPerHead,      // RMSNorm over each head's head_dim (qwen3, glm4moe): attn_q_norm is (head_dim)
    kPerHeadMaybe, // kPerHead when the file has attn_q_norm / attn_k_norm (glm4moe: some sizes only)
    kFull,         // RMSNorm over all heads together (minimax-m2): attn_q_norm is (n_head * head_dim)
};

struct GqaWeights {
    TensorView wq;          // (n_embd, n_head * head_dim_k)
    TensorView wk;          // (n_embd, n_head_kv * head_dim_k)
    TensorView wv;          // (n_embd, n_head_kv * head_dim_v)
    TensorView bq, bk, bv;  // optional f32 biases of the widths above
    TensorView q_norm;      // f32 (head_dim_k) or (n_head * head_dim_k), see QkNorm
    TensorView k_norm;      // f32 (head_dim_k) or (n_head_kv * head_dim_k)
    TensorView wo;          // (n_head * head_dim_v, n_embd)
    TensorView bo;          // optional f32 (n_embd)
    QkNorm qk_norm = QkNorm::kNone;  // resolved (never kPerHeadMaybe after binding)
};

GqaWeights bind_gqa(Binder& b, const TransformerHparams& hp, int il, QkNorm qk_norm);

// out = attention block of layer il for the batch; cur is the normed input [T][n_embd].
void gqa_attention(const TransformerHparams& hp, const GqaWeights& w, int il, const Batch& batch, KvStore& kv,
                   ThreadPool& pool, const float* cur, float* out);

// x[t] += bias for every token (no-op for an empty bias).
void add_bias(float* x, const TensorView& bias, int64_t n_tokens, int64_t width);

}  // namespace sobre::model
