// AVX2 float kernels: f32/f16/bf16 dot products and the CpuOps row operations (softmax, SwiGLU,
// RMSNorm, f16 axpy). Products are accumulated in f32 lanes (ggml's SIMD f16/f32 dots do the
// same); the reference accumulates in double, and the tests bound the difference.
#include <cmath>

#include "kernels/cpu/avx2/simd.h"

namespace sobre::kernels::avx2 {
namespace {

inline __m256 load_f16(const uint16_t* p) { return _mm256_cvtph_ps(load128(p)); }
inline __m256 load_bf16(const uint16_t* p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(load128(p)), 16));
}
inline float bf16_scalar(uint16_t b) {
    const uint32_t u = static_cast<uint32_t>(b) << 16;
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

// sum_i load(x + i) * load(y + i) over 32-element steps with four accumulators, then the tail.
template <class T, class Load, class Scalar>
inline float dot_generic(int64_t n, const T* x, const T* y, Load load, Scalar scalar) {
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                     _mm256_setzero_ps()};
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        for (int j = 0; j < 4; ++j)
            acc[j] = _mm256_fmadd_ps(load(x + i + 8 * j), load(y + i + 8 * j), acc[j]);
    }
    for (; i + 8 <= n; i += 8) acc[0] = _mm256_fmadd_ps(load(x + i), load(y + i), acc[0]);
    float sum = hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
    for (; i < n; ++i) sum += scalar(x[i]) * scalar(y[i]);
    return sum;
}

float dot_f32(int64_t n, const void* w, const void* a) {
    return dot_generic(
        n, static_cast<const float*>(w), static_cast<const float*>(a),
        [](const float* p) { return _mm256_loadu_ps(p); }, [](float v) { return v; });
}

float dot_f16(int64_t n, const void* w, const void* a) {
    return dot_generic(n, static_cast<const uint16_t*>(w), static_cast<const uint16_t*>(a),
                       load_f16, h2f);
}

float dot_bf16(int64_t n, const void* w, const void* a) {
    return dot_generic(n, static_cast<const uint16_t*>(w), static_cast<const uint16_t*>(a),
                       load_bf16, bf16_scalar);
}

// e^x for x in f32, within about 2 ulp: x = n ln2 + r with |r| <= ln2 / 2, e^r by a degree-5
// polynomial, 2^n put into the exponent. Below -87.3 the result flushes to 0; above 88.37 it is
// +inf. ref: Cephes expf (the constants and the split of ln2 into exact high and low parts).
inline __m256 exp_ps(__m256 x) {
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    // n is in [-126, 127] inside the clamps below, so n + 127 is a valid biased exponent.
    const __m256i e =
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    __m256 y = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
    y = _mm256_blendv_ps(y, _mm256_set1_ps(INFINITY),
                         _mm256_cmp_ps(x, _mm256_set1_ps(88.3762626647949f), _CMP_GT_OQ));
    return _mm256_andnot_ps(_mm256_cmp_ps(x, _mm256_set1_ps(-87.3365447504f), _CMP_LT_OQ), y);
}

inline float exp_scalar(float x) {
    alignas(32) float v[8] = {x};
    _mm256_store_ps(v, exp_ps(_mm256_load_ps(v)));
    return v[0];
}

// Adds the 8 lanes of v to two double accumulators (the reference sums in double).
inline void add_to_double(__m256 v, __m256d& lo, __m256d& hi) {
    lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
    hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
}

inline double hsum_pd(__m256d v) {
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

void softmax(float* x, int64_t n, float scale) {
    const __m256 s = _mm256_set1_ps(scale);
    __m256 mx8 = _mm256_set1_ps(-INFINITY);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), s);
        _mm256_storeu_ps(x + i, v);
        mx8 = _mm256_max_ps(mx8, v);
    }
    float mx = hmax(mx8);
    for (; i < n; ++i) {
        x[i] *= scale;
        mx = x[i] > mx ? x[i] : mx;
    }
    const __m256 m = _mm256_set1_ps(mx);
    __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
    for (i = 0; i + 8 <= n; i += 8) {
        const __m256 e = exp_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), m));
        _mm256_storeu_ps(x + i, e);
        add_to_double(e, lo, hi);
    }
    double sum = hsum_pd(_mm256_add_pd(lo, hi));
    for (; i < n; ++i) {
        x[i] = exp_scalar(x[i] - mx);
        sum += x[i];
    }
    const float inv = static_cast<float>(1.0 / sum);
    const __m256 iv = _mm256_set1_ps(inv);
    for (i = 0; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), iv));
    for (; i < n; ++i) x[i] *= inv;
}

// silu(g) * u = g / (1 + e^-g) * u, in the reference's order of operations.
void swiglu(const float* gate, const float* up, float* out, int64_t n) {
    const __m256 one = _mm256_set1_ps(1.0f);
    const __m256 neg = _mm256_set1_ps(-0.0f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 g = _mm256_loadu_ps(gate + i);
        const __m256 e = exp_ps(_mm256_xor_ps(g, neg));
        const __m256 silu = _mm256_div_ps(g, _mm256_add_ps(one, e));
        _mm256_storeu_ps(out + i, _mm256_mul_ps(silu, _mm256_loadu_ps(up + i)));
    }
    for (; i < n; ++i) out[i] = gate[i] / (1.0f + exp_scalar(-gate[i])) * up[i];
}

void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps) {
    __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        add_to_double(_mm256_mul_ps(v, v), lo, hi);
    }
    double sum = hsum_pd(_mm256_add_pd(lo, hi));
    for (; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
    const float mean = static_cast<float>(sum / static_cast<double>(n));
    const float scale = 1.0f / std::sqrt(mean + eps);
    const __m256 s = _mm256_set1_ps(scale);
    for (i = 0; i + 8 <= n; i += 8) {
        __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), s);
        if (w) v = _mm256_mul_ps(v, _mm256_loadu_ps(w + i));
        _mm256_storeu_ps(y + i, v);
    }
    for (; i < n; ++i) y[i] = w ? x[i] * scale * w[i] : x[i] * scale;
}

void axpy_f16(float w, const uint16_t* v, float* out, int64_t n) {
    const __m256 s = _mm256_set1_ps(w);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        _mm256_storeu_ps(out + i, _mm256_fmadd_ps(s, load_f16(v + i), _mm256_loadu_ps(out + i)));
    }
    for (; i < n; ++i) out[i] += w * h2f(v[i]);
}

constexpr size_t idx(DType t) { return static_cast<size_t>(t); }

}  // namespace

void fill_float(CpuKernels& k) {
    k.vec_dot[idx(DType::kF32)] = dot_f32;
    k.vec_dot[idx(DType::kF16)] = dot_f16;
    k.vec_dot[idx(DType::kBF16)] = dot_bf16;
    k.ops.softmax = softmax;
    k.ops.swiglu = swiglu;
    k.ops.rms_norm = rms_norm;
    k.ops.axpy_f16 = axpy_f16;
}

}  // namespace sobre::kernels::avx2
