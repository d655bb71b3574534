// DeepSeek sparse-attention family: deepseek32 (DeepSeek-V3.2) and glm-dsa (GLM-5 / 5.1 / 5.2).
// deepseek2's absorbed MLA + MoE with shared experts, plus a lightning indexer per layer that
// picks the top-k positions each query attends to. glm-dsa 'shared' layers have no indexer and
// reuse the selection of the most recent full layer.
// ref: ../shared/ARCHITECTURES.md §7 (llama.cpp src/models/deepseek32.cpp, glm-dsa.cpp).
#include <cmath>
#include <vector>

#include "core/error.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/ops.h"
#include "model/dsa.h"
#include "model/families.h"
#include "model/ffn.h"
#include "model/hparams.h"
#include "model/mla.h"
#include "model/moe.h"
#include "model/weights.h"

namespace sobre::model {
namespace {

// What the two architectures read differently (ARCHITECTURES.md §7.1).
struct DsaRules {
    kernels::RopeStyle indexer_rope;  // pairing of the indexer's rotated dims
    float k_norm_eps;          // indexer key LayerNorm eps (glm-dsa: f_norm_eps, never read: 0)
    bool reads_log_mul;        // rope.scaling.yarn_log_multiplier enters the scales
    bool reads_indexer_types;  // attention.indexer.types (full / shared per layer)
    bool gating_required;      // expert_gating_func must be present
    Gating default_gating;
};

constexpr DsaRules kDeepSeek32{kernels::RopeStyle::kNeox, 1e-6f, true, false, true,
                               Gating::kSigmoid};
constexpr DsaRules kGlmDsa{kernels::RopeStyle::kNorm, 0.0f, false, true, false, Gating::kSigmoid};

// ref: llama.cpp llama-context.cpp get_mscale().
float get_mscale(float scale, float m) {
    return scale <= 1.0f ? 1.0f : 0.1f * m * std::log(scale) + 1.0f;
}

// YaRN factors as the reference sets them up for these archs (§7.3): unlike deepseek2, mscale is
// always 1, so mscale_all_dim != 1 scales the rotated dims; kq_scale = mscale^2 / sqrt(dk).
void set_yarn_scales(const KeyReader& keys, const DsaRules& rules, MlaHparams& mp) {
    if (mp.rope.ext_factor == 0.0f) return;
    const float factor = 1.0f / mp.rope.freq_scale, log_scale = std::log(factor);
    const float log_mul =
        rules.reads_log_mul ? keys.f32("rope.scaling.yarn_log_multiplier", 0.0f) / 0.1f : 0.0f;
    const float yarn_af = log_mul != 0.0f ? get_mscale(factor, 1.0f) / get_mscale(factor, log_mul)
                                          : get_mscale(factor, 1.0f);
    mp.rope.attn_factor =
        yarn_af / (1.0f + 0.1f * log_scale) * keys.f32("rope.scaling.attn_factor", 1.0f);
    const float mscale =
        mp.rope.attn_factor * (1.0f + 0.1f * log_scale) * (1.0f + 0.1f * log_mul * log_scale);
    mp.kq_scale = mscale * mscale / std::sqrt(static_cast<float>(mp.qk_nope + mp.qk_rope));
}

// true = layer il runs its own indexer ('full'), false = reuses the previous selection ('shared').
std::vector<bool> read_indexer_types(const KeyReader& keys, const DsaRules& rules,
                                     const TransformerHparams& hp) {
    const int n = hp.n_layer_main();
    std::vector<bool> full(static_cast<size_t>(n), true);
    const gguf::Value* types = rules.reads_indexer_types
                                   ? keys.file().get_array(keys.key("attention.indexer.types"))
                                   : nullptr;
    if (types) {
        if (types->elem_type != gguf::ValueType::kBool || types->size() < static_cast<size_t>(n)) {
            fail(ErrorKind::kCorrupt, "{}: key {} must hold one bool per layer ({} layers), got {}",
                 keys.file().path(), keys.key("attention.indexer.types"), n, types->to_string());
        }
        for (int il = 0; il < n; ++il) full[il] = types->at(static_cast<size_t>(il)).u != 0;
    } else if (rules.reads_indexer_types && hp.n_ctx_train >= 1048576) {
        // GLM-5.2's built-in pattern (glm-dsa.cpp:6-27): layers 0, 1, then every 4th from 2.
        for (int il = 0; il < n; ++il) full[il] = il < 2 || (il - 2) % 4 == 0;
    }
    if (n > 0 && !full[0]) {
        fail(ErrorKind::kCorrupt,
             "{}: key {}: layer 0 is 'shared', but there is no earlier full layer to share",
             keys.file().path(), keys.key("attention.indexer.types"));
    }
    return full;
}

struct LayerWeights {
    TensorView attn_norm;  // (n_embd) f32
    MlaWeights attn;
    bool full_indexer = true;
    IndexerWeights indexer;  // full layers only
    TensorView ffn_norm;     // (n_embd) f32
    FfnLayer ffn;            // leading dense layers, then experts + shared experts
};

class DsaModel final : public Model {
   public:
    DsaModel(const ArchSpec& spec, const DsaRules& rules, std::shared_ptr<const gguf::File> file);

