// AVX2 activation quantizers. Each produces the same bytes as the scalar reference
// (core/quant_ref.cc): the same IEEE operations in the same order per element, with q8_0/q8_1
// rounding half away from zero (std::round) and q8_K half to even, as the reference does.
// (ggml's own AVX quantizers round q8_0 half to even; we keep the reference's choice so every
// level quantizes identically and the prefill and decode paths see the same activations.)
#include "core/quant_blocks.h"
#include "kernels/cpu/avx2/simd.h"

namespace sobre::kernels::avx2 {
namespace {

// A function, not a namespace-scope constant: a global __m256 would be built by a static
// initializer, which would run AVX code at start-up on every CPU.
inline __m256 abs_mask() { return _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)); }

// std::round for integral-valued results: truncate, then step away from zero when the dropped
// fraction is at least one half (the subtraction is exact).
inline __m256 round_half_away(__m256 v) {
    const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256 frac = _mm256_and_ps(_mm256_sub_ps(v, t), abs_mask());
    const __m256 step = _mm256_or_ps(_mm256_and_ps(v, _mm256_set1_ps(-0.0f)), _mm256_set1_ps(1.0f));
    const __m256 up = _mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
    return _mm256_add_ps(t, _mm256_and_ps(up, step));
}

// Four vectors of integral floats in [-128, 127] -> 32 int8 in element order.
inline __m256i pack_i8(__m256 a, __m256 b, __m256 c, __m256 d) {
    const __m256i ab = _mm256_packs_epi32(_mm256_cvtps_epi32(a), _mm256_cvtps_epi32(b));
    const __m256i cd = _mm256_packs_epi32(_mm256_cvtps_epi32(c), _mm256_cvtps_epi32(d));
    const __m256i v = _mm256_packs_epi16(ab, cd);
    // packs works per 128-bit lane: dwords come out as 0 2 4 6 1 3 5 7.
    return _mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

// One 32-element block as q8_0: returns the f32 scale d and writes the codes.
inline float q8_block(const float* x, int8_t* qs) {
    __m256 v[4];
    __m256 amax = _mm256_setzero_ps();
    for (int i = 0; i < 4; ++i) {
        v[i] = _mm256_loadu_ps(x + 8 * i);
        amax = _mm256_max_ps(amax, _mm256_and_ps(v[i], abs_mask()));
    }
    const float d = hmax(amax) / 127;
    const __m256 id = _mm256_set1_ps(d != 0.0f ? 1.0f / d : 0.0f);
    for (__m256& vi : v) vi = round_half_away(_mm256_mul_ps(vi, id));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs), pack_i8(v[0], v[1], v[2], v[3]));
    return d;
}

void quantize_q8_0(const float* src, void* dst, int64_t n) {
    auto* y = static_cast<BlockQ8_0*>(dst);
    for (int64_t b = 0; b < n / kQK; ++b) y[b].d = f2h(q8_block(src + b * kQK, y[b].qs));
}

// s = d * sum(q) with the unrounded d, as the reference.
void quantize_q8_1(const float* src, void* dst, int64_t n) {
    auto* y = static_cast<BlockQ8_1*>(dst);
    for (int64_t b = 0; b < n / kQK; ++b) {
        const float d = q8_block(src + b * kQK, y[b].qs);
        const __m256i q = load256(y[b].qs);
        const __m256i s16 = _mm256_maddubs_epi16(_mm256_set1_epi8(1), q);
        const int sum = hsum_i32(_mm256_madd_epi16(s16, _mm256_set1_epi16(1)));
        y[b].d = f2h(d);
        y[b].s = f2h(static_cast<float>(sum) * d);
    }
}

// Index of the first element whose magnitude equals amax (the reference's signed_absmax keeps
// the first one on ties). REQUIRES: some |x[i]| == amax.
inline int first_with_magnitude(const float* x, float amax) {
    const __m256 target = _mm256_set1_ps(amax);
    for (int i = 0; i < kQKK; i += 8) {
        const __m256 a = _mm256_and_ps(_mm256_loadu_ps(x + i), abs_mask());
        const int mask = _mm256_movemask_ps(_mm256_cmp_ps(a, target, _CMP_EQ_OQ));
        if (mask != 0) return i + __builtin_ctz(static_cast<unsigned>(mask));
    }
    return 0;
}

