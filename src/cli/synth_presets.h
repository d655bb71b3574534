// The model shapes `sobre synth` writes: presets taken from the models' published configs,
// `--set key=value` overrides and `--layers N` cuts, checked before anything is written.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sobre::cli::synth {

// How q and k are normalised before RoPE.
enum class QkNorm : uint8_t {
    kNone,
    kPerHead,  // one RMSNorm weight of head_dim shared by every head (qwen3, qwen3moe)
    kFull,     // RMSNorm over the whole q / k projection (minimax-m2)
};

// One model's shape. Every integer is int64_t so that `--set` can reach each through one table.
struct Shape {
    std::string_view name;  // preset name
    std::string_view arch;  // general.architecture
    int64_t vocab = 0;      // tokens
    int64_t n_embd = 0;
    int64_t n_ff = 0;        // dense FFN width (the leading dense layers of an MoE model)
    int64_t n_layer = 0;
    int64_t n_head = 0;
    int64_t n_head_kv = 0;   // GQA; MLA models have 1
    int64_t head_dim = 0;    // GQA head width (MLA: see the MLA fields)
    int64_t n_rot = 0;       // rotary dims: 0 = head_dim; partial RoPE below it; MLA: qk_rope_head_dim
    int64_t n_ctx = 0;       // context_length (metadata only)
    float rope_base = 10000.0f;
    float rms_eps = 1e-6f;
    bool qkv_bias = false;   // q/k/v projections have biases (qwen2, glm4moe)
    QkNorm qk_norm = QkNorm::kNone;
    int64_t tied = 0;        // 1: no output.weight, token_embd doubles as the output head

    // Mixture of experts; n_expert = 0 is a dense model.
    int64_t n_expert = 0;
    int64_t n_expert_used = 0;
    int64_t n_ff_exp = 0;         // width of each routed (and each shared) expert
    int64_t n_expert_shared = 0;  // shared experts, run for every token
    int64_t n_dense_lead = 0;     // leading layers with a dense FFN (first_k_dense_replace)
    int64_t n_group = 1;          // expert groups (group-limited routing when > 1)
    int64_t n_group_used = 1;     // groups kept per token
    bool sigmoid_gating = false;  // sigmoid router scores (else softmax)
    bool weights_norm = false;    // renormalise the selected weights (norm_topk_prob)
    float weights_scale = 0.0f;   // routed_scaling_factor (0: not written)
    bool probs_bias = false;      // per-expert selection bias exp_probs_b (e_score_correction_bias)

    // DeepSeek multi-head latent attention; kv_lora_rank = 0 is plain GQA.
    int64_t q_lora_rank = 0;  // 0: attn_q straight from the embedding (DeepSeek-V2-Lite)
    int64_t kv_lora_rank = 0;
    int64_t qk_nope = 0;      // per-head q/k dims without RoPE (qk_rope is n_rot)
    int64_t v_head_dim = 0;

    // YaRN context extension; yarn_factor = 0 is none.
    float yarn_factor = 0.0f;
    int64_t yarn_orig_ctx = 0;
    float yarn_beta_fast = 32.0f;
    float yarn_beta_slow = 1.0f;
    float yarn_mscale_all_dim = 1.0f;

    bool is_moe() const { return n_expert > 0; }
    bool is_mla() const { return kv_lora_rank > 0; }
    int64_t rot_dims() const { return n_rot > 0 ? n_rot : head_dim; }
    bool is_moe_layer(int64_t il) const { return is_moe() && il >= n_dense_lead; }
};

// The preset named `name`. Throws Error(kInvalidArgument) listing the known names.
const Shape& find_preset(std::string_view name);
// "tiny, llama3-1b, ..." for help texts.
std::string preset_names();

// Keeps the first n layers. Leading dense layers are clipped so that at least one MoE layer
// remains (a cut of DeepSeek-V3 to 2 layers has 1 dense + 1 MoE layer).
void cut_layers(Shape& s, int64_t n);
// Applies one `--set key=value`. Throws Error(kInvalidArgument) on an unknown key, a value that
// is not an integer in the key's range, or a key that does not apply to the preset's
// architecture (MoE keys on a dense model, MLA keys on GQA).
void apply_set(Shape& s, std::string_view key_value);
// "vocab, n_embd, ..." with one line each, for help texts.
std::string set_key_help();
// Checks that the shape is consistent (heads divide, experts fit their groups, rotary dims fit
// the head, ...). Throws Error(kInvalidArgument) naming the keys.
void check_shape(const Shape& s);

}  // namespace sobre::cli::synth
