#include "cli/synth_presets.h"

#include <fmt/format.h>

#include <charconv>

#include "core/error.h"

namespace sobre::cli::synth {
namespace {

// Shapes from each model's published config.json on Hugging Face (the repository is named in
// the comment; the field names there are in parentheses where they differ from ours). `tiny` is
// ours: the bundled default model.
constexpr Shape kPresets[] = {
    {.name = "tiny", .arch = "llama", .vocab = 512, .n_embd = 128, .n_ff = 384, .n_layer = 2, .n_head = 4,
     .n_head_kv = 2, .head_dim = 32, .n_ctx = 2048, .rope_base = 10000.0f, .rms_eps = 1e-5f},
    // meta-llama/Llama-3.2-1B
    {.name = "llama3-1b", .arch = "llama", .vocab = 128256, .n_embd = 2048, .n_ff = 8192, .n_layer = 16,
     .n_head = 32, .n_head_kv = 8, .head_dim = 64, .n_ctx = 131072, .rope_base = 500000.0f, .rms_eps = 1e-5f},
    // Qwen/Qwen2.5-0.5B
    {.name = "qwen2.5-0.5b", .arch = "qwen2", .vocab = 151936, .n_embd = 896, .n_ff = 4864, .n_layer = 24,
     .n_head = 14, .n_head_kv = 2, .head_dim = 64, .n_ctx = 32768, .rope_base = 1000000.0f, .rms_eps = 1e-6f,
     .qkv_bias = true},
    // Qwen/Qwen3-0.6B
    {.name = "qwen3-0.6b", .arch = "qwen3", .vocab = 151936, .n_embd = 1024, .n_ff = 3072, .n_layer = 28,
     .n_head = 16, .n_head_kv = 8, .head_dim = 128, .n_ctx = 40960, .rope_base = 1000000.0f, .rms_eps = 1e-6f,
     .qk_norm = QkNorm::kPerHead},
    // Qwen/Qwen3-4B
    {.name = "qwen3-4b", .arch = "qwen3", .vocab = 151936, .n_embd = 2560, .n_ff = 9728, .n_layer = 36,
     .n_head = 32, .n_head_kv = 8, .head_dim = 128, .n_ctx = 40960, .rope_base = 1000000.0f, .rms_eps = 1e-6f,
     .qk_norm = QkNorm::kPerHead},
    // Qwen/Qwen3-30B-A3B: num_experts 128, num_experts_per_tok 8, moe_intermediate_size 768,
    // norm_topk_prob true (llama.cpp always renormalises for qwen3moe, no key is written).
    {.name = "qwen3-30b-a3b", .arch = "qwen3moe", .vocab = 151936, .n_embd = 2048, .n_ff = 6144, .n_layer = 48,
     .n_head = 32, .n_head_kv = 4, .head_dim = 128, .n_ctx = 40960, .rope_base = 1000000.0f, .rms_eps = 1e-6f,
     .qk_norm = QkNorm::kPerHead, .n_expert = 128, .n_expert_used = 8, .n_ff_exp = 768, .weights_norm = true},
    // deepseek-ai/DeepSeek-V2-Lite: n_routed_experts 64, num_experts_per_tok 6, n_shared_experts 2,
    // moe_intermediate_size 1408, first_k_dense_replace 1, q_lora_rank null, kv_lora_rank 512,
    // qk_nope/rope_head_dim 128/64, v_head_dim 128, scoring softmax, norm_topk_prob false,
    // routed_scaling_factor 1.0, rope_scaling yarn factor 40 (4096, beta 32/1, mscale_all_dim 0.707).
    {.name = "deepseek-v2-lite", .arch = "deepseek2", .vocab = 102400, .n_embd = 2048, .n_ff = 10944,
     .n_layer = 27, .n_head = 16, .n_head_kv = 1, .n_rot = 64, .n_ctx = 163840, .rope_base = 10000.0f,
     .rms_eps = 1e-6f, .n_expert = 64, .n_expert_used = 6, .n_ff_exp = 1408, .n_expert_shared = 2,
     .n_dense_lead = 1, .weights_scale = 1.0f, .kv_lora_rank = 512, .qk_nope = 128, .v_head_dim = 128,
     .yarn_factor = 40.0f, .yarn_orig_ctx = 4096, .yarn_mscale_all_dim = 0.707f},
    // deepseek-ai/DeepSeek-V3: n_routed_experts 256, num_experts_per_tok 8, n_shared_experts 1,
    // moe_intermediate_size 2048, first_k_dense_replace 3, n_group 8, topk_group 4, scoring sigmoid
    // with e_score_correction_bias, norm_topk_prob true, routed_scaling_factor 2.5, q_lora_rank 1536,
    // kv_lora_rank 512, rope_scaling yarn factor 40 (4096, beta 32/1, mscale_all_dim 1.0).
    {.name = "deepseek-v3", .arch = "deepseek2", .vocab = 129280, .n_embd = 7168, .n_ff = 18432, .n_layer = 61,
     .n_head = 128, .n_head_kv = 1, .n_rot = 64, .n_ctx = 163840, .rope_base = 10000.0f, .rms_eps = 1e-6f,
     .n_expert = 256, .n_expert_used = 8, .n_ff_exp = 2048, .n_expert_shared = 1, .n_dense_lead = 3,
     .n_group = 8, .n_group_used = 4, .sigmoid_gating = true, .weights_norm = true, .weights_scale = 2.5f,
     .probs_bias = true, .q_lora_rank = 1536, .kv_lora_rank = 512, .qk_nope = 128, .v_head_dim = 128,
     .yarn_factor = 40.0f, .yarn_orig_ctx = 4096},
    // moonshotai/Kimi-K2-Instruct (DeepseekV3ForCausalLM): 384 experts, 64 heads, first_k_dense_replace 1,
    // n_group 1, routed_scaling_factor 2.827, rope_theta 50000, vocab 163840, rope_scaling yarn
    // factor 32 (4096, beta 1/1, mscale_all_dim 1.0), max_position_embeddings 131072.
    {.name = "kimi-k2", .arch = "deepseek2", .vocab = 163840, .n_embd = 7168, .n_ff = 18432, .n_layer = 61,
     .n_head = 64, .n_head_kv = 1, .n_rot = 64, .n_ctx = 131072, .rope_base = 50000.0f, .rms_eps = 1e-6f,
     .n_expert = 384, .n_expert_used = 8, .n_ff_exp = 2048, .n_expert_shared = 1, .n_dense_lead = 1,
     .sigmoid_gating = true, .weights_norm = true, .weights_scale = 2.827f, .probs_bias = true,
     .q_lora_rank = 1536, .kv_lora_rank = 512, .qk_nope = 128, .v_head_dim = 128, .yarn_factor = 32.0f,
     .yarn_orig_ctx = 4096, .yarn_beta_fast = 1.0f},
    // zai-org/GLM-4.5-Air: 96 heads / 8 KV heads of 128, partial_rotary_factor 0.5, attention_bias true,
    // use_qk_norm false, 128 experts (8 used, 1 shared, moe_intermediate_size 1408), first_k_dense_replace
    // 1, sigmoid router with e_score_correction_bias, norm_topk_prob true, routed_scaling_factor 1.0.
    // Its one MTP (nextn) layer is left out: nextn_predict_layers = 0.
    {.name = "glm-4.5-air", .arch = "glm4moe", .vocab = 151552, .n_embd = 4096, .n_ff = 10944, .n_layer = 46,
     .n_head = 96, .n_head_kv = 8, .head_dim = 128, .n_rot = 64, .n_ctx = 131072, .rope_base = 1000000.0f,
     .rms_eps = 1e-5f, .qkv_bias = true, .n_expert = 128, .n_expert_used = 8, .n_ff_exp = 1408,
     .n_expert_shared = 1, .n_dense_lead = 1, .sigmoid_gating = true, .weights_norm = true,
     .weights_scale = 1.0f, .probs_bias = true},
    // MiniMaxAI/MiniMax-M2: 48 heads / 8 KV heads of 128, rotary_dim 64, use_qk_norm over the whole
    // projection, num_local_experts 256, num_experts_per_tok 8, intermediate_size 1536 (per expert),
    // scoring sigmoid with routing bias, no shared expert, rope_theta 5e6.
    {.name = "minimax-m2", .arch = "minimax-m2", .vocab = 200064, .n_embd = 3072, .n_ff = 1536, .n_layer = 62,
     .n_head = 48, .n_head_kv = 8, .head_dim = 128, .n_rot = 64, .n_ctx = 196608, .rope_base = 5000000.0f,
     .rms_eps = 1e-6f, .qk_norm = QkNorm::kFull, .n_expert = 256, .n_expert_used = 8, .n_ff_exp = 1536,
     .sigmoid_gating = true, .weights_norm = true, .probs_bias = true},
};

// Which models a `--set` key applies to.
enum class Applies : uint8_t { kAll, kGqa, kMoe, kMla };

struct SetKey {
    std::string_view key;
    int64_t Shape::*field;
    Applies applies;
    int64_t lo, hi;
    std::string_view what;
};

constexpr int64_t kMaxWidth = int64_t{1} << 20;

constexpr SetKey kSetKeys[] = {
    {"vocab", &Shape::vocab, Applies::kAll, 262, int64_t{1} << 24, "vocabulary size (>= 262: specials + 256 bytes)"},
    {"n_embd", &Shape::n_embd, Applies::kAll, 32, 1 << 16, "embedding width"},
    {"n_ff", &Shape::n_ff, Applies::kAll, 1, kMaxWidth, "dense FFN width"},
    {"n_head", &Shape::n_head, Applies::kAll, 1, 1024, "attention heads"},
    {"n_head_kv", &Shape::n_head_kv, Applies::kGqa, 1, 1024, "key/value heads"},
    {"head_dim", &Shape::head_dim, Applies::kGqa, 2, 4096, "width of one attention head"},
    {"n_rot", &Shape::n_rot, Applies::kAll, 0, 4096, "rotary dims (0: head_dim; MLA: qk_rope_head_dim)"},
    {"n_ctx", &Shape::n_ctx, Applies::kAll, 1, int64_t{1} << 24, "training context length (metadata)"},
    {"tied", &Shape::tied, Applies::kAll, 0, 1, "1: no output.weight, the embedding is the output head"},
    {"n_expert", &Shape::n_expert, Applies::kMoe, 1, 4096, "routed experts"},
    {"n_expert_used", &Shape::n_expert_used, Applies::kMoe, 1, 4096, "experts per token"},
    {"n_ff_exp", &Shape::n_ff_exp, Applies::kMoe, 1, kMaxWidth, "width of one expert"},
    {"n_expert_shared", &Shape::n_expert_shared, Applies::kMoe, 0, 256, "shared experts"},
    {"n_dense_lead", &Shape::n_dense_lead, Applies::kMoe, 0, 1024, "leading layers with a dense FFN"},
    {"n_group", &Shape::n_group, Applies::kMoe, 1, 4096, "expert groups"},
    {"n_group_used", &Shape::n_group_used, Applies::kMoe, 1, 4096, "expert groups kept per token"},
    {"q_lora_rank", &Shape::q_lora_rank, Applies::kMla, 0, 1 << 16, "MLA query LoRA rank (0: plain attn_q)"},
    {"kv_lora_rank", &Shape::kv_lora_rank, Applies::kMla, 1, 1 << 16, "MLA latent width"},
    {"qk_nope", &Shape::qk_nope, Applies::kMla, 1, 4096, "MLA per-head q/k dims without RoPE"},
    {"v_head_dim", &Shape::v_head_dim, Applies::kMla, 1, 4096, "MLA per-head value dims"},
};

bool applies(const Shape& s, Applies a) {
    switch (a) {
        case Applies::kAll: return true;
        case Applies::kGqa: return !s.is_mla();
        case Applies::kMoe: return s.is_moe();
        case Applies::kMla: return s.is_mla();
    }
    return false;
}

std::string_view applies_name(Applies a) {
    switch (a) {
        case Applies::kAll: return "every model";
        case Applies::kGqa: return "models without MLA";
        case Applies::kMoe: return "mixture-of-experts models";
        case Applies::kMla: return "MLA (deepseek2) models";
    }
    return "";
}

const SetKey& find_set_key(std::string_view key) {
    for (const SetKey& k : kSetKeys) {
        if (k.key == key) return k;
    }
    std::string keys;
    for (const SetKey& k : kSetKeys) keys += (keys.empty() ? "" : ", ") + std::string(k.key);
    fail(ErrorKind::kInvalidArgument, "--set: unknown key '{}' (known: {})", key, keys);
}

[[noreturn]] void bad_shape(const Shape& s, const std::string& why) {
    fail(ErrorKind::kInvalidArgument, "{}: {}", s.name, why);
}

void check_attention(const Shape& s) {
    if (s.is_mla()) {
        if (s.n_rot < 2 || s.n_rot % 2 != 0) bad_shape(s, fmt::format("n_rot = {} must be even and >= 2", s.n_rot));
        return;
    }
    if (s.n_head % s.n_head_kv != 0) {
        bad_shape(s, fmt::format("n_head = {} is not a multiple of n_head_kv = {}", s.n_head, s.n_head_kv));
    }
    if (s.rot_dims() > s.head_dim || s.rot_dims() % 2 != 0) {
        bad_shape(s, fmt::format("n_rot = {} must be even and at most head_dim = {}", s.rot_dims(), s.head_dim));
    }
}

void check_experts(const Shape& s) {
    if (!s.is_moe()) return;
    if (s.n_expert_used > s.n_expert) {
        bad_shape(s, fmt::format("n_expert_used = {} exceeds n_expert = {}", s.n_expert_used, s.n_expert));
    }
    if (s.n_expert % s.n_group != 0 || s.n_group_used > s.n_group) {
        bad_shape(s, fmt::format("n_group = {} must divide n_expert = {} and be >= n_group_used = {}", s.n_group,
                                 s.n_expert, s.n_group_used));
    }
    if (s.n_group_used * (s.n_expert / s.n_group) < s.n_expert_used) {
        bad_shape(s, fmt::format("n_group_used = {} groups of {} experts cannot hold n_expert_used = {}",
                                 s.n_group_used, s.n_expert / s.n_group, s.n_expert_used));
    }
    if (s.n_dense_lead >= s.n_layer) {
        bad_shape(s, fmt::format("n_dense_lead = {} leaves no MoE layer among {} layers", s.n_dense_lead, s.n_layer));
    }
}

}  // namespace

const Shape& find_preset(std::string_view name) {
    for (const Shape& p : kPresets) {
        if (name == p.name) return p;
    }
    fail(ErrorKind::kInvalidArgument, "--preset '{}' is unknown (known: {})", name, preset_names());
}

std::string preset_names() {
    std::string names;
    for (const Shape& p : kPresets) names += (names.empty() ? "" : ", ") + std::string(p.name);
    return names;
}

void cut_layers(Shape& s, int64_t n) {
    s.n_layer = n;
    if (s.is_moe() && s.n_dense_lead >= n) s.n_dense_lead = n - 1;
}

void apply_set(Shape& s, std::string_view key_value) {
    const size_t eq = key_value.find('=');
    if (eq == std::string_view::npos) {
        fail(ErrorKind::kInvalidArgument, "--set '{}' is not key=value", key_value);
    }
    const SetKey& k = find_set_key(key_value.substr(0, eq));
    if (!applies(s, k.applies)) {
        fail(ErrorKind::kInvalidArgument, "--set {}: applies to {} only, and {} ({}) is not one", k.key,
             applies_name(k.applies), s.name, s.arch);
    }
    const std::string_view text = key_value.substr(eq + 1);
    int64_t v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || v < k.lo || v > k.hi) {
        fail(ErrorKind::kInvalidArgument, "--set {}={}: must be an integer in [{}, {}]", k.key, text, k.lo, k.hi);
    }
    s.*k.field = v;
}

std::string set_key_help() {
    std::string out;
    for (const SetKey& k : kSetKeys) out += fmt::format("\n  {:<16}{} ({})", k.key, k.what, applies_name(k.applies));
    return out;
}

void check_shape(const Shape& s) {
    check_attention(s);
    check_experts(s);
}

}  // namespace sobre::cli::synth
