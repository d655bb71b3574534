// Key and tensor sets follow llama.cpp's loaders (src/models/<arch>.cpp) and the tiny reference
// fixtures (../shared/fixtures/models/README.md), which carry what the converter writes.
#include "cli/synth_layout.h"

#include <fmt/format.h>

#include <cmath>
#include <string_view>

#include "core/error.h"

namespace sobre::cli::synth {
namespace {

// What an architecture's files carry beyond the keys every one has.
struct ArchKeys {
    std::string_view arch;
    bool routing_keys;         // shared count, dense lead, groups, gating, weights scale/norm
    bool ff_is_expert_width;   // feed_forward_length holds the expert width (llama.cpp sizes experts by it)
    bool post_attention_norm;  // the FFN norm is blk.N.post_attention_norm
    bool nextn_key;            // nextn_predict_layers = 0: no MTP block
    bool vocab_size_key;       // <arch>.vocab_size
};

constexpr ArchKeys kArchKeys[] = {
    // arch         routing ff=exp  post   nextn  vocab
    {"llama", false, false, false, false, false},
    {"qwen2", false, false, false, false, false},
    {"qwen3", false, false, false, false, false},
    {"qwen3moe", false, false, false, false, false},
    {"glm4moe", true, false, true, true, false},
    {"minimax-m2", false, true, false, false, false},
    {"deepseek2", true, false, false, false, true},
};

const ArchKeys& arch_keys(std::string_view arch) {
    for (const ArchKeys& a : kArchKeys) {
        if (a.arch == arch) return a;
    }
    SOBRE_CHECK(false);  // every preset's arch has a row
    return kArchKeys[0];
}

// Initial values: matrices N(0, 1/sqrt(row length)) so every projection keeps unit scale, norm
// weights near 1, biases small.
TensorSpec matrix(std::string name, std::vector<int64_t> shape) {
    const float stddev = 1.0f / std::sqrt(static_cast<float>(shape[0]));
    return {std::move(name), std::move(shape), 0.0f, stddev};
}
TensorSpec norm(std::string name, int64_t n) { return {std::move(name), {n}, 1.0f, 0.1f}; }
TensorSpec bias(std::string name, int64_t n, float stddev) { return {std::move(name), {n}, 0.0f, stddev}; }

class LayerWriter {
   public:
    LayerWriter(const Shape& s, int64_t il, std::vector<TensorSpec>& out)
        : s_(s), prefix_(fmt::format("blk.{}.", il)), il_(il), out_(out) {}

    void write() {
        out_.push_back(norm(t("attn_norm.weight"), s_.n_embd));
        if (s_.is_mla()) {
            mla();
        } else {
            gqa();
        }
        const char* ffn_norm = arch_keys(s_.arch).post_attention_norm ? "post_attention_norm" : "ffn_norm";
        out_.push_back(norm(t(ffn_norm) + ".weight", s_.n_embd));
        if (s_.is_moe_layer(il_)) {
            moe();
        } else {
            ffn("", s_.n_ff);
        }
    }

   private:
    std::string t(std::string_view name) const { return prefix_ + std::string(name); }

    void gqa() {
        const int64_t e = s_.n_embd, q_w = s_.n_head * s_.head_dim, kv_w = s_.n_head_kv * s_.head_dim;
        out_.push_back(matrix(t("attn_q.weight"), {e, q_w}));
        out_.push_back(matrix(t("attn_k.weight"), {e, kv_w}));
        out_.push_back(matrix(t("attn_v.weight"), {e, kv_w}));
        if (s_.qkv_bias) {
            out_.push_back(bias(t("attn_q.bias"), q_w, 0.02f));
            out_.push_back(bias(t("attn_k.bias"), kv_w, 0.02f));
            out_.push_back(bias(t("attn_v.bias"), kv_w, 0.02f));
        }
        if (s_.qk_norm == QkNorm::kPerHead) {
            out_.push_back(norm(t("attn_q_norm.weight"), s_.head_dim));
            out_.push_back(norm(t("attn_k_norm.weight"), s_.head_dim));
        } else if (s_.qk_norm == QkNorm::kFull) {
            out_.push_back(norm(t("attn_q_norm.weight"), q_w));
            out_.push_back(norm(t("attn_k_norm.weight"), kv_w));
        }
        out_.push_back(matrix(t("attn_output.weight"), {q_w, e}));
    }

