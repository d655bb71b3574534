// DeepSeek multi-head latent attention, absorbed form: the KV cache keeps per token and layer
// only the compressed latent c_kv (kv_lora_rank) and the roped key k_pe (n_rot), and the per-head
// up-projections k_b / v_b are folded into the query and the output.
// ref: ../shared/ARCHITECTURES.md §6.3 (llama.cpp src/models/deepseek2.cpp, MLA absorbed path).
#pragma once

#include <vector>

#include "core/thread_pool.h"
#include "model/attention.h"
#include "model/batch.h"
#include "model/hparams.h"
#include "model/weights.h"

namespace sobre::model {

struct MlaHparams {
    int n_head = 0;
    int q_lora_rank = 0;   // 0: q comes straight from attn_q (DeepSeek-V2-Lite)
    int kv_lora_rank = 0;  // latent width
    int qk_nope = 0;       // per-head query/key dims without RoPE (key_length_mla - n_rot)
    int qk_rope = 0;       // per-head RoPE dims (rope.dimension_count), shared by all heads for K
    int v_head_dim = 0;    // value_length_mla
    float kq_scale = 0;    // mscale^2 / sqrt(qk_nope + qk_rope)
    float rms_eps = 0;
    kernels::RopeParams rope;

    int64_t cache_width() const { return kv_lora_rank + qk_rope; }  // f16 values per token and layer
};

// Reads the MLA keys on top of the generic ones and checks they agree with each other.
MlaHparams read_mla_hparams(const KeyReader& keys, const TransformerHparams& hp);

struct MlaWeights {
    TensorView wq;           // (n_embd, n_head * (qk_nope + qk_rope)) when q_lora_rank == 0
    TensorView wq_a;         // (n_embd, q_lora_rank)
    TensorView q_a_norm;     // f32 (q_lora_rank)
    TensorView wq_b;         // (q_lora_rank, n_head * (qk_nope + qk_rope))
    TensorView wkv_a;        // (n_embd, kv_lora_rank + qk_rope): [c_kv | k_pe]
    TensorView kv_a_norm;    // f32 (kv_lora_rank)
    TensorView wk_b;         // (qk_nope, kv_lora_rank, n_head): per head W_UK transposed
    TensorView wv_b;         // (kv_lora_rank, v_head_dim, n_head): per head W_UV
    TensorView wo;           // (n_head * v_head_dim, n_embd)
};

MlaWeights bind_mla(Binder& b, const MlaHparams& mp, int64_t n_embd, int il);

// The normed q latent RMSNorm(attn_q_a · cur) · attn_q_a_norm, [T][q_lora_rank] (DeepSeek's
// sparse-attention indexer reads it too). REQUIRES: mp.q_lora_rank > 0.
std::vector<float> mla_q_latent(const MlaHparams& mp, const MlaWeights& w, const float* cur, int64_t n,
                                ThreadPool& pool);

// What a caller may add to one MLA call (both optional).
struct MlaCallOptions {
    const float* q_latent = nullptr;           // mla_q_latent() of `cur`, when the caller has it
    const PositionLists* positions = nullptr;  // sparse attention: per token, the positions read
};

// out = MLA attention block of layer il for the batch; cur is the normed input [T][n_embd].
void mla_attention(const MlaHparams& mp, const MlaWeights& w, int il, const Batch& batch, KvStore& kv,
                   ThreadPool& pool, const float* cur, float* out, const MlaCallOptions& call = {});

}  // namespace sobre::model
