// Dense transformer family: llama (Llama 1-3, Mistral), qwen2 (Qwen2/2.5), qwen3 (Qwen3 dense).
// ref: ../shared/ARCHITECTURES.md §1-3 (llama.cpp src/models/{llama,qwen2,qwen3}.cpp).
#include <cmath>
#include <vector>

#include "core/error.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/ops.h"
#include "model/attention.h"
#include "model/families.h"
#include "model/hparams.h"
#include "model/weights.h"

namespace sobre::model {
namespace {

struct LayerWeights {
    TensorView attn_norm;  // (n_embd) f32
    TensorView wq;         // (n_embd, n_head * head_dim_k)
    TensorView wk;         // (n_embd, n_head_kv * head_dim_k)
    TensorView wv;         // (n_embd, n_head_kv * head_dim_v)
    TensorView bq, bk, bv; // optional biases (qwen2), same widths as the outputs above
    TensorView q_norm;     // (head_dim_k) f32, qwen3 only
    TensorView k_norm;     // (head_dim_k) f32, qwen3 only
    TensorView wo;         // (n_head * head_dim_v, n_embd)
    TensorView bo;         // optional (n_embd)
    TensorView ffn_norm;   // (n_embd) f32
    TensorView ffn_gate;   // (n_embd, n_ff)
    TensorView ffn_up;     // (n_embd, n_ff)
    TensorView ffn_down;   // (n_ff, n_embd)
};

struct Weights {
    TensorView token_embd;   // (n_embd, n_vocab)
    TensorView output_norm;  // (n_embd) f32
    TensorView output;       // (n_embd, n_vocab); token_embd when the file ties them
    TensorView output_bias;  // optional (n_vocab)
    TensorView rope_freqs;   // optional (n_rot / 2) f32, Llama 3.1 frequency factors
    std::vector<LayerWeights> layers;
};

// Norm weights and biases are read as f32 vectors by the forward.
void require_f32(const gguf::File& file, const std::string& name, const TensorView& t) {
    if (!t.empty() && t.type != DType::kF32) {
        fail(ErrorKind::kUnsupported, "{}: tensor '{}' has type {}, expected f32", file.path(), name,
             dtype_name(t.type));
    }
}

class DenseModel final : public Model {
   public:
    DenseModel(const ArchSpec& spec, std::shared_ptr<const gguf::File> file) : Model(std::move(file)) {
        const KeyReader keys(*file_, spec.gguf_name);
        hp_ = read_transformer_hparams(keys, spec.rope);
        qk_norm_ = (spec.flags & kQkNorm) != 0;
        bind(spec.gguf_name);
        info_.arch = std::string(spec.gguf_name);
        info_.name = file_->get_string("general.name").value_or("");
        info_.n_vocab = w_.token_embd.ne[1];
        info_.n_ctx_train = hp_.n_ctx_train;
        info_.n_embd = hp_.n_embd;
        info_.kv = {hp_.n_layer, static_cast<int64_t>(hp_.n_head_kv) * hp_.head_dim_k,
                    static_cast<int64_t>(hp_.n_head_kv) * hp_.head_dim_v};
        info_.hparams = hp_.describe();
        info_.hparams.emplace_back("qk_norm", qk_norm_ ? "yes" : "no");
        info_.hparams.emplace_back("tied_output", w_.output.data == w_.token_embd.data ? "yes" : "no");
    }

   private:
    void bind(std::string_view arch);
    void forward_impl(const Batch& batch, KvStore& kv, ThreadPool& pool, float* out) override;
    void layer_forward(int il, const Batch& batch, KvStore& kv, ThreadPool& pool, std::vector<float>& x);
    void attention_block(int il, const Batch& batch, KvStore& kv, ThreadPool& pool, const float* cur, float* out);
    void ffn_block(int il, int64_t n_tokens, ThreadPool& pool, const float* cur, float* out);

