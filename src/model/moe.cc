#include "model/moe.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "core/error.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/ops.h"

namespace sobre::model {
namespace {

// Indices of the k largest values, largest first; ties keep the lower index first.
void top_k(const float* v, int n, int k, std::vector<int32_t>& idx) {
    idx.resize(static_cast<size_t>(n));
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [v](int32_t a, int32_t b) { return v[a] > v[b]; });
    idx.resize(static_cast<size_t>(k));
}

void gate_probs(Gating g, const float* logits, int n, float* probs) {
    switch (g) {
        case Gating::kSoftmax:
            std::copy(logits, logits + n, probs);
            kernels::softmax(probs, n, 1.0f);
            break;
        case Gating::kSigmoid:
            for (int i = 0; i < n; ++i) probs[i] = 1.0f / (1.0f + std::exp(-logits[i]));
            break;
        case Gating::kSqrtSoftplus:
            for (int i = 0; i < n; ++i) probs[i] = std::sqrt(std::log1p(std::exp(logits[i])));
            break;
    }
}

// Keeps the n_group_used groups with the largest sum of their top-2 selection scores; every
// expert of the other groups gets -inf.
void limit_groups(const MoeOptions& opt, float* selection, std::vector<int32_t>& scratch) {
    const int per_group = opt.n_expert / opt.n_group;
    std::vector<float> group_score(static_cast<size_t>(opt.n_group));
    for (int g = 0; g < opt.n_group; ++g) {
        top_k(selection + g * per_group, per_group, std::min(2, per_group), scratch);
        float s = 0;
        for (int32_t i : scratch) s += selection[g * per_group + i];
        group_score[g] = s;
    }
    top_k(group_score.data(), opt.n_group, opt.n_group_used, scratch);
    std::vector<bool> keep(static_cast<size_t>(opt.n_group), false);
    for (int32_t g : scratch) keep[g] = true;
    for (int g = 0; g < opt.n_group; ++g) {
        if (keep[g]) continue;
        std::fill(selection + g * per_group, selection + (g + 1) * per_group, -INFINITY);
    }
}

}  // namespace

MoeHparams read_moe_hparams(const KeyReader& keys, const TransformerHparams& hp, const MoeKeyRules& rules) {
    MoeHparams mh;
    MoeOptions& o = mh.opt;
    o.n_expert = static_cast<int>(keys.int_in("expert_count", 0, 4096, 0));
    if (o.n_expert == 0) return mh;
    o.n_expert_used = static_cast<int>(keys.int_in("expert_used_count", 1, o.n_expert));
    o.n_group = static_cast<int>(keys.int_in("expert_group_count", 1, o.n_expert, 1));
    o.n_group_used = static_cast<int>(keys.int_in("expert_group_used_count", 1, o.n_group, 1));
    if (o.n_expert % o.n_group != 0) {
        fail(ErrorKind::kCorrupt, "{}: {} = {} does not divide {} = {}", keys.file().path(),
             keys.key("expert_group_count"), o.n_group, keys.key("expert_count"), o.n_expert);
    }
    const int64_t gating = keys.int_in("expert_gating_func", 1, 4, static_cast<int64_t>(rules.default_gating));
    if (gating == 3) {
        fail(ErrorKind::kUnsupported, "{}: {} = 3 (softmax over the selected weights) is not supported",
             keys.file().path(), keys.key("expert_gating_func"));
    }
    o.gating = static_cast<Gating>(gating);
    const auto norm = keys.file().get_bool(keys.key("expert_weights_norm"));
    o.norm_weights = rules.norm_forced || norm.value_or(false);
    o.weights_scale = rules.reads_scale ? keys.f32("expert_weights_scale", 0.0f) : 0.0f;
    mh.n_ff_exp = keys.int_in("expert_feed_forward_length", 1, int64_t{1} << 20, hp.n_ff);
    mh.n_shared = static_cast<int>(keys.int_in("expert_shared_count", 0, 256, 0));
    mh.n_dense_lead = static_cast<int>(keys.int_in("leading_dense_block_count", 0, hp.n_layer, 0));
    return mh;
}

std::string describe_moe(const MoeHparams& mh) {
    const MoeOptions& o = mh.opt;
    const char* gating = o.gating == Gating::kSigmoid   ? "sigmoid"
                         : o.gating == Gating::kSoftmax ? "softmax"
                                                        : "sqrt-softplus";
    return fmt::format("{} experts, {} used, ff {}, {} shared, {} dense lead, groups {}/{}, gating {}, norm {}, scale {}",
                       o.n_expert, o.n_expert_used, mh.n_ff_exp, mh.n_shared, mh.n_dense_lead, o.n_group_used,
                       o.n_group, gating, o.norm_weights ? "yes" : "no", o.weights_scale);
}