   private:
    void read_hparams(const KeyReader& keys, const DsaRules& rules);
    void bind(std::string_view arch);
    void describe(std::string_view arch);
    void forward_impl(const Batch& batch, KvStore& kv, ThreadPool& pool, float* out) override;

    TransformerHparams hp_;
    MlaHparams mla_;
    IndexerHparams ix_;
    MoeHparams moe_;
    std::vector<bool> full_indexer_;
    TensorView token_embd_;   // (n_embd, n_vocab)
    OutputHead head_;
    std::vector<LayerWeights> layers_;
};

DsaModel::DsaModel(const ArchSpec& spec, const DsaRules& rules,
                   std::shared_ptr<const gguf::File> file)
    : Model(std::move(file)) {
    const KeyReader keys(*file_, spec.gguf_name);
    hp_ = read_transformer_hparams(keys, spec.rope);
    read_hparams(keys, rules);
    bind(spec.gguf_name);
    describe(spec.gguf_name);
}

void DsaModel::read_hparams(const KeyReader& keys, const DsaRules& rules) {
    const std::string& path = file_->path();
    mla_ = read_mla_hparams(keys, hp_);
    if (mla_.q_lora_rank == 0) {
        fail(ErrorKind::kCorrupt, "{}: missing key {} (the indexer reads the q latent)", path,
             keys.key("attention.q_lora_rank"));
    }
    set_yarn_scales(keys, rules, mla_);
    ix_ = read_indexer_hparams(keys, mla_.rope, rules.indexer_rope, rules.k_norm_eps,
                               mla_.cache_width());
    if (rules.gating_required && !keys.has("expert_gating_func")) {
        fail(ErrorKind::kCorrupt, "{}: missing key {}", path, keys.key("expert_gating_func"));
    }
    moe_ = read_moe_hparams(keys, hp_, MoeKeyRules{rules.default_gating, false, true});
    if (moe_.opt.n_expert == 0) {
        fail(ErrorKind::kCorrupt, "{}: missing key {}", path, keys.key("expert_count"));
    }
    full_indexer_ = read_indexer_types(keys, rules, hp_);
}

void DsaModel::bind(std::string_view arch) {
    Binder b(*file_, arch);
    const int64_t e = hp_.n_embd;
    const gguf::TensorInfo* embd = file_->find_tensor("token_embd.weight");
    if (!embd) fail(ErrorKind::kCorrupt, "{}: missing tensor 'token_embd.weight'", file_->path());
    const int64_t n_vocab = embd->ne[1];
    token_embd_ = b.require("token_embd.weight", {e, n_vocab});
    head_.norm = b.require_f32("output_norm.weight", {e});
    head_.output = b.optional("output.weight", {e, n_vocab});
    if (head_.output.empty()) head_.output = token_embd_;
    for (int il = 0; il < hp_.n_layer_main(); ++il) {
        LayerWeights l;
        l.attn_norm = b.require_f32(layer_tensor(il, "attn_norm"), {e});
        l.attn = bind_mla(b, mla_, e, il);
        l.full_indexer = full_indexer_[il];
        if (l.full_indexer) l.indexer = bind_indexer(b, ix_, e, mla_.q_lora_rank, il);
        l.ffn_norm = b.require_f32(layer_tensor(il, "ffn_norm"), {e});
        l.ffn = bind_ffn_layer(b, il, e, hp_.n_ff, moe_, false);
        layers_.push_back(l);
    }
}

void DsaModel::describe(std::string_view arch) {
    info_.arch = std::string(arch);
    info_.name = file_->get_string("general.name").value_or("");
    info_.n_vocab = token_embd_.ne[1];
    info_.n_ctx_train = hp_.n_ctx_train;
    info_.n_embd = hp_.n_embd;
    // One K row per token and layer: the MLA latent [c_kv | k_pe], then the indexer key (f16, as
    // the reference's indexer cache). Shared layers leave their indexer part unused, since every
    // layer of the cache has the same row width.
    info_.kv = {hp_.n_layer_main(), mla_.cache_width() + ix_.head_dim, 0};
    info_.kv_mha_values_per_token =
        int64_t{mla_.n_head} * (mla_.qk_nope + mla_.qk_rope + mla_.v_head_dim) + ix_.head_dim;
    info_.hparams = hp_.describe();
    info_.hparams.emplace_back(
        "mla", fmt::format("q_lora_rank {}, kv_lora_rank {}, qk_nope {}, qk_rope {}, "
                           "v_head_dim {}, kq_scale {}",
                           mla_.q_lora_rank, mla_.kv_lora_rank, mla_.qk_nope, mla_.qk_rope,
                           mla_.v_head_dim, mla_.kq_scale));
    std::string pattern;
    for (bool f : full_indexer_) pattern += f ? 'F' : 'S';
    info_.hparams.emplace_back(
        "indexer",
        fmt::format("{} heads x {}, top_k {}, rope {} on the first {} dims, key LayerNorm eps {}, "
                    "layers {} (F full, S shared)",
                    ix_.n_head, ix_.head_dim, ix_.top_k,
                    ix_.rope.style == kernels::RopeStyle::kNeox ? "neox" : "norm", ix_.rope.n_dims,
                    ix_.k_norm_eps, pattern));
    info_.hparams.emplace_back("moe", describe_moe(moe_));
}

void DsaModel::forward_impl(const Batch& batch, KvStore& kv, ThreadPool& pool, float* out) {
    const int64_t n = batch.size(), e = hp_.n_embd;
    std::vector<float> x(n * e), cur(n * e), delta(n * e);
    kernels::get_rows(token_embd_, batch.tokens.data(), n, x.data());
    PositionLists selected;  // the latest full layer's choice; shared layers reuse it
    for (int il = 0; il < hp_.n_layer_main(); ++il) {
        const LayerWeights& l = layers_[il];
        for (int64_t t = 0; t < n; ++t)
            kernels::rms_norm(&x[t * e], l.attn_norm.f32(), &cur[t * e], e, hp_.rms_eps);
        const std::vector<float> q_latent = mla_q_latent(mla_, l.attn, cur.data(), n, pool);
        if (l.full_indexer) {
            indexer_select(ix_, l.indexer, il, batch, kv, pool, cur.data(), q_latent.data(),
                           selected);
        }
        mla_attention(mla_, l.attn, il, batch, kv, pool, cur.data(), delta.data(),
                      {q_latent.data(), &selected});
        kernels::add_inplace(x.data(), delta.data(), n * e);
        for (int64_t t = 0; t < n; ++t)
            kernels::rms_norm(&x[t * e], l.ffn_norm.f32(), &cur[t * e], e, hp_.rms_eps);
        ffn_layer_forward(l.ffn, moe_.opt, cur.data(), n, delta.data(), pool);
        kernels::add_inplace(x.data(), delta.data(), n * e);
    }
    output_logits(head_, batch, x.data(), e, hp_.rms_eps, pool, out);
}

}  // namespace

std::unique_ptr<Model> load_deepseek32(const ArchSpec& spec, std::shared_ptr<const gguf::File> file,
                                       const LoadOptions& /*options*/) {
    return std::make_unique<DsaModel>(spec, kDeepSeek32, std::move(file));
}

std::unique_ptr<Model> load_glm_dsa(const ArchSpec& spec, std::shared_ptr<const gguf::File> file,
                                    const LoadOptions& /*options*/) {
    return std::make_unique<DsaModel>(spec, kGlmDsa, std::move(file));
}

}  // namespace sobre::model
