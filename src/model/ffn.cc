#include "model/ffn.h"

#include <fmt/format.h>

#include <string>
#include <vector>

#include "kernels/cpu/matmul.h"
#include "kernels/cpu/ops.h"

namespace sobre::model {
namespace {

void add_output_bias(float* out, const TensorView& bias, int64_t n_rows, int64_t n_vocab) {
    if (bias.empty()) return;
    for (int64_t r = 0; r < n_rows; ++r) kernels::add_inplace(out + r * n_vocab, bias.f32(), n_vocab);
}

}  // namespace

FfnWeights bind_ffn(Binder& b, int il, int64_t n_embd, int64_t n_ff, std::string_view suffix, std::string_view why) {
    auto t = [&](std::string_view n) { return layer_tensor(il, std::string(n) + std::string(suffix)); };
    return {b.require(t("ffn_gate"), {n_embd, n_ff}, why), b.require(t("ffn_up"), {n_embd, n_ff}, why),
            b.require(t("ffn_down"), {n_ff, n_embd}, why)};
}

void ffn_swiglu(const FfnWeights& w, const float* x, int64_t n, float* out, ThreadPool& pool) {
    const int64_t n_ff = w.gate.ne[1];
    std::vector<float> gate(n * n_ff), up(n * n_ff);
    const kernels::SharedInputOutput gate_up[] = {{w.gate, gate.data()}, {w.up, up.data()}};
    kernels::matmul_same_input(gate_up, x, n, pool);
    kernels::swiglu(gate.data(), up.data(), gate.data(), n * n_ff);
    kernels::matmul(w.down, gate.data(), n, out, pool);
}

FfnLayer bind_ffn_layer(Binder& b, int il, int64_t n_embd, int64_t n_ff, const MoeHparams& mh, bool bias_required) {
    FfnLayer l;
    l.is_moe = mh.opt.n_expert > 0 && il >= mh.n_dense_lead;
    if (!l.is_moe) {
        l.dense = bind_ffn(b, il, n_embd, n_ff);
        return l;
    }
    l.moe = bind_moe(b, il, n_embd, mh, bias_required);
    if (mh.n_shared > 0) {
        l.shexp = bind_ffn(b, il, n_embd, mh.n_ff_exp * mh.n_shared, "_shexp",
                           fmt::format("expert_shared_count = {} x expert_feed_forward_length = {}", mh.n_shared,
                                       mh.n_ff_exp));
    }
    return l;
}

void ffn_layer_forward(const FfnLayer& l, const MoeOptions& opt, const float* x, int64_t n, float* out,
                       ThreadPool& pool) {
    if (!l.is_moe) {
        ffn_swiglu(l.dense, x, n, out, pool);
        return;
    }
    moe_ffn(opt, l.moe, x, n, out, pool);
    if (l.shexp.gate.empty()) return;
    const int64_t n_embd = l.shexp.down.ne[1];
    std::vector<float> shared(static_cast<size_t>(n * n_embd));
    ffn_swiglu(l.shexp, x, n, shared.data(), pool);
    kernels::add_inplace(out, shared.data(), n * n_embd);
}

void output_logits(const OutputHead& head, const Batch& batch, const float* x, int64_t e, float eps,
                   ThreadPool& pool, float* out) {
    std::vector<float> rows;
    for (int64_t t = 0; t < batch.size(); ++t) {
        if (!batch.logits[t]) continue;
        rows.resize(rows.size() + static_cast<size_t>(e));
        kernels::rms_norm(x + t * e, head.norm.f32(), &rows[rows.size() - static_cast<size_t>(e)], e, eps);
    }
    const int64_t n_out = static_cast<int64_t>(rows.size()) / e;
    kernels::matmul(head.output, rows.data(), n_out, out, pool);
    add_output_bias(out, head.bias, n_out, head.output.ne[1]);
}

}  // namespace sobre::model
