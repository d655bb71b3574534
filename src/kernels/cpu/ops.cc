#include "kernels/cpu/ops.h"

#include <algorithm>
#include <cmath>

#include "kernels/cpu/kernel_table.h"

namespace sobre::kernels {

void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps) {
    cpu_kernels().ops.rms_norm(x, w, y, n, eps);
}

namespace {

// YaRN correction dimension for a rotation count (ref: the YaRN paper, as ggml computes it).
float yarn_corr_dim(int n_dims, int n_ctx_orig, float n_rot, float base) {
    return static_cast<float>(n_dims) *
           std::log(static_cast<float>(n_ctx_orig) / (n_rot * 2.0f * static_cast<float>(M_PI))) /
           (2.0f * std::log(base));
}

float yarn_ramp(float low, float high, int i0) {
    const float y = (static_cast<float>(i0 / 2) - low) / std::max(0.001f, high - low);
    return 1.0f - std::min(1.0f, std::max(0.0f, y));
}

}  // namespace

void rope_cache(const RopeParams& p, int64_t pos, float* cs) {
    const float theta_scale = std::pow(p.freq_base, -2.0f / static_cast<float>(p.n_dims));
    float corr_lo = 0, corr_hi = 0;
    if (p.ext_factor != 0.0f) {
        corr_lo = std::max(
            0.0f, std::floor(yarn_corr_dim(p.n_dims, p.n_ctx_orig, p.beta_fast, p.freq_base)));
        corr_hi =
            std::min(static_cast<float>(p.n_dims - 1),
                     std::ceil(yarn_corr_dim(p.n_dims, p.n_ctx_orig, p.beta_slow, p.freq_base)));
    }
    float theta_extrap = static_cast<float>(pos);
    for (int i0 = 0; i0 < p.n_dims; i0 += 2) {
        const float extrap = p.freq_factors ? theta_extrap / p.freq_factors[i0 / 2] : theta_extrap;
        const float theta_interp = p.freq_scale * extrap;
        float theta = theta_interp;
        float mscale = p.attn_factor;
        if (p.ext_factor != 0.0f) {
            const float mix = yarn_ramp(corr_lo, corr_hi, i0) * p.ext_factor;
            theta = theta_interp * (1 - mix) + extrap * mix;
            mscale *= 1.0f + 0.1f * std::log(1.0f / p.freq_scale);
        }
        cs[i0] = std::cos(theta) * mscale;
        cs[i0 + 1] = std::sin(theta) * mscale;
        theta_extrap *= theta_scale;
    }
}

void rope_apply(const RopeParams& p, const float* cs, float* x, int n_heads, int head_dim) {
    const int half = p.n_dims / 2;
    for (int h = 0; h < n_heads; ++h) {
        float* v = x + static_cast<int64_t>(h) * head_dim;
        for (int i = 0; i < half; ++i) {
            const float c = cs[2 * i], s = cs[2 * i + 1];
            const int a = p.style == RopeStyle::kNeox ? i : 2 * i;
            const int b = p.style == RopeStyle::kNeox ? i + half : 2 * i + 1;
            const float x0 = v[a], x1 = v[b];
            v[a] = x0 * c - x1 * s;
            v[b] = x0 * s + x1 * c;
        }
    }
}

void softmax(float* x, int64_t n, float scale) { cpu_kernels().ops.softmax(x, n, scale); }

void swiglu(const float* gate, const float* up, float* out, int64_t n) {
    cpu_kernels().ops.swiglu(gate, up, out, n);
}

void to_f16(const float* x, uint16_t* y, int64_t n) {
    cpu_kernels().quantize_act[static_cast<uint32_t>(DType::kF16)](x, y, n);
}

float dot_f16(const uint16_t* x, const uint16_t* y, int64_t n) {
    return cpu_kernels().vec_dot[static_cast<uint32_t>(DType::kF16)](n, x, y);
}

void axpy_f16(float w, const uint16_t* v, float* out, int64_t n) {
    cpu_kernels().ops.axpy_f16(w, v, out, n);
}

void add_inplace(float* y, const float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

}  // namespace sobre::kernels
