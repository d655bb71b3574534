// Scalar reference of the float row operations (the table entries of CpuOps). Accumulations
// that ggml does in double (sum of squares, softmax sum) are done in double here too.
#include <algorithm>
#include <cmath>

#include "core/fp16.h"
#include "kernels/cpu/ref/ref.h"

namespace sobre::kernels::ref {

void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps) {
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
    const float mean = static_cast<float>(sum / static_cast<double>(n));
    const float scale = 1.0f / std::sqrt(mean + eps);
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale;
    if (w) {
        for (int64_t i = 0; i < n; ++i) y[i] *= w[i];
    }
}

void softmax(float* x, int64_t n, float scale) {
    float mx = -INFINITY;
    for (int64_t i = 0; i < n; ++i) {
        x[i] *= scale;
        mx = std::max(mx, x[i]);
    }
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) {
        x[i] = std::exp(x[i] - mx);
        sum += x[i];
    }
    const float inv = static_cast<float>(1.0 / sum);
    for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void swiglu(const float* gate, const float* up, float* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        const float g = gate[i];
        out[i] = g / (1.0f + std::exp(-g)) * up[i];
    }
}

void axpy_f16(float w, const uint16_t* v, float* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] += w * fp16_to_fp32(v[i]);
}

}  // namespace sobre::kernels::ref
