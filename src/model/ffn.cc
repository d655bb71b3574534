#include "model/ffn.h"

#include <string>
#include <vector>

#include "kernels/cpu/matmul.h"
#include "kernels/cpu/ops.h"

namespace sobre::model {

FfnWeights bind_ffn(Binder& b, int il, int64_t n_embd, int64_t n_ff, std::string_view suffix, std::string_view why) {
    auto t = [&](std::string_view n) { return layer_tensor(il, std::string(n) + std::string(suffix)); };
    return {b.require(t("ffn_gate"), {n_embd, n_ff}, why), b.require(t("ffn_up"), {n_embd, n_ff}, why),
            b.require(t("ffn_down"), {n_ff, n_embd}, why)};
}

void ffn_swiglu(const FfnWeights& w, const float* x, int64_t n, float* out, ThreadPool& pool) {
    const int64_t n_ff = w.gate.ne[1];
    std::vector<float> gate(n * n_ff), up(n * n_ff);
    kernels::matmul(w.gate, x, n, gate.data(), pool);
    kernels::matmul(w.up, x, n, up.data(), pool);
    kernels::swiglu(gate.data(), up.data(), gate.data(), n * n_ff);
    kernels::matmul(w.down, gate.data(), n, out, pool);
}

}  // namespace sobre::model