    // ggml shapes as llama.cpp's deepseek2 loader binds them (split attn_k_b / attn_v_b).
    void mla() {
        const int64_t e = s_.n_embd, rope = s_.n_rot, q_w = s_.n_head * (s_.qk_nope + rope);
        if (s_.q_lora_rank > 0) {
            out_.push_back(matrix(t("attn_q_a.weight"), {e, s_.q_lora_rank}));
            out_.push_back(norm(t("attn_q_a_norm.weight"), s_.q_lora_rank));
            out_.push_back(matrix(t("attn_q_b.weight"), {s_.q_lora_rank, q_w}));
        } else {
            out_.push_back(matrix(t("attn_q.weight"), {e, q_w}));
        }
        out_.push_back(matrix(t("attn_kv_a_mqa.weight"), {e, s_.kv_lora_rank + rope}));
        out_.push_back(norm(t("attn_kv_a_norm.weight"), s_.kv_lora_rank));
        out_.push_back(matrix(t("attn_k_b.weight"), {s_.qk_nope, s_.kv_lora_rank, s_.n_head}));
        out_.push_back(matrix(t("attn_v_b.weight"), {s_.kv_lora_rank, s_.v_head_dim, s_.n_head}));
        out_.push_back(matrix(t("attn_output.weight"), {s_.n_head * s_.v_head_dim, e}));
    }

    void ffn(std::string_view suffix, int64_t width) {
        const std::string sfx(suffix);
        out_.push_back(matrix(t("ffn_gate" + sfx + ".weight"), {s_.n_embd, width}));
        out_.push_back(matrix(t("ffn_up" + sfx + ".weight"), {s_.n_embd, width}));
        out_.push_back(matrix(t("ffn_down" + sfx + ".weight"), {width, s_.n_embd}));
    }

    // The router has the matrix scale, so its logits have unit spread and top-k picks differ
    // from token to token; the selection bias only nudges which experts win.
    void moe() {
        const int64_t e = s_.n_embd, f = s_.n_ff_exp, n = s_.n_expert;
        out_.push_back(matrix(t("ffn_gate_inp.weight"), {e, n}));
        if (s_.probs_bias) out_.push_back(bias(t("exp_probs_b.bias"), n, 0.05f));
        out_.push_back(matrix(t("ffn_gate_exps.weight"), {e, f, n}));
        out_.push_back(matrix(t("ffn_up_exps.weight"), {e, f, n}));
        out_.push_back(matrix(t("ffn_down_exps.weight"), {f, e, n}));
        if (s_.n_expert_shared > 0) ffn("_shexp", f * s_.n_expert_shared);
    }