MoeWeights bind_moe(Binder& b, int il, int64_t n_embd, const MoeHparams& mh, bool bias_required) {
    const int64_t n_exp = mh.opt.n_expert, n_ff = mh.n_ff_exp;
    const std::string why = fmt::format("expert_count = {}, expert_feed_forward_length = {}", n_exp, n_ff);
    MoeWeights w;
    w.gate_inp = b.require(layer_tensor(il, "ffn_gate_inp"), {n_embd, n_exp}, why);
    const std::string bias = layer_tensor(il, "exp_probs_b", "bias");
    w.probs_bias = bias_required ? b.require_f32(bias, {n_exp}) : b.optional_f32(bias, {n_exp});
    w.gate_exps = b.require(layer_tensor(il, "ffn_gate_exps"), {n_embd, n_ff, n_exp}, why);
    w.up_exps = b.require(layer_tensor(il, "ffn_up_exps"), {n_embd, n_ff, n_exp}, why);
    w.down_exps = b.require(layer_tensor(il, "ffn_down_exps"), {n_ff, n_embd, n_exp}, why);
    return w;
}

namespace {

// Token t's weights from its gated probabilities and chosen experts (already in out.experts).
void set_weights(const MoeOptions& opt, const float* probs, int64_t t, Routing& out) {
    const int k = opt.n_expert_used;
    float* w = &out.weights[t * k];
    for (int j = 0; j < k; ++j) w[j] = probs[out.experts[t * k + j]];  // unbiased probabilities
    if (opt.norm_weights) {
        float sum = 0;
        for (int j = 0; j < k; ++j) sum += w[j];
        sum = std::max(sum, 6.103515625e-5f);  // the reference's clamp (smallest normal f16)
        for (int j = 0; j < k; ++j) w[j] /= sum;
    }
    if (opt.weights_scale != 0.0f && opt.weights_scale != 1.0f) {
        for (int j = 0; j < k; ++j) w[j] *= opt.weights_scale;
    }
}

}  // namespace

void route(const MoeOptions& opt, const float* logits, const float* selection_bias, int64_t n_tokens,
           Routing& out) {
    const int n = opt.n_expert, k = opt.n_expert_used;
    out.experts.resize(static_cast<size_t>(n_tokens * k));
    out.weights.resize(static_cast<size_t>(n_tokens * k));
    std::vector<float> probs(static_cast<size_t>(n)), selection(static_cast<size_t>(n));
    std::vector<int32_t> chosen, scratch;
    for (int64_t t = 0; t < n_tokens; ++t) {
        gate_probs(opt.gating, logits + t * n, n, probs.data());
        for (int i = 0; i < n; ++i) selection[i] = probs[i] + (selection_bias ? selection_bias[i] : 0.0f);
        if (opt.n_group > 1) limit_groups(opt, selection.data(), scratch);
        top_k(selection.data(), n, k, chosen);
        std::copy(chosen.begin(), chosen.end(), &out.experts[t * k]);
        set_weights(opt, probs.data(), t, out);
    }
}

void route_fixed(const MoeOptions& opt, const float* logits, const int32_t* experts, int64_t n_tokens,
                 Routing& out) {
    const int n = opt.n_expert, k = opt.n_expert_used;
    out.experts.assign(experts, experts + n_tokens * k);
    out.weights.resize(static_cast<size_t>(n_tokens * k));
    std::vector<float> probs(static_cast<size_t>(n));
    for (int64_t t = 0; t < n_tokens; ++t) {
        gate_probs(opt.gating, logits + t * n, n, probs.data());
        set_weights(opt, probs.data(), t, out);
    }
}

void moe_ffn(const MoeOptions& opt, const MoeWeights& w, const float* x, int64_t n_tokens, float* out,
             ThreadPool& pool, MoeStats* stats) {
    std::vector<float> logits(static_cast<size_t>(n_tokens * opt.n_expert));
    kernels::matmul(w.gate_inp, x, n_tokens, logits.data(), pool);
    Routing r;
    route(opt, logits.data(), w.probs_bias.empty() ? nullptr : w.probs_bias.f32(), n_tokens, r);
    moe_experts(opt, w, r, x, n_tokens, out, pool, stats);
}

void clamp_swiglu_inputs(float* gate, float* up, int64_t n, float limit) {
    if (limit <= 1e-6f) return;
    for (int64_t i = 0; i < n; ++i) {
        gate[i] = std::min(gate[i], limit);
        up[i] = std::clamp(up[i], -limit, limit);
    }
}

