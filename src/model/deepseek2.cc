// DeepSeek family: deepseek2 (DeepSeek-V2/V2-Lite/V2.5/V3/V3.1/R1, Kimi-K2, GLM-4.7-Flash):
// multi-head latent attention with a compressed cache, leading dense blocks, routed experts
// (softmax or sigmoid gating, selection bias, group-limited routing) plus shared experts.
// ref: ../shared/ARCHITECTURES.md §6 (llama.cpp src/models/deepseek2.cpp).
#include <vector>

#include "core/error.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/ops.h"
#include "model/families.h"
#include "model/ffn.h"
#include "model/gqa.h"
#include "model/hparams.h"
#include "model/mla.h"
#include "model/moe.h"
#include "model/weights.h"

namespace sobre::model {
namespace {

struct LayerWeights {
    TensorView attn_norm;  // (n_embd) f32
    MlaWeights attn;
    TensorView ffn_norm;   // (n_embd) f32
    FfnLayer ffn;          // leading dense layers, then experts + shared experts
};

class DeepSeek2Model final : public Model {
   public:
    DeepSeek2Model(const ArchSpec& spec, std::shared_ptr<const gguf::File> file) : Model(std::move(file)) {
        const KeyReader keys(*file_, spec.gguf_name);
        hp_ = read_transformer_hparams(keys, spec.rope);
        mla_ = read_mla_hparams(keys, hp_);
        moe_ = read_moe_hparams(keys, hp_, MoeKeyRules{Gating::kSoftmax, false, true});
        if (moe_.opt.n_expert == 0) {
            fail(ErrorKind::kCorrupt, "{}: missing key {}", file_->path(), keys.key("expert_count"));
        }
        bind(spec.gguf_name);
        info_.arch = std::string(spec.gguf_name);
        info_.name = file_->get_string("general.name").value_or("");
        info_.n_vocab = token_embd_.ne[1];
        info_.n_ctx_train = hp_.n_ctx_train;
        info_.n_embd = hp_.n_embd;
        // The cache holds the latent only: K rows of kv_lora_rank + qk_rope, no V rows.
        info_.kv = {hp_.n_layer_main(), mla_.cache_width(), 0};
        info_.kv_mha_values_per_token = int64_t{mla_.n_head} * (mla_.qk_nope + mla_.qk_rope + mla_.v_head_dim);
        info_.hparams = hp_.describe();
        info_.hparams.emplace_back("mla", fmt::format("q_lora_rank {}, kv_lora_rank {}, qk_nope {}, qk_rope {}, v_head_dim {}, "
                                                      "kq_scale {}",
                                                      mla_.q_lora_rank, mla_.kv_lora_rank, mla_.qk_nope, mla_.qk_rope,
                                                      mla_.v_head_dim, mla_.kq_scale));
        info_.hparams.emplace_back("moe", describe_moe(moe_));
    }

   private:
    void bind(std::string_view arch);
    void forward_impl(const Batch& batch, KvStore& kv, ThreadPool& pool, float* out) override;

    TransformerHparams hp_;
    MlaHparams mla_;
    MoeHparams moe_;
    TensorView token_embd_;   // (n_embd, n_vocab)
    OutputHead head_;
    std::vector<LayerWeights> layers_;
};

void DeepSeek2Model::bind(std::string_view arch) {
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
        l.ffn_norm = b.require_f32(layer_tensor(il, "ffn_norm"), {e});
        l.ffn = bind_ffn_layer(b, il, e, hp_.n_ff, moe_, false);
        layers_.push_back(l);
    }
}

void DeepSeek2Model::forward_impl(const Batch& batch, KvStore& kv, ThreadPool& pool, float* out) {
    const int64_t n = batch.size(), e = hp_.n_embd;
    std::vector<float> x(n * e), cur(n * e), delta(n * e);
    kernels::get_rows(token_embd_, batch.tokens.data(), n, x.data());
    for (int il = 0; il < hp_.n_layer_main(); ++il) {
        const LayerWeights& l = layers_[il];
        for (int64_t t = 0; t < n; ++t) kernels::rms_norm(&x[t * e], l.attn_norm.f32(), &cur[t * e], e, hp_.rms_eps);
        mla_attention(mla_, l.attn, il, batch, kv, pool, cur.data(), delta.data());
        kernels::add_inplace(x.data(), delta.data(), n * e);
        for (int64_t t = 0; t < n; ++t) kernels::rms_norm(&x[t * e], l.ffn_norm.f32(), &cur[t * e], e, hp_.rms_eps);
        ffn_layer_forward(l.ffn, moe_.opt, cur.data(), n, delta.data(), pool);
        kernels::add_inplace(x.data(), delta.data(), n * e);
    }
    output_logits(head_, batch, x.data(), e, hp_.rms_eps, pool, out);
}

}  // namespace

std::unique_ptr<Model> load_deepseek2(const ArchSpec& spec, std::shared_ptr<const gguf::File> file,
                                      const LoadOptions& /*options*/) {
    return std::make_unique<DeepSeek2Model>(spec, std::move(file));
}

}  // namespace sobre::model
