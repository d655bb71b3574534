// AVX-512 float kernels: f32/f16/bf16 dot products and the CpuOps row operations (softmax,
// SwiGLU, RMSNorm, f16 axpy). Tails use masked loads, so there is no scalar remainder loop.
// Products are accumulated in f32 lanes; the reference accumulates in double.
#include <cmath>

#include "kernels/cpu/avx512/simd.h"

namespace sobre::kernels::avx512 {
namespace {

inline __mmask16 tail_mask(int64_t left) { return static_cast<__mmask16>((1u << left) - 1); }

inline __m512 load_f16(const uint16_t* p) { return _mm512_cvtph_ps(load256(p)); }
inline __m512 load_f16(const uint16_t* p, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
}
inline __m512 load_bf16(const uint16_t* p) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(load256(p)), 16));
}
inline __m512 load_bf16(const uint16_t* p, __mmask16 m) {
    return _mm512_castsi512_ps(
        _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p)), 16));
}
inline __m512 load_f32(const float* p) { return _mm512_loadu_ps(p); }
inline __m512 load_f32(const float* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }

// sum_i x[i] * y[i] over 64-element steps with four accumulators, then 16 at a time, then a
// masked tail (masked-off lanes load as 0).
template <class T, class Load, class LoadMasked>
inline float dot_generic(int64_t n, const T* x, const T* y, Load load, LoadMasked load_masked) {
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                     _mm512_setzero_ps()};
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        for (int j = 0; j < 4; ++j)
            acc[j] = _mm512_fmadd_ps(load(x + i + 16 * j), load(y + i + 16 * j), acc[j]);
    }
    for (; i + 16 <= n; i += 16) acc[0] = _mm512_fmadd_ps(load(x + i), load(y + i), acc[0]);
    if (i < n) {
        const __mmask16 m = tail_mask(n - i);
        acc[1] = _mm512_fmadd_ps(load_masked(x + i, m), load_masked(y + i, m), acc[1]);
    }
    return hsum512(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])));
}

float dot_f32(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const float*>(w);
    const auto* y = static_cast<const float*>(a);
    return dot_generic(
        n, x, y, [](const float* p) { return load_f32(p); },
        [](const float* p, __mmask16 m) { return load_f32(p, m); });
}

float dot_f16(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const uint16_t*>(w);
    const auto* y = static_cast<const uint16_t*>(a);
    return dot_generic(
        n, x, y, [](const uint16_t* p) { return load_f16(p); },
        [](const uint16_t* p, __mmask16 m) { return load_f16(p, m); });
}

float dot_bf16(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const uint16_t*>(w);
    const auto* y = static_cast<const uint16_t*>(a);
    return dot_generic(
        n, x, y, [](const uint16_t* p) { return load_bf16(p); },
        [](const uint16_t* p, __mmask16 m) { return load_bf16(p, m); });
}

// e^x in f32 within about 2 ulp: x = n ln2 + r with |r| <= ln2 / 2, e^r by a degree-5
// polynomial, then scalef multiplies by 2^n (it saturates to 0 and +inf by itself, so only
// very negative inputs need a clamp to keep n finite). ref: Cephes expf constants.
inline __m512 exp_ps(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-104.0f));  // e^-104 is below the smallest subnormal
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
}

// Adds the 16 lanes of v to two double accumulators (the reference sums in double).
inline void add_to_double(__m512 v, __m512d& lo, __m512d& hi) {
    lo = _mm512_add_pd(lo, _mm512_cvtps_pd(_mm512_castps512_ps256(v)));
    hi = _mm512_add_pd(hi, _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)));
}

// silu(g) * u = g / (1 + e^-g) * u, in the reference's order of operations.
void swiglu(const float* gate, const float* up, float* out, int64_t n) {
    const __m512 one = _mm512_set1_ps(1.0f);
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = n - i >= 16 ? static_cast<__mmask16>(0xffff) : tail_mask(n - i);
        const __m512 g = _mm512_maskz_loadu_ps(m, gate + i);
        const __m512 e = exp_ps(_mm512_sub_ps(_mm512_setzero_ps(), g));
        const __m512 silu = _mm512_div_ps(g, _mm512_add_ps(one, e));
        _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(silu, _mm512_maskz_loadu_ps(m, up + i)));
    }
}

void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps) {
    __m512d lo = _mm512_setzero_pd(), hi = _mm512_setzero_pd();
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = n - i >= 16 ? static_cast<__mmask16>(0xffff) : tail_mask(n - i);
        const __m512 v = _mm512_maskz_loadu_ps(m, x + i);
        add_to_double(_mm512_mul_ps(v, v), lo, hi);
    }
    const double sum = _mm512_reduce_add_pd(_mm512_add_pd(lo, hi));
    const float mean = static_cast<float>(sum / static_cast<double>(n));
    const __m512 s = _mm512_set1_ps(1.0f / std::sqrt(mean + eps));
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = n - i >= 16 ? static_cast<__mmask16>(0xffff) : tail_mask(n - i);
        __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), s);
        if (w) v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(m, w + i));
        _mm512_mask_storeu_ps(y + i, m, v);
    }
}

void axpy_f16(float w, const uint16_t* v, float* out, int64_t n) {
    const __m512 s = _mm512_set1_ps(w);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        _mm512_storeu_ps(out + i, _mm512_fmadd_ps(s, load_f16(v + i), _mm512_loadu_ps(out + i)));
    }
    if (i < n) {
        const __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(
            out + i, m, _mm512_fmadd_ps(s, load_f16(v + i, m), _mm512_maskz_loadu_ps(m, out + i)));
    }
}

constexpr size_t idx(DType t) { return static_cast<size_t>(t); }

}  // namespace

void softmax_f32(float* x, int64_t n, float scale) {
    const __m512 s = _mm512_set1_ps(scale);
    __m512 mx = _mm512_set1_ps(-INFINITY);
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = n - i >= 16 ? static_cast<__mmask16>(0xffff) : tail_mask(n - i);
        const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), s);
        _mm512_mask_storeu_ps(x + i, m, v);
        mx = _mm512_mask_max_ps(mx, m, mx, v);
    }
    const __m512 vmax = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
    __m512d lo = _mm512_setzero_pd(), hi = _mm512_setzero_pd();
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = n - i >= 16 ? static_cast<__mmask16>(0xffff) : tail_mask(n - i);
        const __m512 e =
            _mm512_maskz_mov_ps(m, exp_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), vmax)));
        _mm512_mask_storeu_ps(x + i, m, e);
        add_to_double(e, lo, hi);
    }
    const double sum = _mm512_reduce_add_pd(_mm512_add_pd(lo, hi));
    const __m512 inv = _mm512_set1_ps(static_cast<float>(1.0 / sum));
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = n - i >= 16 ? static_cast<__mmask16>(0xffff) : tail_mask(n - i);
        _mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), inv));
    }
}

void fill_float(CpuKernels& k) {
    k.vec_dot[idx(DType::kF32)] = dot_f32;
    k.vec_dot[idx(DType::kF16)] = dot_f16;
    k.vec_dot[idx(DType::kBF16)] = dot_bf16;
    k.ops.softmax = softmax_f32;
    k.ops.swiglu = swiglu;
    k.ops.rms_norm = rms_norm;
    k.ops.axpy_f16 = axpy_f16;
}

}  // namespace sobre::kernels::avx512
