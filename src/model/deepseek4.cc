// DeepSeek-V4 (deepseek4): four hyper-connection residual streams mixed around every sub-block,
// compressed sparse attention (dsv4_attention.cc) and an MoE whose first layers route by token
// id, with sqrt-softplus gating and clamped SwiGLU experts plus a shared expert.
// ref: ../shared/ARCHITECTURES.md §8 (llama.cpp src/models/deepseek4.cpp).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/ops.h"
#include "model/dsv4_attention.h"
#include "model/families.h"
#include "model/ffn.h"
#include "model/hparams.h"
#include "model/hyper_connections.h"
#include "model/moe.h"
#include "model/weights.h"

namespace sobre::model {
namespace {

constexpr int kStreams = 4;  // hyper_connection.count: the only value the reference supports
constexpr int kMix = 2 * kStreams + kStreams * kStreams;  // pre, post and the 4 x 4 mixing matrix

struct Dsv4Hparams {
    TransformerHparams base;  // n_ff is the expert width; rope is P_raw (for `inspect`)
    Dsv4AttnHparams attn;
    std::vector<int> ratios;  // attention.compress_ratios per layer: 0, 4 or 128
    int sinkhorn_iters = 0;   // hyper_connection.sinkhorn_iterations
    float hc_eps = 0;         // hyper_connection.epsilon
    MoeHparams moe;
    int n_hash_layers = 0;           // hash_layer_count: layers il < this route by token id
    std::vector<float> clamp_exp;    // swiglu_clamp_exp per layer (routed experts)
    std::vector<float> clamp_shexp;  // swiglu_clamp_shexp per layer (shared expert)
};

// A per-layer array key, or a scalar meaning the same value for every layer.
std::vector<double> per_layer(const KeyReader& keys, std::string_view name, int n_layer) {
    const gguf::Value* v = keys.file().find(keys.key(name));
    if (!v) fail(ErrorKind::kCorrupt, "{}: missing key {}", keys.file().path(), keys.key(name));
    if (v->type != gguf::ValueType::kArray) {
        if (!v->is_integer() && !v->is_float()) {
            fail(ErrorKind::kCorrupt, "{}: key {} must be a number or one per layer, got {}",
                 keys.file().path(), keys.key(name), v->to_string());
        }
        return std::vector<double>(static_cast<size_t>(n_layer), v->as_double());
    }
    const gguf::ValueType et = v->elem_type;
    if (et == gguf::ValueType::kString || et == gguf::ValueType::kArray ||
        v->size() < static_cast<size_t>(n_layer)) {
        fail(ErrorKind::kCorrupt, "{}: key {} must hold a number per layer ({} layers), got {}",
             keys.file().path(), keys.key(name), n_layer, v->to_string());
    }
    std::vector<double> out;
    for (int il = 0; il < n_layer; ++il) out.push_back(v->at(static_cast<size_t>(il)).as_double());
    return out;
}

// The generic keys (ARCHITECTURES.md §0.2) as deepseek4 has them: no feed_forward_length, one
// K = V head, and two RoPE parameter sets (§8.3).
void read_base(const KeyReader& keys, Dsv4Hparams& hp) {
    const std::string& path = keys.file().path();
    TransformerHparams& b = hp.base;
    b.n_ctx_train = keys.int_in("context_length", 1, int64_t{1} << 24);
    b.n_embd = keys.int_in("embedding_length", 1, 1 << 16);
    b.n_layer = static_cast<int>(keys.int_in("block_count", 1, 1024));
    b.n_layer_nextn = static_cast<int>(keys.int_in("nextn_predict_layers", 0, b.n_layer - 1, 0));
    b.n_head = static_cast<int>(keys.int_in("attention.head_count", 1, 1024));
    b.n_head_kv = static_cast<int>(keys.int_in("attention.head_count_kv", 1, 1024, b.n_head));
    if (b.n_head_kv != 1) {
        fail(ErrorKind::kCorrupt, "{}: key {} = {}, but deepseek4 has one K = V head", path,
             keys.key("attention.head_count_kv"), b.n_head_kv);
    }
    b.head_dim_k = static_cast<int>(keys.int_in("attention.key_length", 2, 4096));
    b.head_dim_v = static_cast<int>(keys.int_in("attention.value_length", 2, 4096));
    if (b.head_dim_v != b.head_dim_k) {
        fail(ErrorKind::kCorrupt, "{}: {} = {} differs from {} = {} (K and V are one head)", path,
             keys.key("attention.value_length"), b.head_dim_v, keys.key("attention.key_length"),
             b.head_dim_k);
    }
    b.rms_eps = keys.f32("attention.layer_norm_rms_epsilon");
    if (!(b.rms_eps > 0)) {
        fail(ErrorKind::kCorrupt, "{}: key {} must be positive", path,
             keys.key("attention.layer_norm_rms_epsilon"));
    }
    kernels::RopeParams& raw = b.rope;
    raw.style = kernels::RopeStyle::kNorm;
    raw.n_dims = static_cast<int>(keys.int_in("rope.dimension_count", 2, b.head_dim_k));
    if (raw.n_dims % 2 != 0) {
        fail(ErrorKind::kCorrupt, "{}: key {} = {} is odd", path, keys.key("rope.dimension_count"),
             raw.n_dims);
    }
    raw.freq_base = keys.f32("rope.freq_base", 10000.0f);
    // Compressed layers: the compress base with YaRN, magnitude kept at 1 (deepseek4.cpp:10-16).
    kernels::RopeParams comp = raw;
    comp.freq_base = keys.f32("attention.compress_rope_freq_base");
    if (keys.str("rope.scaling.type").value_or("none") == "yarn") {
        const float factor = keys.f32("rope.scaling.factor", 1.0f);
        if (!(factor > 0)) {
            fail(ErrorKind::kCorrupt, "{}: key {} = {} must be positive", path,
                 keys.key("rope.scaling.factor"), factor);
        }
        comp.freq_scale = 1.0f / factor;
        comp.ext_factor = 1.0f;
        comp.n_ctx_orig = static_cast<int>(
            keys.int_in("rope.scaling.original_context_length", 1, int64_t{1} << 30));
        comp.attn_factor = 1.0f / (1.0f + 0.1f * std::log(factor));
    }
    if (!(raw.freq_base > 0) || !(comp.freq_base > 0) || !(comp.freq_scale > 0)) {
        fail(ErrorKind::kCorrupt, "{}: rope bases and scaling factor must be positive", path);
    }
    hp.attn.rope_raw = raw;
    hp.attn.rope_comp = comp;
}

void read_attention(const KeyReader& keys, Dsv4Hparams& hp) {
    const std::string& path = keys.file().path();
    Dsv4AttnHparams& a = hp.attn;
    a.n_head = hp.base.n_head;
    a.head_dim = hp.base.head_dim_k;
    a.n_rot = hp.base.rope.n_dims;
    a.rms_eps = hp.base.rms_eps;
    a.q_lora_rank = static_cast<int>(keys.int_in("attention.q_lora_rank", 1, 1 << 16));
    a.n_swa = static_cast<int>(keys.int_in("attention.sliding_window", 1, 1 << 20));
    a.n_group = static_cast<int>(keys.int_in("attention.output_group_count", 1, a.n_head));
    a.group_rank = static_cast<int>(keys.int_in("attention.output_lora_rank", 1, 1 << 16));
    if (a.n_head % a.n_group != 0) {
        fail(ErrorKind::kCorrupt, "{}: {} = {} does not divide {} = {}", path,
             keys.key("attention.output_group_count"), a.n_group, keys.key("attention.head_count"),
             a.n_head);
    }
    for (double r : per_layer(keys, "attention.compress_ratios", hp.base.n_layer)) {
        if (r != 0 && r != 4 && r != 128) {
            fail(ErrorKind::kUnsupported, "{}: key {} holds {}; supported ratios are 0, 4 and 128",
                 path, keys.key("attention.compress_ratios"), r);
        }
        hp.ratios.push_back(static_cast<int>(r));
    }
    BlockIndexerHparams& ix = a.indexer;
    if (std::find(hp.ratios.begin(), hp.ratios.end(), 4) == hp.ratios.end()) return;
    ix.n_head = static_cast<int>(keys.int_in("attention.indexer.head_count", 1, 1024));
    ix.head_dim = static_cast<int>(keys.int_in("attention.indexer.key_length", 1, 4096));
    ix.top_k = static_cast<int>(keys.int_in("attention.indexer.top_k", 0, int64_t{1} << 24));
    if (ix.top_k == 0) {
        fail(ErrorKind::kCorrupt,
             "{}: key {} = 0: the indexer must keep at least one block per query", path,
             keys.key("attention.indexer.top_k"));
    }
    if ((ix.head_dim & (ix.head_dim - 1)) != 0 || ix.head_dim < a.n_rot) {
        fail(ErrorKind::kUnsupported, "{}: key {} = {} must be a power of two of at least {} = {}",
             path, keys.key("attention.indexer.key_length"), ix.head_dim,
             keys.key("rope.dimension_count"), a.n_rot);
    }
    ix.n_rot = a.n_rot;
    ix.rope = a.rope_comp;
}

void read_ffn(const KeyReader& keys, Dsv4Hparams& hp) {
    const std::string& path = keys.file().path();
    hp.base.n_ff = keys.int_in("expert_feed_forward_length", 1, 1 << 20);
    hp.moe = read_moe_hparams(keys, hp.base, MoeKeyRules{Gating::kSqrtSoftplus, false, true});
    if (hp.moe.opt.n_expert == 0) {
        fail(ErrorKind::kCorrupt, "{}: missing key {}", path, keys.key("expert_count"));
    }
    if (!keys.has("expert_gating_func") || hp.moe.opt.gating != Gating::kSqrtSoftplus) {
        fail(ErrorKind::kUnsupported, "{}: key {} must be 4 (sqrt-softplus) for deepseek4", path,
             keys.key("expert_gating_func"));
    }
    hp.n_hash_layers = static_cast<int>(keys.int_in("hash_layer_count", 0, hp.base.n_layer));
    for (double v : per_layer(keys, "swiglu_clamp_exp", hp.base.n_layer))
        hp.clamp_exp.push_back(static_cast<float>(v));
    hp.clamp_shexp = hp.clamp_exp;
    if (keys.has("swiglu_clamp_shexp")) {
        hp.clamp_shexp.clear();
        for (double v : per_layer(keys, "swiglu_clamp_shexp", hp.base.n_layer))
            hp.clamp_shexp.push_back(static_cast<float>(v));
    }
}

Dsv4Hparams read_hparams(const KeyReader& keys) {
    Dsv4Hparams hp;
    read_base(keys, hp);
    read_attention(keys, hp);
    read_ffn(keys, hp);
    const auto n_streams = keys.int_in("hyper_connection.count", 0, 1024);
    if (n_streams != kStreams) {
        fail(ErrorKind::kUnsupported, "{}: key {} = {}; deepseek4 supports {} streams",
             keys.file().path(), keys.key("hyper_connection.count"), n_streams, kStreams);
    }
    hp.sinkhorn_iters =
        static_cast<int>(keys.int_in("hyper_connection.sinkhorn_iterations", 1, 1000));
    hp.hc_eps = keys.f32("hyper_connection.epsilon");
    return hp;
}

struct LayerWeights {
    HcWeights hc_attn;     // around the attention: fn (4 n_embd, 24), base (24), scale (3)
    HcWeights hc_ffn;      // around the FFN, same shapes
    TensorView attn_norm;  // (n_embd) f32
    Dsv4AttnWeights attn;
    TensorView ffn_norm;  // (n_embd) f32
    MoeWeights moe;
    std::vector<int32_t>
        hash_experts;  // (n_expert_used, n_vocab): hash layers' experts per token id
    FfnWeights shexp;  // (n_ff_exp * n_shared)
};

class DeepSeek4Model final : public Model {
   public:
    DeepSeek4Model(const ArchSpec& spec, std::shared_ptr<const gguf::File> file);

