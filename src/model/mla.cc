#include "model/mla.h"

#include <fmt/format.h>

#include <cmath>
#include <vector>

#include "core/error.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/ops.h"
#include "model/attention.h"

namespace sobre::model {

MlaHparams read_mla_hparams(const KeyReader& keys, const TransformerHparams& hp) {
    MlaHparams mp;
    const std::string& path = keys.file().path();
    mp.n_head = hp.n_head;
    mp.rms_eps = hp.rms_eps;
    mp.rope = hp.rope;
    mp.q_lora_rank = static_cast<int>(keys.int_in("attention.q_lora_rank", 0, 1 << 16, 0));
    mp.kv_lora_rank = static_cast<int>(keys.int_in("attention.kv_lora_rank", 1, 1 << 16));
    mp.qk_rope = hp.rope.n_dims;
    const int64_t dk = keys.int_in("attention.key_length_mla", mp.qk_rope + 1, 1 << 16);
    mp.qk_nope = static_cast<int>(dk - mp.qk_rope);
    mp.v_head_dim = static_cast<int>(keys.int_in("attention.value_length_mla", 1, 1 << 16));
    if (hp.n_head_kv != 1 || hp.head_dim_k != mp.kv_lora_rank + mp.qk_rope || hp.head_dim_v != mp.kv_lora_rank) {
        fail(ErrorKind::kCorrupt,
             "{}: MLA keys disagree: {} = {}, {} = {}, {} = {} (expected 1, kv_lora_rank {} + rope {}, kv_lora_rank)",
             path, keys.key("attention.head_count_kv"), hp.n_head_kv, keys.key("attention.key_length"), hp.head_dim_k,
             keys.key("attention.value_length"), hp.head_dim_v, mp.kv_lora_rank, mp.qk_rope);
    }
    // YaRN as the reference sets it up for deepseek2: the rotated dims keep magnitude 1 and the
    // magnitude correction goes into the attention scale instead.
    float mscale = 1.0f;
    if (hp.rope.ext_factor != 0.0f) {
        const float log_scale = std::log(1.0f / hp.rope.freq_scale);
        const float attn_factor = keys.f32("rope.scaling.attn_factor", 1.0f);
        mp.rope.attn_factor = attn_factor / (1.0f + 0.1f * log_scale);
        // The converter writes 0.1 * mscale_all_dim; the reference divides by 0.1 again.
        const float log_mul = keys.f32("rope.scaling.yarn_log_multiplier", 0.0f) / 0.1f;
        mscale = attn_factor * (1.0f + 0.1f * log_mul * log_scale);
    }
    mp.kq_scale = mscale * mscale / std::sqrt(static_cast<float>(dk));
    return mp;
}

MlaWeights bind_mla(Binder& b, const MlaHparams& mp, int64_t n_embd, int il) {
    auto t = [il](std::string_view n) { return layer_tensor(il, n); };
    const int64_t dk = mp.qk_nope + mp.qk_rope, q_w = int64_t{mp.n_head} * dk;
    const std::string why = fmt::format("kv_lora_rank = {}, q_lora_rank = {}, key_length_mla = {}, "
                                        "value_length_mla = {}, rope.dimension_count = {}, head_count = {}",
                                        mp.kv_lora_rank, mp.q_lora_rank, dk, mp.v_head_dim, mp.qk_rope, mp.n_head);
    MlaWeights w;
    if (mp.q_lora_rank > 0) {
        w.wq_a = b.require(t("attn_q_a"), {n_embd, mp.q_lora_rank}, why);
        w.q_a_norm = b.require_f32(t("attn_q_a_norm"), {mp.q_lora_rank});
        w.wq_b = b.require(t("attn_q_b"), {mp.q_lora_rank, q_w}, why);
    } else {
        w.wq = b.require(t("attn_q"), {n_embd, q_w}, why);
    }
    w.wkv_a = b.require(t("attn_kv_a_mqa"), {n_embd, mp.cache_width()}, why);
    w.kv_a_norm = b.require_f32(t("attn_kv_a_norm"), {mp.kv_lora_rank});
    if (!b.has(t("attn_k_b")) && b.has(t("attn_kv_b"))) {
        fail(ErrorKind::kUnsupported, "{}: layer {} has the legacy merged attn_kv_b; convert the model again "
             "(current converters write attn_k_b / attn_v_b)", b.path(), il);
    }
    w.wk_b = b.require(t("attn_k_b"), {mp.qk_nope, mp.kv_lora_rank, mp.n_head}, why);
    w.wv_b = b.require(t("attn_v_b"), {mp.kv_lora_rank, mp.v_head_dim, mp.n_head}, why);
    w.wo = b.require(t("attn_output"), {int64_t{mp.n_head} * mp.v_head_dim, n_embd}, why);
    return w;
}

std::vector<float> mla_q_latent(const MlaHparams& mp, const MlaWeights& w, const float* cur, int64_t n,
                                ThreadPool& pool) {
    std::vector<float> qa(static_cast<size_t>(n * mp.q_lora_rank));
    kernels::matmul(w.wq_a, cur, n, qa.data(), pool);
    for (int64_t t = 0; t < n; ++t) {
        float* row = &qa[t * mp.q_lora_rank];
        kernels::rms_norm(row, w.q_a_norm.f32(), row, mp.q_lora_rank, mp.rms_eps);
    }
    return qa;
}

namespace {

// The full query [T][n_head][qk_nope + qk_rope] (nope first, rope last); `q_latent` is used
// instead of recomputing it when given.
std::vector<float> project_q(const MlaHparams& mp, const MlaWeights& w, const float* cur, int64_t n,
                             const float* q_latent, ThreadPool& pool) {
    const int64_t q_w = int64_t{mp.n_head} * (mp.qk_nope + mp.qk_rope);
    std::vector<float> q(static_cast<size_t>(n * q_w));
    if (mp.q_lora_rank == 0) {
        kernels::matmul(w.wq, cur, n, q.data(), pool);
        return q;
    }
    std::vector<float> qa;
    if (!q_latent) {
        qa = mla_q_latent(mp, w, cur, n, pool);
        q_latent = qa.data();
    }
    kernels::matmul(w.wq_b, q_latent, n, q.data(), pool);
    return q;
}

// Applies a per-head matrix (slice h of a 3-D tensor) to `width_in` values of each token's head h
// in `in` (row stride `in_stride`), writing `out` rows at `out_offset` with stride `out_stride`.
void per_head_matmul(const TensorView& w3, int n_head, const float* in, int64_t in_stride, int64_t n,
                     float* out, int64_t out_stride, ThreadPool& pool) {
    const int64_t width_in = w3.ne[0], width_out = w3.ne[1];
    std::vector<float> x(static_cast<size_t>(n * width_in)), y(static_cast<size_t>(n * width_out));
    for (int h = 0; h < n_head; ++h) {
        for (int64_t t = 0; t < n; ++t) std::copy_n(in + t * in_stride + h * width_in, width_in, &x[t * width_in]);
        kernels::matmul(w3.slice(h), x.data(), n, y.data(), pool);
        for (int64_t t = 0; t < n; ++t) std::copy_n(&y[t * width_out], width_out, out + t * out_stride + h * width_out);
    }
}

}  // namespace

void mla_attention(const MlaHparams& mp, const MlaWeights& w, int il, const Batch& batch, KvStore& kv,
                   ThreadPool& pool, const float* cur, float* out, const MlaCallOptions& call) {
    const int64_t n = batch.size(), dk = mp.qk_nope + mp.qk_rope, width = mp.cache_width();
    const std::vector<float> q = project_q(mp, w, cur, n, call.q_latent, pool);

    // Latent key rows [c_kv normed | k_pe roped]: exactly what the cache stores.
    std::vector<float> k(static_cast<size_t>(n * width));
    kernels::matmul(w.wkv_a, cur, n, k.data(), pool);
    // Absorbed query per head: [W_UK^T q_nope (kv_lora) | q_pe roped (qk_rope)].
    std::vector<float> qk(static_cast<size_t>(n * mp.n_head * width));
    std::vector<float> q_nope(static_cast<size_t>(n * mp.n_head * mp.qk_nope));
    for (int64_t r = 0; r < n * mp.n_head; ++r) std::copy_n(&q[r * dk], mp.qk_nope, &q_nope[r * mp.qk_nope]);
    std::vector<float> q_abs(static_cast<size_t>(n * mp.n_head * mp.kv_lora_rank));
    per_head_matmul(w.wk_b, mp.n_head, q_nope.data(), int64_t{mp.n_head} * mp.qk_nope, n, q_abs.data(),
                    int64_t{mp.n_head} * mp.kv_lora_rank, pool);

    std::vector<float> cs(static_cast<size_t>(mp.qk_rope));
    for (int64_t t = 0; t < n; ++t) {
        kernels::rope_cache(mp.rope, batch.positions[t], cs.data());
        float* kt = &k[t * width];
        kernels::rms_norm(kt, w.kv_a_norm.f32(), kt, mp.kv_lora_rank, mp.rms_eps);
        kernels::rope_apply(mp.rope, cs.data(), kt + mp.kv_lora_rank, 1, mp.qk_rope);
        for (int h = 0; h < mp.n_head; ++h) {
            float* dst = &qk[(t * mp.n_head + h) * width];
            std::copy_n(&q_abs[(t * mp.n_head + h) * mp.kv_lora_rank], mp.kv_lora_rank, dst);
            std::copy_n(&q[(t * mp.n_head + h) * dk + mp.qk_nope], mp.qk_rope, dst + mp.kv_lora_rank);
            kernels::rope_apply(mp.rope, cs.data(), dst + mp.kv_lora_rank, 1, mp.qk_rope);
        }
    }

    // Multi-query attention over the latent cache; V is the c_kv part of each cached row.
    const AttentionOptions opt{mp.n_head, 1, static_cast<int>(width), mp.kv_lora_rank, mp.kq_scale, true};
    std::vector<float> o_lat(static_cast<size_t>(n * mp.n_head * mp.kv_lora_rank));
    attention(opt, batch, il, kv, qk.data(), k.data(), nullptr, o_lat.data(), pool, call.positions);

    // Per-head value up-projection, then the output projection.
    std::vector<float> o(static_cast<size_t>(n * mp.n_head * mp.v_head_dim));
    per_head_matmul(w.wv_b, mp.n_head, o_lat.data(), int64_t{mp.n_head} * mp.kv_lora_rank, n, o.data(),
                    int64_t{mp.n_head} * mp.v_head_dim, pool);
    kernels::matmul(w.wo, o.data(), n, out, pool);
}

}  // namespace sobre::model
