#include "model/gqa.h"

#include <cmath>
#include <vector>

#include "kernels/cpu/matmul.h"
#include "kernels/cpu/ops.h"
#include "model/attention.h"

namespace sobre::model {

GqaWeights bind_gqa(Binder& b, const TransformerHparams& hp, int il, QkNorm qk_norm) {
    auto t = [il](std::string_view n, std::string_view s = "weight") { return layer_tensor(il, n, s); };
    const int64_t e = hp.n_embd;
    const int64_t q_w = int64_t{hp.n_head} * hp.head_dim_k, k_w = int64_t{hp.n_head_kv} * hp.head_dim_k;
    const int64_t v_w = int64_t{hp.n_head_kv} * hp.head_dim_v, o_w = int64_t{hp.n_head} * hp.head_dim_v;
    GqaWeights w;
    w.wq = b.require(t("attn_q"), {e, q_w});
    w.wk = b.require(t("attn_k"), {e, k_w});
    w.wv = b.require(t("attn_v"), {e, v_w});
    w.bq = b.optional_f32(t("attn_q", "bias"), {q_w});
    w.bk = b.optional_f32(t("attn_k", "bias"), {k_w});
    w.bv = b.optional_f32(t("attn_v", "bias"), {v_w});
    w.wo = b.require(t("attn_output"), {o_w, e});
    w.bo = b.optional_f32(t("attn_output", "bias"), {e});
    switch (qk_norm) {
        case QkNorm::kNone: break;
        case QkNorm::kPerHead:
            w.q_norm = b.require_f32(t("attn_q_norm"), {hp.head_dim_k});
            w.k_norm = b.require_f32(t("attn_k_norm"), {hp.head_dim_k});
            break;
        case QkNorm::kPerHeadMaybe:
            w.q_norm = b.optional_f32(t("attn_q_norm"), {hp.head_dim_k});
            w.k_norm = w.q_norm.empty() ? TensorView{} : b.require_f32(t("attn_k_norm"), {hp.head_dim_k});
            qk_norm = w.q_norm.empty() ? QkNorm::kNone : QkNorm::kPerHead;
            break;
        case QkNorm::kFull:
            w.q_norm = b.require_f32(t("attn_q_norm"), {q_w});
            w.k_norm = b.require_f32(t("attn_k_norm"), {k_w});
            break;
    }
    w.qk_norm = qk_norm;
    return w;
}

void add_bias(float* x, const TensorView& bias, int64_t n_tokens, int64_t width) {
    if (bias.empty()) return;
    for (int64_t t = 0; t < n_tokens; ++t) kernels::add_inplace(x + t * width, bias.f32(), width);
}

namespace {

// RMSNorm of `rows` consecutive vectors of `width` values, in place.
void norm_rows(float* x, int64_t rows, int64_t width, const TensorView& weight, float eps) {
    for (int64_t r = 0; r < rows; ++r) kernels::rms_norm(x + r * width, weight.f32(), x + r * width, width, eps);
}

}  // namespace

void gqa_attention(const TransformerHparams& hp, const GqaWeights& w, int il, const Batch& batch, KvStore& kv,
                   ThreadPool& pool, const float* cur, float* out) {
    const int64_t n = batch.size();
    const int64_t q_w = w.wq.ne[1], k_w = w.wk.ne[1], v_w = w.wv.ne[1];
    const int hd = hp.head_dim_k;
    std::vector<float> q(n * q_w), k(n * k_w), v(n * v_w), attn(n * w.wo.ne[0]);
    const kernels::SharedInputOutput qkv[] = {{w.wq, q.data()}, {w.wk, k.data()}, {w.wv, v.data()}};
    kernels::matmul_same_input(qkv, cur, n, pool);
    add_bias(q.data(), w.bq, n, q_w);
    add_bias(k.data(), w.bk, n, k_w);
    add_bias(v.data(), w.bv, n, v_w);
    if (w.qk_norm == QkNorm::kPerHead) {
        norm_rows(q.data(), n * hp.n_head, hd, w.q_norm, hp.rms_eps);
        norm_rows(k.data(), n * hp.n_head_kv, hd, w.k_norm, hp.rms_eps);
    } else if (w.qk_norm == QkNorm::kFull) {
        norm_rows(q.data(), n, q_w, w.q_norm, hp.rms_eps);
        norm_rows(k.data(), n, k_w, w.k_norm, hp.rms_eps);
    }
    std::vector<float> cs(static_cast<size_t>(hp.rope.n_dims));
    for (int64_t t = 0; t < n; ++t) {
        kernels::rope_cache(hp.rope, batch.positions[t], cs.data());
        kernels::rope_apply(hp.rope, cs.data(), &q[t * q_w], hp.n_head, hd);
        kernels::rope_apply(hp.rope, cs.data(), &k[t * k_w], hp.n_head_kv, hd);
    }
    const AttentionOptions opt{hp.n_head, hp.n_head_kv, hp.head_dim_k, hp.head_dim_v,
                               1.0f / std::sqrt(static_cast<float>(hp.head_dim_k))};
    attention(opt, batch, il, kv, q.data(), k.data(), v.data(), attn.data(), pool);
    kernels::matmul(w.wo, attn.data(), n, out, pool);
    add_bias(out, w.bo, n, hp.n_embd);
}

}  // namespace sobre::model