   private:
    void plan_cache();
    void bind(std::string_view arch);
    LayerWeights bind_layer(Binder& b, int il);
    void bind_attention(Binder& b, int il, Dsv4AttnWeights& a);
    std::vector<int32_t> bind_hash_experts(Binder& b, int il, int64_t n_vocab);
    void describe(std::string_view arch);
    void forward_impl(const Batch& batch, KvStore& kv, ThreadPool& pool, float* out) override;
    void ffn_forward(int il, const Batch& batch, ThreadPool& pool, const float* cur, float* out);

    Dsv4Hparams hp_;
    HcOptions hc_;
    int64_t row_width_ = 0;    // packed compressed-block values per K row (all layers)
    int64_t state_width_ = 0;  // floats of window ring + compressor rings per layer and sequence
    TensorView token_embd_;    // (n_embd, n_vocab)
    HcWeights output_hc_;      // fn (4 n_embd, 4), base (4), scale (1)
    OutputHead head_;          // output.weight is mandatory here
    std::vector<LayerWeights> layers_;
};

DeepSeek4Model::DeepSeek4Model(const ArchSpec& spec, std::shared_ptr<const gguf::File> file)
    : Model(std::move(file)) {
    const KeyReader keys(*file_, spec.gguf_name);
    hp_ = read_hparams(keys);
    // MTP blocks count only when the file holds them (the converter skips them by default).
    const std::string mtp_prefix = fmt::format("blk.{}.", hp_.base.n_layer_main());
    const auto& ts = file_->tensors();
    if (std::none_of(ts.begin(), ts.end(),
                     [&](const gguf::TensorInfo& t) { return t.name.starts_with(mtp_prefix); })) {
        hp_.base.n_layer_nextn = 0;
    }
    hc_ = {kStreams, hp_.sinkhorn_iters, hp_.hc_eps, hp_.base.rms_eps};
    plan_cache();
    bind(spec.gguf_name);
    describe(spec.gguf_name);
}

// Per token and layer the cache keeps only packed compressed blocks (f16); the raw window and the
// unfinished blocks live in the fixed per-sequence state.
void DeepSeek4Model::plan_cache() {
    const Dsv4AttnHparams& a = hp_.attn;
    for (int il = 0; il < hp_.base.n_layer_main(); ++il) {
        const int r = hp_.ratios[il];
        int64_t state = a.window_floats();
        if (r > 0) {
            const int64_t block = a.head_dim + (r == 4 ? a.indexer.head_dim : 0);
            row_width_ = std::max(row_width_, (block + r - 1) / r);
            state += CompressorSpec::ring_floats(r, a.head_dim);
            if (r == 4) state += CompressorSpec::ring_floats(r, a.indexer.head_dim);
        }
        state_width_ = std::max(state_width_, state);
    }
}

void DeepSeek4Model::bind_attention(Binder& b, int il, Dsv4AttnWeights& a) {
    const Dsv4AttnHparams& hp = hp_.attn;
    const int64_t e = hp_.base.n_embd, d = hp.head_dim, qr = hp.q_lora_rank,
                  hd = int64_t{hp.n_head} * d;
    auto t = [il](std::string_view n) { return layer_tensor(il, n); };
    const std::string why = fmt::format(
        "head_count = {}, key_length = {}, q_lora_rank = {}, output groups {} x rank {}", hp.n_head,
        d, qr, hp.n_group, hp.group_rank);
    a.ratio = hp_.ratios[il];
    a.q_a = b.require(t("attn_q_a"), {e, qr}, why);
    a.q_a_norm = b.require_f32(t("attn_q_a_norm"), {qr});
    a.q_b = b.require(t("attn_q_b"), {qr, hd}, why);
    a.kv = b.require(t("attn_kv"), {e, d}, why);
    a.kv_norm = b.require_f32(t("attn_kv_a_norm"), {d});
    a.sinks = b.require_f32(t("attn_sinks"), {hp.n_head});
    a.out_a =
        b.require(t("attn_output_a"), {hd / hp.n_group, int64_t{hp.group_rank} * hp.n_group}, why);
    a.out_a.ne[1] = hp.group_rank;  // viewed as (H * D / G, R, G): one projection per group
    a.out_a.ne[2] = hp.n_group;
    a.out_b = b.require(t("attn_output_b"), {int64_t{hp.n_group} * hp.group_rank, e}, why);
    if (a.ratio == 0) return;
    const int64_t c = a.ratio == 4 ? 2 : 1, di = hp.indexer.head_dim;
    const int64_t block = d + (a.ratio == 4 ? di : 0);
    a.comp_spec = {a.ratio,  static_cast<int>(d), hp.window_floats(), block,
                   0,        row_width_,          hp.rms_eps,         false,
                   hp.n_rot, hp.rope_comp};
    a.comp = {b.require(t("attn_compressor_kv"), {e, c * d}, why),
              b.require(t("attn_compressor_gate"), {e, c * d}, why),
              b.require(t("attn_compressor_ape"), {c * d, a.ratio}, why),
              b.require_f32(t("attn_compressor_norm"), {d})};
    if (a.ratio != 4) return;
    const std::string ix_why =
        fmt::format("indexer head_count = {}, key_length = {}", hp.indexer.n_head, di);
    a.ix_spec = {4,
                 static_cast<int>(di),
                 hp.window_floats() + a.comp_spec.ring_floats(),
                 block,
                 d,
                 row_width_,
                 hp.rms_eps,
                 true,
                 hp.n_rot,
                 hp.rope_comp};
    a.ix_comp = {b.require(t("indexer_compressor_kv"), {e, 2 * di}, ix_why),
                 b.require(t("indexer_compressor_gate"), {e, 2 * di}, ix_why),
                 b.require(t("indexer_compressor_ape"), {2 * di, 4}, ix_why),
                 b.require_f32(t("indexer_compressor_norm"), {di})};
    a.indexer = {b.require(t("indexer.attn_q_b"), {qr, int64_t{hp.indexer.n_head} * di}, ix_why),
                 b.require(t("indexer.proj"), {e, hp.indexer.n_head}, ix_why)};
}

// The hash layers' expert table: I32 (n_expert_used, n_vocab), every id a valid expert.
std::vector<int32_t> DeepSeek4Model::bind_hash_experts(Binder& b, int il, int64_t n_vocab) {
    const std::string name = layer_tensor(il, "ffn_gate_tid2eid");
    const gguf::TensorInfo* t = file_->find_tensor(name);
    const int64_t k = hp_.moe.opt.n_expert_used;
    if (!t) {
        fail(ErrorKind::kCorrupt, "{}: missing tensor '{}' (required by deepseek4 hash layers)",
             b.path(), name);
    }
    if (t->type != DType::kI32 || t->n_dims != 2 || t->ne[0] != k || t->ne[1] != n_vocab) {
        fail(ErrorKind::kCorrupt, "{}: tensor '{}' is {} {}, but deepseek4 expects i32 {{{}, {}}}",
             b.path(), name, dtype_name(t->type), t->shape_string(), k, n_vocab);
    }
    std::vector<int32_t> ids(static_cast<size_t>(k * n_vocab));
    std::memcpy(ids.data(), t->data, ids.size() * sizeof(int32_t));
    for (int32_t id : ids) {
        if (id < 0 || id >= hp_.moe.opt.n_expert) {
            fail(ErrorKind::kCorrupt, "{}: tensor '{}' names expert {} of {}", b.path(), name, id,
                 hp_.moe.opt.n_expert);
        }
    }
    return ids;
}

LayerWeights DeepSeek4Model::bind_layer(Binder& b, int il) {
    const int64_t e = hp_.base.n_embd, n_vocab = token_embd_.ne[1];
    auto hc = [&](std::string_view kind) {
        return HcWeights{
            b.require(layer_tensor(il, fmt::format("hc_{}_fn", kind)), {kStreams * e, kMix}),
            b.require_f32(layer_tensor(il, fmt::format("hc_{}_base", kind)), {kMix}),
            b.require_f32(layer_tensor(il, fmt::format("hc_{}_scale", kind)), {3})};
    };
    LayerWeights l;
    l.hc_attn = hc("attn");
    l.hc_ffn = hc("ffn");
    l.attn_norm = b.require_f32(layer_tensor(il, "attn_norm"), {e});
    bind_attention(b, il, l.attn);
    l.ffn_norm = b.require_f32(layer_tensor(il, "ffn_norm"), {e});
    const bool hashed = il < hp_.n_hash_layers;
    l.moe = bind_moe(b, il, e, hp_.moe, !hashed);
    if (hashed) l.hash_experts = bind_hash_experts(b, il, n_vocab);
    if (hp_.moe.n_shared > 0) {
        l.shexp = bind_ffn(b, il, e, hp_.moe.n_ff_exp * hp_.moe.n_shared, "_shexp",
                           fmt::format("expert_shared_count = {} x expert_feed_forward_length = {}",
                                       hp_.moe.n_shared, hp_.moe.n_ff_exp));
    }
    return l;
}

void DeepSeek4Model::bind(std::string_view arch) {
    Binder b(*file_, arch);
    const int64_t e = hp_.base.n_embd;
    const gguf::TensorInfo* embd = file_->find_tensor("token_embd.weight");
    if (!embd) fail(ErrorKind::kCorrupt, "{}: missing tensor 'token_embd.weight'", file_->path());
    const int64_t n_vocab = embd->ne[1];
    token_embd_ = b.require("token_embd.weight", {e, n_vocab});
    output_hc_ = {b.require("output_hc_fn.weight", {kStreams * e, kStreams}),
                  b.require_f32("output_hc_base.weight", {kStreams}),
                  b.require_f32("output_hc_scale.weight", {1})};
    head_.norm = b.require_f32("output_norm.weight", {e});
    head_.output = b.require("output.weight", {e, n_vocab});
    for (int il = 0; il < hp_.base.n_layer_main(); ++il) layers_.push_back(bind_layer(b, il));
}

void DeepSeek4Model::describe(std::string_view arch) {
    info_.arch = std::string(arch);
    info_.name = file_->get_string("general.name").value_or("");
    info_.n_vocab = token_embd_.ne[1];
    info_.n_ctx_train = hp_.base.n_ctx_train;
    info_.n_embd = hp_.base.n_embd;
    info_.kv = {hp_.base.n_layer_main(), row_width_, 0, state_width_};
    // A plain multi-head cache of the same heads: K and V of every head.
    info_.kv_mha_values_per_token = int64_t{2} * hp_.attn.n_head * hp_.attn.head_dim;
    info_.hparams = hp_.base.describe();
    std::string ratios;
    for (int r : hp_.ratios) ratios += fmt::format("{}{}", ratios.empty() ? "" : " ", r);
    const Dsv4AttnHparams& a = hp_.attn;
    info_.hparams.emplace_back(
        "attention", fmt::format("window {}, compress ratios [{}], compress rope base {}, "
                                 "output {} groups x rank {}, q_lora_rank {}",
                                 a.n_swa, ratios, a.rope_comp.freq_base, a.n_group, a.group_rank,
                                 a.q_lora_rank));
    if (a.indexer.n_head > 0) {
        info_.hparams.emplace_back("indexer",
                                   fmt::format("{} heads x {}, top_k {} blocks", a.indexer.n_head,
                                               a.indexer.head_dim, a.indexer.top_k));
    }
    info_.hparams.emplace_back("hyper_connections",
                               fmt::format("{} streams, {} Sinkhorn iterations, eps {}", kStreams,
                                           hp_.sinkhorn_iters, hp_.hc_eps));
    info_.hparams.emplace_back(
        "moe", fmt::format("{}, {} hash layers", describe_moe(hp_.moe), hp_.n_hash_layers));
}

void DeepSeek4Model::ffn_forward(int il, const Batch& batch, ThreadPool& pool, const float* cur,
                                 float* out) {
    const LayerWeights& l = layers_[il];
    const int64_t n = batch.size(), e = hp_.base.n_embd;
    MoeOptions opt = hp_.moe.opt;
    opt.swiglu_limit = hp_.clamp_exp[il];
    std::vector<float> logits(static_cast<size_t>(n * opt.n_expert));
    kernels::matmul(l.moe.gate_inp, cur, n, logits.data(), pool);
    Routing r;
    if (!l.hash_experts.empty()) {
        // Hash layers: the experts of each token id, in table order; no bias, no top-k.
        std::vector<int32_t> experts;
        for (int64_t t = 0; t < n; ++t) {
            const int32_t* row = &l.hash_experts[batch.tokens[t] * int64_t{opt.n_expert_used}];
            experts.insert(experts.end(), row, row + opt.n_expert_used);
        }
        route_fixed(opt, logits.data(), experts.data(), n, r);
    } else {
        route(opt, logits.data(), l.moe.probs_bias.f32(), n, r);
    }
    moe_experts(opt, l.moe, r, cur, n, out, pool);
    if (l.shexp.gate.empty()) return;
    const int64_t n_ff = l.shexp.gate.ne[1];
    std::vector<float> gate(static_cast<size_t>(n * n_ff)), up(gate.size()),
        shared(static_cast<size_t>(n * e));
    kernels::matmul(l.shexp.gate, cur, n, gate.data(), pool);
    kernels::matmul(l.shexp.up, cur, n, up.data(), pool);
    clamp_swiglu_inputs(gate.data(), up.data(), n * n_ff, hp_.clamp_shexp[il]);
    kernels::swiglu(gate.data(), up.data(), gate.data(), n * n_ff);
    kernels::matmul(l.shexp.down, gate.data(), n, shared.data(), pool);
    kernels::add_inplace(out, shared.data(), n * e);
}

void DeepSeek4Model::forward_impl(const Batch& batch, KvStore& kv, ThreadPool& pool, float* out) {
    const int64_t n = batch.size(), e = hp_.base.n_embd;
    const float eps = hp_.base.rms_eps;
    std::vector<float> x(static_cast<size_t>(n * e)), cur(x.size()), y(x.size());
    kernels::get_rows(token_embd_, batch.tokens.data(), n, x.data());
    std::vector<float> streams(
        static_cast<size_t>(n * kStreams * e));  // every stream starts as the embedding
    for (int64_t t = 0; t < n; ++t) {
        for (int i = 0; i < kStreams; ++i)
            std::copy_n(&x[t * e], e, &streams[(t * kStreams + i) * e]);
    }
    HcMix mix;
    for (int il = 0; il < hp_.base.n_layer_main(); ++il) {
        const LayerWeights& l = layers_[il];
        hc_weights(hc_, l.hc_attn, streams.data(), n, e, false, mix, pool);
        hc_collapse(hc_, mix, streams.data(), n, e, x.data());
        for (int64_t t = 0; t < n; ++t)
            kernels::rms_norm(&x[t * e], l.attn_norm.f32(), &cur[t * e], e, eps);
        dsv4_attention(hp_.attn, l.attn, il, batch, kv, pool, cur.data(), y.data());
        hc_expand(hc_, mix, y.data(), n, e, streams.data());

        hc_weights(hc_, l.hc_ffn, streams.data(), n, e, false, mix, pool);
        hc_collapse(hc_, mix, streams.data(), n, e, x.data());
        for (int64_t t = 0; t < n; ++t)
            kernels::rms_norm(&x[t * e], l.ffn_norm.f32(), &cur[t * e], e, eps);
        ffn_forward(il, batch, pool, cur.data(), y.data());
        hc_expand(hc_, mix, y.data(), n, e, streams.data());
    }
    hc_weights(hc_, output_hc_, streams.data(), n, e, true, mix, pool);
    hc_collapse(hc_, mix, streams.data(), n, e, x.data());
    output_logits(head_, batch, x.data(), e, eps, pool, out);
}

}  // namespace

std::unique_ptr<Model> load_deepseek4(const ArchSpec& spec, std::shared_ptr<const gguf::File> file,
                                      const LoadOptions& /*options*/) {
    return std::make_unique<DeepSeek4Model>(spec, std::move(file));
}

}  // namespace sobre::model
