// AVX-512 helpers shared by the kernels/cpu/avx512/ translation units (compiled with
// -mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx512vnni -mavx512bf16 on top of the AVX2
// flags). Everything here is `static inline` in namespace sobre::kernels::avx512, so each TU keeps
// private copies and the linker can never hand AVX-512 code to a baseline caller (STYLE.md §9.4).
// Include only from avx512/ TUs.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/cpu/kernel_table.h"

namespace sobre::kernels::avx512 {

// The fill functions of this level's TUs; avx512::fill (fill.cc) calls them all.
void fill_quantize(CpuKernels& k);
void fill_legacy(CpuKernels& k);
void fill_float(CpuKernels& k);
void fill_gemm(CpuKernels& k);
void fill_gemv_k(CpuKernels& k);  // after fill_gemm: sets the k-quants' gemv entries
void fill_attention(CpuKernels& k);

// In place: x = softmax(x * scale) over n values (float.cc; the CpuOps softmax of this level).
void softmax_f32(float* x, int64_t n, float scale);

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

// Decode reads every weight once from DRAM, and one core's bandwidth is bound by the misses in
// flight. The GEMVs take `rows` weight rows per step, one block of each, and those rows are
// contiguous in the file: step `step` asks for the same number of bytes kDecodePrefetchBytes
// ahead of the rows' start, into L2, so the prefetch walks the matrix linearly (into the next
// steps and past the end of this thread's rows) while the loads hop between rows. Measured on
// whole decode steps (sobre bench -p 0 -n 128 -t 2), Qwen3-0.6B Q4_K_M / Qwen3-30B-A3B cut:
// linear 8 KiB 50.4 / 32.7 t/s, 16 KiB 50.9 / 33.2, 32 KiB 48.6, 64 KiB 44.5; per-row 16 KiB
// ahead 39.1 / 26.0; into L2 (T1) rather than L1 (T0), interleaved twice: 52.0 / 33.8 against
// 49.7 / 31.5. That is ~11.8 GB/s per core, where a plain AVX-512 read of one buffer gets ~15.
constexpr int kDecodePrefetchBytes = 16384;
static inline void prefetch_decode_step(const uint8_t* first_row, int64_t step, int rows,
                                        int block_bytes) {
    const char* p = reinterpret_cast<const char*>(first_row) + kDecodePrefetchBytes +
                    step * rows * block_bytes;
    for (int off = 0; off < rows * block_bytes; off += 64) _mm_prefetch(p + off, _MM_HINT_T1);
}

static inline __m512i load512(const void* p) { return _mm512_loadu_si512(p); }
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

static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
static inline float hsum512(__m512 v) {
    return hsum256(_mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1)));
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

// The 32 bits at p -> 32 bytes, 0x10 where bit j is set (the fifth bit of a Q5 code).
static inline __m256i fifth_bits32(const uint8_t* p) {
    const __mmask32 m = load_u32(p);
    return _mm256_maskz_mov_epi8(m, _mm256_set1_epi8(0x10));
}

// Sum of u8 x s8 products in 4-element groups added to acc (VNNI; exact, no saturation).
static inline __m256i dpbusd(__m256i acc, __m256i u, __m256i s) {
    return _mm256_dpbusd_epi32(acc, u, s);
}

// Sum of s8 x s8 products in 4-element groups, through |x| and sign(y, x) (|x| <= 128 fits u8).
static inline __m256i dot_ss8(__m256i x, __m256i y) {
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(x), _mm256_sign_epi8(y, x));
}

}  // namespace sobre::kernels::avx512