void quantize_q8_K(const float* src, void* dst, int64_t n) {
    auto* y = static_cast<BlockQ8_K*>(dst);
    for (int64_t b = 0; b < n / kQKK; ++b, src += kQKK) {
        __m256 amax_v = _mm256_setzero_ps();
        for (int i = 0; i < kQKK; i += 8) {
            amax_v = _mm256_max_ps(amax_v, _mm256_and_ps(_mm256_loadu_ps(src + i), abs_mask()));
        }
        const float amax = hmax(amax_v);
        if (amax == 0.0f) {
            std::memset(&y[b], 0, sizeof y[b]);
            continue;
        }
        const float max = src[first_with_magnitude(src, amax)];
        const float iscale = -127.0f / max;
        const __m256 is = _mm256_set1_ps(iscale);
        const __m256 top = _mm256_set1_ps(127.0f);
        for (int i = 0; i < kQKK; i += 32) {
            __m256 v[4];
            for (int j = 0; j < 4; ++j) {
                const __m256 p = _mm256_mul_ps(_mm256_loadu_ps(src + i + 8 * j), is);
                v[j] = _mm256_min_ps(
                    _mm256_round_ps(p, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), top);
            }
            const __m256i q = pack_i8(v[0], v[1], v[2], v[3]);
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[b].qs + i), q);
            // Two 16-element sums: bytes 0..15 and 16..31 of q.
            const __m256i s32 = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), q),
                                                  _mm256_set1_epi16(1));
            const __m128i lo = _mm256_castsi256_si128(s32);
            const __m128i hi = _mm256_extracti128_si256(s32, 1);
            const __m128i h2 = _mm_hadd_epi32(lo, hi);  // lo0+lo1 lo2+lo3 hi0+hi1 hi2+hi3
            const __m128i h1 = _mm_hadd_epi32(h2, h2);  // sum(lo) sum(hi) ...
            y[b].bsums[i / 16] = static_cast<int16_t>(_mm_cvtsi128_si32(h1));
            y[b].bsums[i / 16 + 1] = static_cast<int16_t>(_mm_extract_epi32(h1, 1));
        }
        y[b].d = 1.0f / iscale;
    }
}

// Round to nearest even, as F16C does and as the reference's fp32_to_fp16.
void quantize_f16(const float* src, void* dst, int64_t n) {
    auto* h = static_cast<uint16_t*>(dst);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m128i v = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(h + i), v);
    }
    for (; i < n; ++i) h[i] = f2h(src[i]);
}

inline uint16_t bf16_scalar(float f) {
    uint32_t x;
    std::memcpy(&x, &f, sizeof x);
    if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 64u);
    x += 0x7fffu + ((x >> 16) & 1u);
    return static_cast<uint16_t>(x >> 16);
}

// Round to nearest even; NaN keeps its sign and gets the quiet bit (the reference's rule).
void quantize_bf16(const float* src, void* dst, int64_t n) {
    auto* out = static_cast<uint16_t*>(dst);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i r[2];
        for (int j = 0; j < 2; ++j) {
            const __m256i x = _mm256_castps_si256(_mm256_loadu_ps(src + i + 8 * j));
            const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(1));
            const __m256i rounded = _mm256_srli_epi32(
                _mm256_add_epi32(x, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff))), 16);
            const __m256i nan = _mm256_cmpgt_epi32(
                _mm256_and_si256(x, _mm256_set1_epi32(0x7fffffff)), _mm256_set1_epi32(0x7f800000));
            const __m256i quiet = _mm256_or_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(64));
            r[j] = _mm256_blendv_epi8(rounded, quiet, nan);
        }
        const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(r[0], r[1]), 0xd8);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), packed);
    }
    for (; i < n; ++i) out[i] = bf16_scalar(src[i]);
}

constexpr size_t idx(DType t) { return static_cast<size_t>(t); }

}  // namespace

void fill_quantize(CpuKernels& k) {
    k.quantize_act[idx(DType::kQ8_0)] = quantize_q8_0;
    k.quantize_act[idx(DType::kQ8_1)] = quantize_q8_1;
    k.quantize_act[idx(DType::kQ8_K)] = quantize_q8_K;
    k.quantize_act[idx(DType::kF16)] = quantize_f16;
    k.quantize_act[idx(DType::kBF16)] = quantize_bf16;
}

}  // namespace sobre::kernels::avx2
