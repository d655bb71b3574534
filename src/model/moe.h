// Mixture-of-Experts FFN: routing exactly as the reference computes it, and experts evaluated
// one at a time over the tokens routed to them, so each expert's weights are read once per batch.
// ref: ../shared/ARCHITECTURES.md §0.7 (llama.cpp build_moe_ffn).
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "core/thread_pool.h"
#include "model/hparams.h"
#include "model/weights.h"

namespace sobre::model {

// GGUF `<arch>.expert_gating_func` values (never renumber).
enum class Gating : uint32_t { kSoftmax = 1, kSigmoid = 2, kSqrtSoftplus = 4 };

struct MoeOptions {
    int n_expert = 0;
    int n_expert_used = 0;       // top-k
    int n_group = 1;             // group-limited routing when > 1 (groups are contiguous expert ranges)
    int n_group_used = 1;        // groups kept
    Gating gating = Gating::kSoftmax;
    bool norm_weights = false;   // renormalise the selected weights to sum 1
    float weights_scale = 0.0f;  // multiply the weights when not 0 or 1 (routed_scaling_factor)
    // When > 1e-6, each expert computes down(silu(min(gate, L)) * clamp(up, -L, L)) with
    // L = swiglu_limit (DeepSeek-V4's swiglu_clamp_exp); 0 = plain SwiGLU.
    float swiglu_limit = 0.0f;
};

// Expert layout and routing keys of an MoE architecture (<arch>.expert_*).
struct MoeHparams {
    MoeOptions opt;
    int64_t n_ff_exp = 0;  // expert_feed_forward_length (fallback: feed_forward_length)
    int n_shared = 0;      // expert_shared_count: shared experts of width n_ff_exp each
    int n_dense_lead = 0;  // leading_dense_block_count: layers before this one use a dense FFN
};

// How an architecture reads the routing keys the reference reads for it.
struct MoeKeyRules {
    Gating default_gating = Gating::kSoftmax;  // when expert_gating_func is absent
    bool norm_forced = false;   // renormalise regardless of expert_weights_norm (qwen3moe, minimax-m2)
    bool reads_scale = false;   // expert_weights_scale is applied (deepseek2, glm4moe)
};

// Reads and validates the MoE keys; n_expert = 0 when the file has no expert_count (dense).
MoeHparams read_moe_hparams(const KeyReader& keys, const TransformerHparams& hp, const MoeKeyRules& rules);

// One line for `inspect`: experts, used, widths, routing rules.
std::string describe_moe(const MoeHparams& mh);

// Per token, the selected experts in selection order and their weights.
struct Routing {
    std::vector<int32_t> experts;  // [n_tokens][n_expert_used]
    std::vector<float> weights;    // [n_tokens][n_expert_used]
};

// Routes n_tokens tokens from their router logits ([n_tokens][n_expert]). `selection_bias`
// (exp_probs_b, may be null) changes which experts are chosen, never their weights. Ties go to
// the lower expert (and group) index.
void route(const MoeOptions& opt, const float* logits, const float* selection_bias, int64_t n_tokens,
           Routing& out);
// Like route(), but token t's experts are given (experts[t * n_expert_used + j], in that order):
// DeepSeek-V4's hash layers pick them by token id. Weights are computed as route() does.
void route_fixed(const MoeOptions& opt, const float* logits, const int32_t* experts, int64_t n_tokens,
                 Routing& out);

struct MoeWeights {
    TensorView gate_inp;   // (n_embd, n_expert) router
    TensorView probs_bias; // optional (n_expert) f32 selection bias
    TensorView gate_exps;  // (n_embd, n_ff_exp, n_expert)
    TensorView up_exps;    // (n_embd, n_ff_exp, n_expert)
    TensorView down_exps;  // (n_ff_exp, n_embd, n_expert)
};

// Binds layer il's router, optional selection bias and expert tensors, with shape errors naming
// the expert keys.
MoeWeights bind_moe(Binder& b, int il, int64_t n_embd, const MoeHparams& mh, bool bias_required);

// What one moe_ffn call read (tests check it against the routing).
struct MoeStats {
    int64_t expert_matmuls = 0;  // matmul calls on expert matrices
    int64_t expert_bytes = 0;    // expert weight bytes those calls read
};

// out[t] = sum over token t's selected experts, in selection order, of
// weight * down_e(silu(gate_e x) * up_e x). x: [n_tokens][n_embd], out: [n_tokens][n_embd].
void moe_ffn(const MoeOptions& opt, const MoeWeights& w, const float* x, int64_t n_tokens, float* out,
             ThreadPool& pool, MoeStats* stats = nullptr);

// The expert half of moe_ffn for a routing the caller made (DeepSeek-V4's hash layers route by
// token id); w.gate_inp is not read. REQUIRES: r holds n_tokens * opt.n_expert_used entries.
void moe_experts(const MoeOptions& opt, const MoeWeights& w, const Routing& r, const float* x, int64_t n_tokens,
                 float* out, ThreadPool& pool, MoeStats* stats = nullptr);

// In place: gate = min(gate, limit), up = clamp(up, -limit, limit), the SwiGLU input clamps of
// DeepSeek-V4 (no-op when limit <= 1e-6, as the reference).
void clamp_swiglu_inputs(float* gate, float* up, int64_t n, float limit);

}  // namespace sobre::model
