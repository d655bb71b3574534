// AVX2 helpers shared by the kernels/cpu/avx2/ translation units (compiled with -mavx2 -mfma
// -mf16c -mbmi2). Everything here is `static inline` in namespace sobre::kernels::avx2, so each
// TU keeps private copies and no AVX2 code can be picked by the linker for a baseline caller
// (STYLE.md §9.4 ODR rule). Include only from avx2/ TUs.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/cpu/kernel_table.h"

namespace sobre::kernels::avx2 {

// The fill functions of this level's TUs; avx2::fill (fill.cc) calls them all.
void fill_quantize(CpuKernels& k);
void fill_legacy(CpuKernels& k);
void fill_kquants(CpuKernels& k);
void fill_float(CpuKernels& k);
void fill_gemm(CpuKernels& k);

static inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

// The k-quants' float step per super-block, shared by vec_dot and the GEMM tiles so that decode
// and prefill give the same bits (batch invariance): acc + float(isum) * d with one rounding.
// isum is the super-block's exact integer sum (sub-block scales applied in integers).
static inline float fma_step(float acc, int32_t isum, float d) {
    const __m128 v = _mm_cvtsi32_ss(_mm_setzero_ps(), isum);
    return _mm_cvtss_f32(_mm_fmadd_ss(v, _mm_set_ss(d), _mm_set_ss(acc)));
}
static inline uint16_t f2h(float f) {
    return static_cast<uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

static inline __m256i load256(const void* p) {
    return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}
static inline __m128i load128(const void* p) {
    return _mm_loadu_si128(static_cast<const __m128i*>(p));
}
static inline uint32_t load_u32(const void* p) {
    uint32_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
static inline float hmax(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
static inline int hsum_i32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
    return _mm_cvtsi128_si32(s);
}

// 16 bytes of packed nibbles -> 32 bytes: low nibbles first (elements 0..15), then high.
static inline __m256i nibbles32(const uint8_t* p) {
    const __m128i t = load128(p);
    const __m256i b = _mm256_set_m128i(_mm_srli_epi16(t, 4), t);
    return _mm256_and_si256(b, _mm256_set1_epi8(0x0f));
}

// The 32 bits at p -> 32 bytes, 0xff where bit j is set (little-endian bit j = byte j).
// Byte j is first filled with source byte j / 8, then OR-ed with a mask that has every bit but
// bit j % 8 set; it is all ones exactly when that bit was set. ref: ggml bytes_from_bits_32.
static inline __m256i bits32(const uint8_t* p) {
    const __m256i spread = _mm256_shuffle_epi8(
        _mm256_set1_epi32(static_cast<int>(load_u32(p))),
        _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0));
    const __m256i others = _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe);
    return _mm256_cmpeq_epi8(_mm256_or_si256(spread, others), _mm256_set1_epi64x(-1));
}

// Sum of u8 x s8 products in 4-element groups -> 8 int32. REQUIRES: each pair of products fits
// int16 (u <= 127, or u small enough), since maddubs saturates.
static inline __m256i dot_us8(__m256i u, __m256i s) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

// Sum of s8 x s8 products in 4-element groups -> 8 int32, through |x| and sign(y, x).
// |x| <= 128 and |y| <= 127 keep maddubs' pair sums below 2^15.
static inline __m256i dot_ss8(__m256i x, __m256i y) {
    return dot_us8(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

}  // namespace sobre::kernels::avx2
