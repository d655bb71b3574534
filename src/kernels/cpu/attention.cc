#include "kernels/cpu/attention.h"

#include <algorithm>

namespace sobre::kernels {
namespace {

constexpr int64_t pad16(int64_t n) { return (n + 15) / 16 * 16; }

// The level-independent path: per query, one f16 dot product per key, the softmax, one f16
// axpy per key, all through the table's own kernels.
void attend_rows(const AttnArgs& a, float* scratch, const CpuKernels& k) {
    float* scores = scratch;
    auto* q16 = reinterpret_cast<uint16_t*>(scratch + pad16(a.n_keys));
    const QuantizeActFn to_f16 = k.quantize_act[static_cast<uint32_t>(DType::kF16)];
    const VecDotFn dot = k.vec_dot[static_cast<uint32_t>(DType::kF16)];
    for (int64_t i = 0; i < a.n_q; ++i) {
        const int64_t n = a.n_ctx[i];
        to_f16(a.q[i], q16, a.head_dim_k);
        for (int64_t j = 0; j < n; ++j) scores[j] = dot(a.head_dim_k, a.k[j], q16);
        k.ops.softmax(scores, n, a.scale);
        // Round the weights to f16, as the reference multiplies them with V in f16.
        to_f16(scores, q16, n);
        dtype_traits(DType::kF16).to_float(q16, scores, n);
        float* out = a.out[i];
        std::fill(out, out + a.head_dim_v, 0.0f);
        for (int64_t j = 0; j < n; ++j) k.ops.axpy_f16(scores[j], a.v[j], out, a.head_dim_v);
    }
}

}  // namespace

int64_t attend_query_chunk(int64_t n_keys) {
    constexpr int64_t kScoreBytes = 256 << 10;
    const int64_t per_query = pad16(n_keys) * static_cast<int64_t>(sizeof(float));
    return std::max<int64_t>(16, kScoreBytes / per_query / 16 * 16);
}

int64_t attend_scratch_floats(int64_t n_q, int64_t n_keys, int64_t head_dim_k, int64_t head_dim_v) {
    // Generic path: scores (n_keys) + f16 staging (max(n_keys, head_dim_k) halves).
    // Tiled paths: scores of one pass's queries, one widened K tile and V tile of 16 keys each,
    // and one staged query.
    const int64_t rows = pad16(n_keys) + pad16(std::max(n_keys, head_dim_k));
    const int64_t tiled = pad16(std::min(n_q, attend_query_chunk(n_keys))) * pad16(n_keys) +
                          16 * (pad16(head_dim_k) + pad16(head_dim_v)) + pad16(head_dim_k);
    return std::max(rows, tiled) + 64;
}

void attend(const AttnArgs& a, float* scratch, const CpuKernels& k) {
    if (k.ops.attend != nullptr) {
        k.ops.attend(a, scratch);
    } else {
        attend_rows(a, scratch, k);
    }
}

}  // namespace sobre::kernels
