// The grouped-query-attention decoder family: llama (Llama 1-3, Mistral, Mixtral), qwen2,
// qwen3, qwen3moe, glm4moe (GLM-4.5/4.6/4.7) and minimax-m2. They differ only in data the
// arch table row carries (RoPE pairing, QK-norm kind, FFN norm tensor, MoE key rules).
// ref: ../shared/ARCHITECTURES.md §1-4, §9, §11.
#include <vector>

#include "core/error.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/ops.h"
#include "model/families.h"
#include "model/ffn.h"
#include "model/gqa.h"
#include "model/hparams.h"
#include "model/moe.h"
#include "model/weights.h"

namespace sobre::model {
namespace {

struct LayerWeights {
    TensorView attn_norm;  // (n_embd) f32
    GqaWeights attn;
    TensorView ffn_norm;   // (n_embd) f32: ffn_norm, or post_attention_norm (glm4moe)
    FfnLayer ffn;          // dense, or experts (+ shared experts)
};

struct Weights {
    TensorView token_embd;   // (n_embd, n_vocab)
    OutputHead head;         // output falls back to token_embd when the file ties them
    TensorView rope_freqs;   // optional (n_rot / 2) f32, Llama 3.1 frequency factors
    std::vector<LayerWeights> layers;
};

QkNorm qk_norm_of(uint32_t flags) {
    if (flags & kQkNorm) return QkNorm::kPerHead;
    if (flags & kQkNormMaybe) return QkNorm::kPerHeadMaybe;
    if (flags & kQkNormFull) return QkNorm::kFull;
    return QkNorm::kNone;
}

class DecoderModel final : public Model {
   public:
    DecoderModel(const ArchSpec& spec, std::shared_ptr<const gguf::File> file)
        : Model(std::move(file)), flags_(spec.flags) {
        const KeyReader keys(*file_, spec.gguf_name);
        hp_ = read_transformer_hparams(keys, spec.rope);
        const MoeKeyRules rules{(flags_ & kSigmoidGating) ? Gating::kSigmoid : Gating::kSoftmax,
                                (flags_ & kMoeNormForced) != 0, (flags_ & kMoeReadsScale) != 0};
        moe_ = read_moe_hparams(keys, hp_, rules);
        bind(spec.gguf_name);
        info_.arch = std::string(spec.gguf_name);
        info_.name = file_->get_string("general.name").value_or("");
        info_.n_vocab = w_.token_embd.ne[1];
        info_.n_ctx_train = hp_.n_ctx_train;
        info_.n_embd = hp_.n_embd;
        info_.kv = {hp_.n_layer_main(), int64_t{hp_.n_head_kv} * hp_.head_dim_k, int64_t{hp_.n_head_kv} * hp_.head_dim_v};
        info_.kv_mha_values_per_token = info_.kv.k_width + info_.kv.v_width;
        info_.hparams = hp_.describe();
        describe_moe();
        info_.hparams.emplace_back("tied_output", w_.head.output.data == w_.token_embd.data ? "yes" : "no");
    }

   private:
    void bind(std::string_view arch);
    LayerWeights bind_layer(Binder& b, int il);
    void describe_moe();
    void forward_impl(const Batch& batch, KvStore& kv, ThreadPool& pool, float* out) override;

    uint32_t flags_;
    TransformerHparams hp_;
    MoeHparams moe_;
    Weights w_;
};

void DecoderModel::describe_moe() {
    if (moe_.opt.n_expert > 0) info_.hparams.emplace_back("moe", model::describe_moe(moe_));
}

LayerWeights DecoderModel::bind_layer(Binder& b, int il) {
    const int64_t e = hp_.n_embd;
    LayerWeights l;
    l.attn_norm = b.require_f32(layer_tensor(il, "attn_norm"), {e});
    l.attn = bind_gqa(b, hp_, il, qk_norm_of(flags_));
    l.ffn_norm = b.require_f32(layer_tensor(il, (flags_ & kPostAttnFfnNorm) ? "post_attention_norm" : "ffn_norm"), {e});
    l.ffn = bind_ffn_layer(b, il, e, hp_.n_ff, moe_, (flags_ & kMoeBiasRequired) != 0);
    return l;
}

void DecoderModel::bind(std::string_view arch) {
    Binder b(*file_, arch);
    const int64_t e = hp_.n_embd;
    const gguf::TensorInfo* embd = file_->find_tensor("token_embd.weight");
    if (!embd) fail(ErrorKind::kCorrupt, "{}: missing tensor 'token_embd.weight'", file_->path());
    const int64_t n_vocab = embd->ne[1];
    w_.token_embd = b.require("token_embd.weight", {e, n_vocab});
    w_.head.norm = b.require_f32("output_norm.weight", {e});
    w_.head.output = (flags_ & kOutputRequired) ? b.require("output.weight", {e, n_vocab})
                                                : b.optional("output.weight", {e, n_vocab});
    if (w_.head.output.empty()) w_.head.output = w_.token_embd;
    w_.head.bias = b.optional_f32("output.bias", {n_vocab});
    w_.rope_freqs = b.optional_f32("rope_freqs.weight", {hp_.rope.n_dims / 2});
    hp_.rope.freq_factors = w_.rope_freqs.empty() ? nullptr : w_.rope_freqs.f32();
    for (int il = 0; il < hp_.n_layer_main(); ++il) w_.layers.push_back(bind_layer(b, il));
}

void DecoderModel::forward_impl(const Batch& batch, KvStore& kv, ThreadPool& pool, float* out) {
    const int64_t n = batch.size(), e = hp_.n_embd;
    std::vector<float> x(n * e), cur(n * e), delta(n * e);
    kernels::get_rows(w_.token_embd, batch.tokens.data(), n, x.data());
    for (int il = 0; il < hp_.n_layer_main(); ++il) {
        const LayerWeights& l = w_.layers[il];
        for (int64_t t = 0; t < n; ++t) kernels::rms_norm(&x[t * e], l.attn_norm.f32(), &cur[t * e], e, hp_.rms_eps);
        gqa_attention(hp_, l.attn, il, batch, kv, pool, cur.data(), delta.data());
        kernels::add_inplace(x.data(), delta.data(), n * e);
        for (int64_t t = 0; t < n; ++t) kernels::rms_norm(&x[t * e], l.ffn_norm.f32(), &cur[t * e], e, hp_.rms_eps);
        ffn_layer_forward(l.ffn, moe_.opt, cur.data(), n, delta.data(), pool);
        kernels::add_inplace(x.data(), delta.data(), n * e);
    }
    output_logits(w_.head, batch, x.data(), e, hp_.rms_eps, pool, out);
}

}  // namespace

std::unique_ptr<Model> load_decoder(const ArchSpec& spec, std::shared_ptr<const gguf::File> file,
                                    const LoadOptions& /*options*/) {
    return std::make_unique<DecoderModel>(spec, std::move(file));
}

}  // namespace sobre::model
