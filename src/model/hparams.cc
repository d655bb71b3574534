#include "model/hparams.h"

#include <fmt/format.h>

#include <cmath>

#include "core/error.h"

namespace sobre::model {

uint32_t KeyReader::u32(std::string_view name) const {
    const std::string k = key(name);
    const gguf::Value* v = file_.find(k);
    if (v && v->type == gguf::ValueType::kArray) {
        fail(ErrorKind::kUnsupported, "{}: key {} holds per-layer values, which are not supported yet",
             file_.path(), k);
    }
    const auto got = file_.get_u32(k);
    if (!got) fail(ErrorKind::kCorrupt, "{}: missing key {}", file_.path(), k);
    return *got;
}

float KeyReader::f32(std::string_view name) const {
    const std::string k = key(name);
    const auto got = file_.get_f32(k);
    if (!got) fail(ErrorKind::kCorrupt, "{}: missing key {}", file_.path(), k);
    if (!std::isfinite(*got)) fail(ErrorKind::kCorrupt, "{}: key {} is not finite ({})", file_.path(), k, *got);
    return *got;
}

float KeyReader::f32(std::string_view name, float fallback) const {
    return has(name) ? f32(name) : fallback;
}

int64_t KeyReader::int_in(std::string_view name, int64_t lo, int64_t hi) const {
    const int64_t v = u32(name);
    check_range(name, v, lo, hi);
    return v;
}

int64_t KeyReader::int_in(std::string_view name, int64_t lo, int64_t hi, int64_t fallback) const {
    const int64_t v = has(name) ? u32(name) : fallback;  // a derived default is checked too
    check_range(name, v, lo, hi);
    return v;
}

std::optional<std::string> KeyReader::str(std::string_view name) const { return file_.get_string(key(name)); }

void KeyReader::check_range(std::string_view name, int64_t v, int64_t lo, int64_t hi) const {
    if (v < lo || v > hi) {
        fail(ErrorKind::kCorrupt, "{}: key {} = {} is out of range [{}, {}]", file_.path(), key(name), v, lo, hi);
    }
}

namespace {

// Limits that no real model approaches; they keep hostile values from sizing huge buffers.
constexpr int64_t kMaxEmbd = 1 << 16;
constexpr int64_t kMaxLayers = 1024;
constexpr int64_t kMaxHeads = 1024;
constexpr int64_t kMaxHeadDim = 4096;
constexpr int64_t kMaxFf = 1 << 20;
constexpr int64_t kMaxCtx = int64_t{1} << 24;

void read_rope(const KeyReader& keys, kernels::RopeStyle style, TransformerHparams& hp) {
    kernels::RopeParams& r = hp.rope;
    r.style = style;
    r.n_dims = static_cast<int>(keys.int_in("rope.dimension_count", 0, hp.head_dim_k, hp.head_dim_k));
    if (r.n_dims % 2 != 0) {
        fail(ErrorKind::kCorrupt, "{}: key {} = {} is odd", keys.file().path(), keys.key("rope.dimension_count"),
             r.n_dims);
    }
    r.freq_base = keys.f32("rope.freq_base", 10000.0f);
    if (r.freq_base <= 0) {
        fail(ErrorKind::kCorrupt, "{}: key {} = {} must be positive", keys.file().path(),
             keys.key("rope.freq_base"), r.freq_base);
    }
    const std::string scaling = keys.str("rope.scaling.type").value_or("none");
    float factor = keys.f32("rope.scaling.factor", keys.f32("rope.scale_linear", 1.0f));
    if (factor <= 0) factor = 1.0f;
    r.n_ctx_orig = static_cast<int>(
        keys.int_in("rope.scaling.original_context_length", 1, kMaxCtx, hp.n_ctx_train));
    r.attn_factor = 1.0f;
    if (scaling == "none") {
        factor = 1.0f;
    } else if (scaling == "yarn") {
        // ref: llama.cpp llama-context.cpp: ext_factor 1, mscale cancelled by attn_factor.
        r.ext_factor = 1.0f;
        const float mscale = factor <= 1.0f ? 1.0f : 0.1f * std::log(factor) + 1.0f;
        r.attn_factor = mscale / (1.0f + 0.1f * std::log(factor)) * keys.f32("rope.scaling.attn_factor", 1.0f);
    } else if (scaling != "linear") {
        fail(ErrorKind::kUnsupported, "{}: {} '{}' is not supported (none, linear, yarn)", keys.file().path(),
             keys.key("rope.scaling.type"), scaling);
    }
    r.freq_scale = 1.0f / factor;
}

}  // namespace

TransformerHparams read_transformer_hparams(const KeyReader& keys, kernels::RopeStyle style) {
    TransformerHparams hp;
    hp.n_ctx_train = keys.int_in("context_length", 1, kMaxCtx);
    hp.n_embd = keys.int_in("embedding_length", 1, kMaxEmbd);
    hp.n_layer = static_cast<int>(keys.int_in("block_count", 1, kMaxLayers));
    hp.n_layer_nextn = static_cast<int>(keys.int_in("nextn_predict_layers", 0, hp.n_layer - 1, 0));
    hp.n_ff = keys.int_in("feed_forward_length", 1, kMaxFf);
    hp.n_head = static_cast<int>(keys.int_in("attention.head_count", 1, kMaxHeads));
    hp.n_head_kv = static_cast<int>(keys.int_in("attention.head_count_kv", 1, hp.n_head, hp.n_head));
    if (hp.n_head % hp.n_head_kv != 0) {
        fail(ErrorKind::kCorrupt, "{}: {} = {} is not a multiple of {} = {}", keys.file().path(),
             keys.key("attention.head_count"), hp.n_head, keys.key("attention.head_count_kv"), hp.n_head_kv);
    }
    const int64_t default_dim = hp.n_embd / hp.n_head;
    hp.head_dim_k = static_cast<int>(keys.int_in("attention.key_length", 1, kMaxHeadDim, default_dim));
    hp.head_dim_v = static_cast<int>(keys.int_in("attention.value_length", 1, kMaxHeadDim, default_dim));
    hp.rms_eps = keys.f32("attention.layer_norm_rms_epsilon");
    if (!(hp.rms_eps > 0)) {
        fail(ErrorKind::kCorrupt, "{}: key {} = {} must be positive", keys.file().path(),
             keys.key("attention.layer_norm_rms_epsilon"), hp.rms_eps);
    }
    read_rope(keys, style, hp);
    return hp;
}

std::vector<std::pair<std::string, std::string>> TransformerHparams::describe() const {
    const char* style = rope.style == kernels::RopeStyle::kNeox ? "neox" : "norm";
    return {
        {"n_ctx_train", fmt::format("{}", n_ctx_train)},
        {"n_embd", fmt::format("{}", n_embd)},
        {"n_layer", fmt::format("{}", n_layer)},
        {"n_layer_nextn", fmt::format("{} (MTP blocks: listed, skipped by the forward)", n_layer_nextn)},
        {"n_ff", fmt::format("{}", n_ff)},
        {"n_head", fmt::format("{}", n_head)},
        {"n_head_kv", fmt::format("{}", n_head_kv)},
        {"head_dim_k", fmt::format("{}", head_dim_k)},
        {"head_dim_v", fmt::format("{}", head_dim_v)},
        {"rms_eps", fmt::format("{}", rms_eps)},
        {"rope", fmt::format("{} n_dims={} base={} freq_scale={}", style, rope.n_dims, rope.freq_base,
                             rope.freq_scale)},
    };
}

}  // namespace sobre::model
