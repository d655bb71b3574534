// AVX-512 activation quantizers. Each produces the same bytes as the scalar reference
// (core/quant_blocks.h layouts, core/quant_ref.cc arithmetic): the same IEEE operations per
// element, q8_0/q8_1 rounding half away from zero (std::round) and q8_K half to even.
#include "core/quant_blocks.h"
#include "kernels/cpu/avx512/simd.h"

namespace sobre::kernels::avx512 {
namespace {

inline __m512 abs_ps(__m512 v) { return _mm512_abs_ps(v); }

// std::round for integral-valued results: truncate, then step away from zero when the dropped
// fraction is at least one half (the subtraction is exact).
inline __m512 round_half_away(__m512 v) {
    const __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __mmask16 up =
        _mm512_cmp_ps_mask(abs_ps(_mm512_sub_ps(v, t)), _mm512_set1_ps(0.5f), _CMP_GE_OQ);
    const __m512 step = _mm512_or_ps(_mm512_and_ps(v, _mm512_set1_ps(-0.0f)), _mm512_set1_ps(1.0f));
    return _mm512_mask_add_ps(t, up, t, step);
}

// One 32-element block as q8_0: returns the f32 scale d and writes the codes.
inline float q8_block(const float* x, int8_t* qs) {
    const __m512 v0 = _mm512_loadu_ps(x);
    const __m512 v1 = _mm512_loadu_ps(x + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(abs_ps(v0), abs_ps(v1)));
    const float d = amax / 127;
    const __m512 id = _mm512_set1_ps(d != 0.0f ? 1.0f / d : 0.0f);
    const __m512i q0 = _mm512_cvtps_epi32(round_half_away(_mm512_mul_ps(v0, id)));
    const __m512i q1 = _mm512_cvtps_epi32(round_half_away(_mm512_mul_ps(v1, id)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(qs), _mm512_cvtepi32_epi8(q0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(qs + 16), _mm512_cvtepi32_epi8(q1));
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
        const __m256i s =
            _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(1), load256(y[b].qs));
        y[b].d = f2h(d);
        y[b].s = f2h(static_cast<float>(hsum_i32(s)) * d);
    }
}

// The first element whose magnitude is amax, with its sign (the reference keeps the first on
// ties). REQUIRES: some |x[i]| == amax.
inline float first_with_magnitude(const float* x, float amax) {
    const __m512 target = _mm512_set1_ps(amax);
    for (int i = 0; i < kQKK; i += 16) {
        const __mmask16 m = _mm512_cmp_ps_mask(abs_ps(_mm512_loadu_ps(x + i)), target, _CMP_EQ_OQ);
        if (m != 0) return x[i + __builtin_ctz(m)];
    }
    return amax;
}

void quantize_q8_K(const float* src, void* dst, int64_t n) {
    auto* y = static_cast<BlockQ8_K*>(dst);
    for (int64_t b = 0; b < n / kQKK; ++b, src += kQKK) {
        __m512 amax_v = _mm512_setzero_ps();
        for (int i = 0; i < kQKK; i += 16)
            amax_v = _mm512_max_ps(amax_v, abs_ps(_mm512_loadu_ps(src + i)));
        const float amax = _mm512_reduce_max_ps(amax_v);
        if (amax == 0.0f) {
            std::memset(&y[b], 0, sizeof y[b]);
            continue;
        }
        const float iscale = -127.0f / first_with_magnitude(src, amax);
        const __m512 is = _mm512_set1_ps(iscale);
        for (int i = 0; i < kQKK; i += 16) {
            const __m512 p = _mm512_mul_ps(_mm512_loadu_ps(src + i), is);
            const __m512 r = _mm512_roundscale_ps(p, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            const __m512i q = _mm512_cvtps_epi32(_mm512_min_ps(r, _mm512_set1_ps(127.0f)));
            _mm_storeu_si128(reinterpret_cast<__m128i*>(y[b].qs + i), _mm512_cvtepi32_epi8(q));
            y[b].bsums[i / 16] = static_cast<int16_t>(_mm512_reduce_add_epi32(q));
        }
        y[b].d = 1.0f / iscale;
    }
}

// Round to nearest even, as F16C does and as the reference's fp32_to_fp16.
void quantize_f16(const float* src, void* dst, int64_t n) {
    auto* h = static_cast<uint16_t*>(dst);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256i v = _mm512_cvtps_ph(_mm512_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(h + i), v);
    }
    if (i < n) {
        const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
        const __m256i v =
            _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, src + i), _MM_FROUND_TO_NEAREST_INT);
        _mm256_mask_storeu_epi16(h + i, m, v);
    }
}

// Round to nearest even; NaN keeps its sign and gets the quiet bit (the reference's rule).
// Done with integer ops: the CPUs we target need not have AVX512_BF16's vcvtneps2bf16.
inline __m256i bf16_round(__m512 f) {
    const __m512i x = _mm512_castps_si512(f);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(x, 16), _mm512_set1_epi32(1));
    const __m512i rounded = _mm512_srli_epi32(
        _mm512_add_epi32(x, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
    const __mmask16 nan = _mm512_cmpgt_epi32_mask(
        _mm512_and_si512(x, _mm512_set1_epi32(0x7fffffff)), _mm512_set1_epi32(0x7f800000));
    const __m512i quiet = _mm512_or_si512(_mm512_srli_epi32(x, 16), _mm512_set1_epi32(64));
    return _mm512_cvtepi32_epi16(_mm512_mask_mov_epi32(rounded, nan, quiet));
}

void quantize_bf16(const float* src, void* dst, int64_t n) {
    auto* out = static_cast<uint16_t*>(dst);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i),
                            bf16_round(_mm512_loadu_ps(src + i)));
    }
    if (i < n) {
        const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
        _mm256_mask_storeu_epi16(out + i, m, bf16_round(_mm512_maskz_loadu_ps(m, src + i)));
    }
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

}  // namespace sobre::kernels::avx512