namespace {

void count_expert(MoeStats* stats, const TensorView& g, const TensorView& u, const TensorView& d) {
    if (!stats) return;
    stats->expert_matmuls += 3;
    stats->expert_bytes += (g.row_size() * g.ne[1]) + (u.row_size() * u.ne[1]) + (d.row_size() * d.ne[1]);
}

// out[t] = sum over j < k of slots[t * k + j] (each n_embd floats, already weighted), added in
// selection order as the reference does.
void sum_in_selection_order(const float* slots, int64_t n_tokens, int k, int64_t n_embd, float* out) {
    for (int64_t t = 0; t < n_tokens; ++t) {
        float* o = out + t * n_embd;
        std::copy_n(slots + t * k * n_embd, n_embd, o);
        for (int j = 1; j < k; ++j) kernels::add_inplace(o, slots + (t * k + j) * n_embd, n_embd);
    }
}

// Decode of one token: the chosen experts' gate and up products in one pass of the pool, then
// their down products in another (kernels::matmul_vectors), instead of three passes per expert.
// The same products and float steps as the general path, so the same bits.
void experts_one_token(const MoeOptions& opt, const MoeWeights& w, const Routing& r, const float* x,
                       float* out, ThreadPool& pool, MoeStats* stats) {
    const int64_t n_embd = w.gate_exps.ne[0], n_ff = w.gate_exps.ne[1];
    const int k = opt.n_expert_used;
    thread_local std::vector<float> gate, up, down;
    thread_local std::vector<kernels::VectorProduct> products;
    gate.resize(static_cast<size_t>(k * n_ff));
    up.resize(gate.size());
    down.resize(static_cast<size_t>(k * n_embd));
    products.clear();
    for (int j = 0; j < k; ++j) {
        const int e = r.experts[j];
        products.push_back({w.gate_exps.slice(e), x, &gate[j * n_ff]});
        products.push_back({w.up_exps.slice(e), x, &up[j * n_ff]});
        count_expert(stats, w.gate_exps.slice(e), w.up_exps.slice(e), w.down_exps.slice(e));
    }
    kernels::matmul_vectors(products, pool);
    clamp_swiglu_inputs(gate.data(), up.data(), k * n_ff, opt.swiglu_limit);
    kernels::swiglu(gate.data(), up.data(), gate.data(), k * n_ff);
    products.clear();
    for (int j = 0; j < k; ++j)
        products.push_back({w.down_exps.slice(r.experts[j]), &gate[j * n_ff], &down[j * n_embd]});
    kernels::matmul_vectors(products, pool);
    for (int j = 0; j < k; ++j) {
        const float wt = r.weights[j];
        for (int64_t c = 0; c < n_embd; ++c) down[j * n_embd + c] *= wt;
    }
    sum_in_selection_order(down.data(), 1, k, n_embd, out);
}

}  // namespace

void moe_experts(const MoeOptions& opt, const MoeWeights& w, const Routing& r, const float* x, int64_t n_tokens,
                 float* out, ThreadPool& pool, MoeStats* stats) {
    if (n_tokens == 1) {
        experts_one_token(opt, w, r, x, out, pool, stats);
        return;
    }
    const int64_t n_embd = w.gate_exps.ne[0], n_ff = w.gate_exps.ne[1];
    const int k = opt.n_expert_used;

    // Group the (token, slot) pairs by expert so each expert's matrices are streamed once.
    std::vector<std::vector<int64_t>> by_expert(static_cast<size_t>(opt.n_expert));
    for (int64_t i = 0; i < n_tokens * k; ++i) by_expert[r.experts[i]].push_back(i);

    // Reused across calls (a prefill batch's slots are tens of MB: allocating them per layer
    // cost a zeroing pass and a page fault per 4 KiB). Every slot is written before it is read.
    thread_local std::vector<float> slot_out, xs, gate, up, down;
    if (slot_out.size() < static_cast<size_t>(n_tokens * k * n_embd))
        slot_out.resize(static_cast<size_t>(n_tokens * k * n_embd));
    for (int e = 0; e < opt.n_expert; ++e) {
        const std::vector<int64_t>& slots = by_expert[e];
        if (slots.empty()) continue;
        const auto m = static_cast<int64_t>(slots.size());
        xs.resize(static_cast<size_t>(m * n_embd));
        for (int64_t i = 0; i < m; ++i) std::copy_n(x + slots[i] / k * n_embd, n_embd, &xs[i * n_embd]);
        gate.resize(static_cast<size_t>(m * n_ff));
        up.resize(gate.size());
        down.resize(xs.size());
        const TensorView g = w.gate_exps.slice(e), u = w.up_exps.slice(e), d = w.down_exps.slice(e);
        const kernels::SharedInputOutput gate_up[] = {{g, gate.data()}, {u, up.data()}};
        kernels::matmul_same_input(gate_up, xs.data(), m, pool);
        clamp_swiglu_inputs(gate.data(), up.data(), m * n_ff, opt.swiglu_limit);
        kernels::swiglu(gate.data(), up.data(), gate.data(), m * n_ff);
        kernels::matmul(d, gate.data(), m, down.data(), pool);
        for (int64_t i = 0; i < m; ++i) {
            const float wt = r.weights[slots[i]];
            float* dst = &slot_out[slots[i] * n_embd];
            for (int64_t c = 0; c < n_embd; ++c) dst[c] = down[i * n_embd + c] * wt;
        }
        count_expert(stats, g, u, d);
    }
    sum_in_selection_order(slot_out.data(), n_tokens, k, n_embd, out);
}

}  // namespace sobre::model