    TransformerHparams hp_;
    bool qk_norm_ = false;
    Weights w_;
};

void DenseModel::bind(std::string_view arch) {
    Binder b(*file_, arch);
    const int64_t n_embd = hp_.n_embd;
    const gguf::TensorInfo* embd = file_->find_tensor("token_embd.weight");
    if (!embd) fail(ErrorKind::kCorrupt, "{}: missing tensor 'token_embd.weight'", file_->path());
    const int64_t n_vocab = embd->ne[1];
    w_.token_embd = b.require("token_embd.weight", {n_embd, n_vocab});
    w_.output_norm = b.require("output_norm.weight", {n_embd});
    w_.output = b.optional("output.weight", {n_embd, n_vocab});
    if (w_.output.empty()) w_.output = w_.token_embd;
    w_.output_bias = b.optional("output.bias", {n_vocab});
    w_.rope_freqs = b.optional("rope_freqs.weight", {hp_.rope.n_dims / 2});
    require_f32(*file_, "rope_freqs.weight", w_.rope_freqs);
    hp_.rope.freq_factors = w_.rope_freqs.empty() ? nullptr : w_.rope_freqs.f32();

    const int64_t q_w = static_cast<int64_t>(hp_.n_head) * hp_.head_dim_k;
    const int64_t k_w = static_cast<int64_t>(hp_.n_head_kv) * hp_.head_dim_k;
    const int64_t v_w = static_cast<int64_t>(hp_.n_head_kv) * hp_.head_dim_v;
    const int64_t o_w = static_cast<int64_t>(hp_.n_head) * hp_.head_dim_v;
    for (int il = 0; il < hp_.n_layer; ++il) {
        LayerWeights l;
        auto t = [il](std::string_view n, std::string_view s = "weight") { return layer_tensor(il, n, s); };
        l.attn_norm = b.require(t("attn_norm"), {n_embd});
        l.wq = b.require(t("attn_q"), {n_embd, q_w});
        l.wk = b.require(t("attn_k"), {n_embd, k_w});
        l.wv = b.require(t("attn_v"), {n_embd, v_w});
        l.bq = b.optional(t("attn_q", "bias"), {q_w});
        l.bk = b.optional(t("attn_k", "bias"), {k_w});
        l.bv = b.optional(t("attn_v", "bias"), {v_w});
        if (qk_norm_) {
            l.q_norm = b.require(t("attn_q_norm"), {hp_.head_dim_k});
            l.k_norm = b.require(t("attn_k_norm"), {hp_.head_dim_k});
        }
        l.wo = b.require(t("attn_output"), {o_w, n_embd});
        l.bo = b.optional(t("attn_output", "bias"), {n_embd});
        l.ffn_norm = b.require(t("ffn_norm"), {n_embd});
        l.ffn_gate = b.require(t("ffn_gate"), {n_embd, hp_.n_ff});
        l.ffn_up = b.require(t("ffn_up"), {n_embd, hp_.n_ff});
        l.ffn_down = b.require(t("ffn_down"), {hp_.n_ff, n_embd});
        const std::pair<const char*, const TensorView*> vectors[] = {
            {"attn_norm", &l.attn_norm}, {"ffn_norm", &l.ffn_norm}, {"attn_q_norm", &l.q_norm},
            {"attn_k_norm", &l.k_norm},  {"attn_q.bias", &l.bq},    {"attn_k.bias", &l.bk},
            {"attn_v.bias", &l.bv},      {"attn_output.bias", &l.bo}};
        for (const auto& [name, view] : vectors) require_f32(*file_, t(name), *view);
        w_.layers.push_back(l);
    }
    require_f32(*file_, "output_norm.weight", w_.output_norm);
    require_f32(*file_, "output.bias", w_.output_bias);
}

void add_bias(float* x, const TensorView& bias, int64_t n_tokens, int64_t width) {
    if (bias.empty()) return;
    for (int64_t t = 0; t < n_tokens; ++t) kernels::add_inplace(x + t * width, bias.f32(), width);
}

void DenseModel::attention_block(int il, const Batch& batch, KvStore& kv, ThreadPool& pool, const float* cur,
                                 float* out) {
    const LayerWeights& l = w_.layers[il];
    const int64_t n = batch.size();
    const int64_t q_w = l.wq.ne[1], k_w = l.wk.ne[1], v_w = l.wv.ne[1];
    std::vector<float> q(n * q_w), k(n * k_w), v(n * v_w), attn(n * l.wo.ne[0]);
    kernels::matmul(l.wq, cur, n, q.data(), pool);
    kernels::matmul(l.wk, cur, n, k.data(), pool);
    kernels::matmul(l.wv, cur, n, v.data(), pool);
    add_bias(q.data(), l.bq, n, q_w);
    add_bias(k.data(), l.bk, n, k_w);
    add_bias(v.data(), l.bv, n, v_w);
    const int hd = hp_.head_dim_k;
    if (qk_norm_) {
        for (int64_t h = 0; h < n * hp_.n_head; ++h) kernels::rms_norm(&q[h * hd], l.q_norm.f32(), &q[h * hd], hd, hp_.rms_eps);
        for (int64_t h = 0; h < n * hp_.n_head_kv; ++h) kernels::rms_norm(&k[h * hd], l.k_norm.f32(), &k[h * hd], hd, hp_.rms_eps);
    }
    std::vector<float> cs(static_cast<size_t>(hp_.rope.n_dims));
    for (int64_t t = 0; t < n; ++t) {
        kernels::rope_cache(hp_.rope, batch.positions[t], cs.data());
        kernels::rope_apply(hp_.rope, cs.data(), &q[t * q_w], hp_.n_head, hd);
        kernels::rope_apply(hp_.rope, cs.data(), &k[t * k_w], hp_.n_head_kv, hd);
    }
    const AttentionOptions opt{hp_.n_head, hp_.n_head_kv, hp_.head_dim_k, hp_.head_dim_v,
                               1.0f / std::sqrt(static_cast<float>(hp_.head_dim_k))};
    attention(opt, batch, il, kv, q.data(), k.data(), v.data(), attn.data(), pool);
    kernels::matmul(l.wo, attn.data(), n, out, pool);
    add_bias(out, l.bo, n, hp_.n_embd);
}

void DenseModel::ffn_block(int il, int64_t n, ThreadPool& pool, const float* cur, float* out) {
    const LayerWeights& l = w_.layers[il];
    std::vector<float> gate(n * hp_.n_ff), up(n * hp_.n_ff);
    kernels::matmul(l.ffn_gate, cur, n, gate.data(), pool);
    kernels::matmul(l.ffn_up, cur, n, up.data(), pool);
    kernels::swiglu(gate.data(), up.data(), gate.data(), n * hp_.n_ff);
    kernels::matmul(l.ffn_down, gate.data(), n, out, pool);
}

void DenseModel::layer_forward(int il, const Batch& batch, KvStore& kv, ThreadPool& pool, std::vector<float>& x) {
    const LayerWeights& l = w_.layers[il];
    const int64_t n = batch.size(), e = hp_.n_embd;
    std::vector<float> cur(n * e), delta(n * e);
    for (int64_t t = 0; t < n; ++t) kernels::rms_norm(&x[t * e], l.attn_norm.f32(), &cur[t * e], e, hp_.rms_eps);
    attention_block(il, batch, kv, pool, cur.data(), delta.data());
    kernels::add_inplace(x.data(), delta.data(), n * e);
    for (int64_t t = 0; t < n; ++t) kernels::rms_norm(&x[t * e], l.ffn_norm.f32(), &cur[t * e], e, hp_.rms_eps);
    ffn_block(il, n, pool, cur.data(), delta.data());
    kernels::add_inplace(x.data(), delta.data(), n * e);
}

void DenseModel::forward_impl(const Batch& batch, KvStore& kv, ThreadPool& pool, float* out) {
    const int64_t n = batch.size(), e = hp_.n_embd;
    std::vector<float> x(n * e);
    kernels::get_rows(w_.token_embd, batch.tokens.data(), n, x.data());
    for (int il = 0; il < hp_.n_layer; ++il) layer_forward(il, batch, kv, pool, x);

    // Only the rows whose logits were asked for go through the output norm and projection.
    std::vector<float> rows;
    for (int64_t t = 0; t < n; ++t) {
        if (!batch.logits[t]) continue;
        rows.resize(rows.size() + e);
        kernels::rms_norm(&x[t * e], w_.output_norm.f32(), &rows[rows.size() - e], e, hp_.rms_eps);
    }
    const int64_t n_out = static_cast<int64_t>(rows.size()) / e;
    kernels::matmul(w_.output, rows.data(), n_out, out, pool);
    add_bias(out, w_.output_bias, n_out, info_.n_vocab);
}

}  // namespace

std::unique_ptr<Model> load_dense_llama(const ArchSpec& spec, std::shared_ptr<const gguf::File> file,
                                        const LoadOptions& /*options*/) {
    return std::make_unique<DenseModel>(spec, std::move(file));
}

}  // namespace sobre::model