    const Shape& s_;
    std::string prefix_;
    int64_t il_;
    std::vector<TensorSpec>& out_;
};

uint32_t u32(int64_t v) { return static_cast<uint32_t>(v); }

void add_attention_keys(gguf::Writer& w, const Shape& s, const std::string& p) {
    w.set(p + "attention.head_count", gguf::Value::of_u32(u32(s.n_head)));
    w.set(p + "attention.head_count_kv", gguf::Value::of_u32(u32(s.is_mla() ? 1 : s.n_head_kv)));
    if (s.is_mla()) {
        // The cache view llama.cpp's absorbed MLA uses: K = latent + rope, V = latent.
        w.set(p + "attention.key_length", gguf::Value::of_u32(u32(s.kv_lora_rank + s.n_rot)));
        w.set(p + "attention.value_length", gguf::Value::of_u32(u32(s.kv_lora_rank)));
        w.set(p + "attention.key_length_mla", gguf::Value::of_u32(u32(s.qk_nope + s.n_rot)));
        w.set(p + "attention.value_length_mla", gguf::Value::of_u32(u32(s.v_head_dim)));
        // Written even when 0: llama.cpp only accepts it missing for 26/27-layer files.
        w.set(p + "attention.q_lora_rank", gguf::Value::of_u32(u32(s.q_lora_rank)));
        w.set(p + "attention.kv_lora_rank", gguf::Value::of_u32(u32(s.kv_lora_rank)));
    } else {
        w.set(p + "attention.key_length", gguf::Value::of_u32(u32(s.head_dim)));
        w.set(p + "attention.value_length", gguf::Value::of_u32(u32(s.head_dim)));
    }
    w.set(p + "attention.layer_norm_rms_epsilon", gguf::Value::of_f32(s.rms_eps));
}

void add_rope_keys(gguf::Writer& w, const Shape& s, const std::string& p) {
    w.set(p + "rope.dimension_count", gguf::Value::of_u32(u32(s.rot_dims())));
    w.set(p + "rope.freq_base", gguf::Value::of_f32(s.rope_base));
    if (s.yarn_factor <= 0.0f) return;
    w.set(p + "rope.scaling.type", gguf::Value::of_string("yarn"));
    w.set(p + "rope.scaling.factor", gguf::Value::of_f32(s.yarn_factor));
    w.set(p + "rope.scaling.original_context_length", gguf::Value::of_u32(u32(s.yarn_orig_ctx)));
    w.set(p + "rope.scaling.yarn_beta_fast", gguf::Value::of_f32(s.yarn_beta_fast));
    w.set(p + "rope.scaling.yarn_beta_slow", gguf::Value::of_f32(s.yarn_beta_slow));
    // The converter writes 0.1 * mscale_all_dim (llama.cpp divides by 0.1 again).
    w.set(p + "rope.scaling.yarn_log_multiplier", gguf::Value::of_f32(0.1f * s.yarn_mscale_all_dim));
}

void add_expert_keys(gguf::Writer& w, const Shape& s, const std::string& p) {
    if (!s.is_moe()) return;
    w.set(p + "expert_count", gguf::Value::of_u32(u32(s.n_expert)));
    w.set(p + "expert_used_count", gguf::Value::of_u32(u32(s.n_expert_used)));
    w.set(p + "expert_feed_forward_length", gguf::Value::of_u32(u32(s.n_ff_exp)));
    const uint32_t gating = s.sigmoid_gating ? 2 : 1;  // LLAMA_EXPERT_GATING_FUNC_TYPE_*
    if (!arch_keys(s.arch).routing_keys) {
        if (s.sigmoid_gating) w.set(p + "expert_gating_func", gguf::Value::of_u32(gating));
        return;
    }
    w.set(p + "expert_shared_count", gguf::Value::of_u32(u32(s.n_expert_shared)));
    w.set(p + "leading_dense_block_count", gguf::Value::of_u32(u32(s.n_dense_lead)));
    w.set(p + "expert_group_count", gguf::Value::of_u32(u32(s.n_group)));
    w.set(p + "expert_group_used_count", gguf::Value::of_u32(u32(s.n_group_used)));
    w.set(p + "expert_gating_func", gguf::Value::of_u32(gating));
    if (s.weights_scale != 0.0f) w.set(p + "expert_weights_scale", gguf::Value::of_f32(s.weights_scale));
    if (s.weights_norm) w.set(p + "expert_weights_norm", gguf::Value::of_bool(true));
}

}  // namespace

std::vector<TensorSpec> tensor_layout(const Shape& s) {
    std::vector<TensorSpec> out;
    out.push_back(matrix("token_embd.weight", {s.n_embd, s.vocab}));
    out.push_back(norm("output_norm.weight", s.n_embd));
    if (!s.tied) out.push_back(matrix("output.weight", {s.n_embd, s.vocab}));
    for (int64_t il = 0; il < s.n_layer; ++il) LayerWriter(s, il, out).write();
    return out;
}

void add_model_keys(gguf::Writer& w, const Shape& s) {
    const ArchKeys& a = arch_keys(s.arch);
    const std::string p = std::string(s.arch) + ".";
    w.set(p + "context_length", gguf::Value::of_u32(u32(s.n_ctx)));
    w.set(p + "embedding_length", gguf::Value::of_u32(u32(s.n_embd)));
    w.set(p + "block_count", gguf::Value::of_u32(u32(s.n_layer)));
    w.set(p + "feed_forward_length", gguf::Value::of_u32(u32(a.ff_is_expert_width ? s.n_ff_exp : s.n_ff)));
    add_attention_keys(w, s, p);
    add_rope_keys(w, s, p);
    add_expert_keys(w, s, p);
    if (a.nextn_key) w.set(p + "nextn_predict_layers", gguf::Value::of_u32(0));
    if (a.vocab_size_key) w.set(p + "vocab_size", gguf::Value::of_u32(u32(s.vocab)));
}

gguf::QuantModelFacts quant_facts(const Shape& s) {
    return {std::string(s.arch), static_cast<int>(s.n_layer), static_cast<int>(s.n_expert),
            static_cast<int>(s.n_head), static_cast<int>(s.is_mla() ? 1 : s.n_head_kv)};
}

}  // namespace sobre::cli::synth
