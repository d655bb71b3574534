// AVX-512 dot products of the k-quants with q8_K activations, 64 elements per 512-bit step.
// Codes are unpacked to unsigned bytes (all fit 0..63, so maddubs cannot saturate), multiplied
// with the activations by maddubs, weighted by their sub-block scales with madd (the scales are
// spread over the lanes with one vpermw), and summed exactly in int32 per super-block. Constant
// code offsets (q6_K, q3_K) and mins (q2_K, q4_K, q5_K) use the activation's bsums.
// ref: ggml-cpu/arch/x86/quants.c (ggml_vec_dot_q*_K_q8_K), widened to 512 bits.
#include "core/quant_blocks.h"
#include "kernels/cpu/avx512/simd.h"

namespace sobre::kernels::avx512 {
namespace {

inline __m512i join(__m256i lo, __m256i hi) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

// int16 lane indices: lanes [8m, 8m + 8) -> base + m (four 16-element sub-blocks per step).
inline __m512i idx_by_16(int base) {
    const __m512i step =
        _mm512_set_epi64(0x0003000300030003, 0x0003000300030003, 0x0002000200020002,
                         0x0002000200020002, 0x0001000100010001, 0x0001000100010001, 0, 0);
    return _mm512_add_epi16(_mm512_set1_epi16(static_cast<short>(base)), step);
}
// int16 lane indices: lanes [0, 16) -> base, [16, 32) -> base + 1 (two 32-element sub-blocks).
inline __m512i idx_by_32(int base) {
    return join(_mm256_set1_epi16(static_cast<short>(base)),
                _mm256_set1_epi16(static_cast<short>(base + 1)));
}

// 64 unsigned codes times 64 activations, each product pair weighted by its int16 scale.
inline __m512i scaled_dot(__m512i codes, const int8_t* act, __m512i scales16) {
    return _mm512_madd_epi16(scales16, _mm512_maddubs_epi16(codes, load512(act)));
}

inline __m256i bsums16(const BlockQ8_K& y) { return load256(y.bsums); }

float dot_q6_K(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockQ6_K*>(w);
    const auto* y = static_cast<const BlockQ8_K*>(a);
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    const __m512i m3 = _mm512_set1_epi8(3);
    float sum = 0.0f;
    for (int64_t b = 0; b < n / kQKK; ++b) {
        const __m256i sc16 = _mm256_cvtepi8_epi16(load128(x[b].scales));
        const __m512i sc = _mm512_castsi256_si512(sc16);
        // Codes are stored as q + 32: subtract 32 * sum(scale * bsum) once.
        const int offset = hsum_i32(_mm256_madd_epi16(sc16, bsums16(y[b])));
        __m512i isum = _mm512_setzero_si512();
        for (int half = 0; half < 2; ++half) {
            const __m512i ql = load512(x[b].ql + 64 * half);
            const __m256i qh = load256(x[b].qh + 32 * half);
            const __m512i h01 = join(qh, _mm256_srli_epi16(qh, 2));
            const __m512i h23 = join(_mm256_srli_epi16(qh, 4), _mm256_srli_epi16(qh, 6));
            const __m512i lo = _mm512_or_si512(_mm512_and_si512(ql, m4),
                                               _mm512_slli_epi16(_mm512_and_si512(h01, m3), 4));
            const __m512i hi = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4),
                                               _mm512_slli_epi16(_mm512_and_si512(h23, m3), 4));
            const int8_t* act = y[b].qs + 128 * half;
            isum = _mm512_add_epi32(
                isum, scaled_dot(lo, act, _mm512_permutexvar_epi16(idx_by_16(8 * half), sc)));
            isum = _mm512_add_epi32(
                isum,
                scaled_dot(hi, act + 64, _mm512_permutexvar_epi16(idx_by_16(8 * half + 4), sc)));
        }
        const int total = _mm512_reduce_add_epi32(isum) - 32 * offset;
        sum += h2f(x[b].d) * y[b].d * static_cast<float>(total);
    }
    return sum;
}

// The 16 6-bit Q3_K scales (before the -32 offset) as bytes; the bit walk of
// core/quant_blocks.h q3_k_scale, done four bytes at a time (ref: ggml's kmask unpack).
inline __m128i q3_k_scales(const uint8_t* packed) {
    uint32_t aux[4];
    std::memcpy(aux, packed, 12);
    constexpr uint32_t kLow2 = 0x03030303;
    constexpr uint32_t kLow4 = 0x0f0f0f0f;
    const uint32_t tmp = aux[2];
    aux[2] = ((aux[0] >> 4) & kLow4) | (((tmp >> 4) & kLow2) << 4);
    aux[3] = ((aux[1] >> 4) & kLow4) | (((tmp >> 6) & kLow2) << 4);
    aux[0] = (aux[0] & kLow4) | (((tmp >> 0) & kLow2) << 4);
    aux[1] = (aux[1] & kLow4) | (((tmp >> 2) & kLow2) << 4);
    return load128(aux);
}

// Codes q + 4 * hbit are 0..7; the stored value is that minus 4.
float dot_q3_K(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockQ3_K*>(w);
    const auto* y = static_cast<const BlockQ8_K*>(a);
    const __m512i m3 = _mm512_set1_epi8(3);
    const __m512i m1 = _mm512_set1_epi8(1);
    float sum = 0.0f;
    for (int64_t b = 0; b < n / kQKK; ++b) {
        const __m256i sc16 =
            _mm256_cvtepi8_epi16(_mm_sub_epi8(q3_k_scales(x[b].scales), _mm_set1_epi8(32)));
        const __m512i sc = _mm512_castsi256_si512(sc16);
        const int offset = hsum_i32(_mm256_madd_epi16(sc16, bsums16(y[b])));
        const __m256i hbits = load256(x[b].hmask);
        __m512i isum = _mm512_setzero_si512();
        for (int half = 0; half < 2; ++half) {
            const __m256i q2 = load256(x[b].qs + 32 * half);
            for (int j = 0; j < 4; j += 2) {
                const __m512i low = _mm512_and_si512(
                    join(_mm256_srli_epi16(q2, 2 * j), _mm256_srli_epi16(q2, 2 * j + 2)), m3);
                const int s = 4 * half + j;
                const __m512i hb = _mm512_and_si512(
                    join(_mm256_srli_epi16(hbits, s), _mm256_srli_epi16(hbits, s + 1)), m1);
                const __m512i codes = _mm512_or_si512(low, _mm512_slli_epi16(hb, 2));
                const __m512i scales = _mm512_permutexvar_epi16(idx_by_16(8 * half + 2 * j), sc);
                isum = _mm512_add_epi32(isum,
                                        scaled_dot(codes, y[b].qs + 128 * half + 32 * j, scales));
            }
        }
        const int total = _mm512_reduce_add_epi32(isum) - 4 * offset;
        sum += h2f(x[b].d) * y[b].d * static_cast<float>(total);
    }
    return sum;
}

// x = d * scale * q - dmin * min per 16 elements (scale low nibble, min high nibble).
float dot_q2_K(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockQ2_K*>(w);
    const auto* y = static_cast<const BlockQ8_K*>(a);
    const __m512i m3 = _mm512_set1_epi8(3);
    const __m128i m4 = _mm_set1_epi8(0x0f);
    float sum = 0.0f;
    for (int64_t b = 0; b < n / kQKK; ++b) {
        const __m128i packed = load128(x[b].scales);
        const __m512i sc = _mm512_castsi256_si512(_mm256_cvtepu8_epi16(_mm_and_si128(packed, m4)));
        const __m128i mn8 = _mm_and_si128(_mm_srli_epi16(packed, 4), m4);
        const int summs = hsum_i32(_mm256_madd_epi16(_mm256_cvtepu8_epi16(mn8), bsums16(y[b])));
        __m512i isum = _mm512_setzero_si512();
        for (int half = 0; half < 2; ++half) {
            const __m256i q2 = load256(x[b].qs + 32 * half);
            for (int j = 0; j < 4; j += 2) {
                const __m512i codes = _mm512_and_si512(
                    join(_mm256_srli_epi16(q2, 2 * j), _mm256_srli_epi16(q2, 2 * j + 2)), m3);
                const __m512i scales = _mm512_permutexvar_epi16(idx_by_16(8 * half + 2 * j), sc);
                isum = _mm512_add_epi32(isum,
                                        scaled_dot(codes, y[b].qs + 128 * half + 32 * j, scales));
            }
        }
        const float dall = y[b].d * h2f(x[b].d);
        const float dmin = y[b].d * h2f(x[b].dmin);
        sum += dall * static_cast<float>(_mm512_reduce_add_epi32(isum)) -
               dmin * static_cast<float>(summs);
    }
    return sum;
}

// The eight 6-bit scales (bytes 0..7) and mins (bytes 8..15) of a Q4_K/Q5_K super-block; the
// bits of core/quant_blocks.h k4_scale_min (ref: ggml's utmp/kmask unpack).
inline __m128i k4_scales_mins(const uint8_t* packed) {
    uint32_t u[4];
    std::memcpy(u, packed, 12);
    constexpr uint32_t kLow6 = 0x3f3f3f3f;
    constexpr uint32_t kLow4 = 0x0f0f0f0f;
    constexpr uint32_t kLow2 = 0x03030303;
    u[3] = ((u[2] >> 4) & kLow4) | (((u[1] >> 6) & kLow2) << 4);
    const uint32_t mins_lo = u[1] & kLow6;
    u[1] = (u[2] & kLow4) | (((u[0] >> 6) & kLow2) << 4);
    u[2] = mins_lo;
    u[0] &= kLow6;
    return load128(u);
}

// Q4_K and Q5_K: eight 32-element sub-blocks with one scale each; Q5_K adds bit s of qh[l] as
// bit 4 of element l of sub-block s.
template <bool kHasHigh>
float dot_q45_K(int64_t n, const uint8_t* base, int64_t block_bytes, int qs_offset, int qh_offset,
                const BlockQ8_K* y) {
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    const __m512i m1 = _mm512_set1_epi8(1);
    float sum = 0.0f;
    float mins = 0.0f;
    for (int64_t b = 0; b < n / kQKK; ++b) {
        const uint8_t* blk = base + b * block_bytes;
        const __m128i sm = k4_scales_mins(blk + 4);
        // Each min covers two bsums.
        const __m128i bs = _mm_hadd_epi16(load128(y[b].bsums), load128(y[b].bsums + 8));
        const __m128i prod = _mm_madd_epi16(_mm_cvtepu8_epi16(_mm_unpackhi_epi64(sm, sm)), bs);
        const __m128i p2 = _mm_add_epi32(prod, _mm_unpackhi_epi64(prod, prod));
        const int summ = _mm_cvtsi128_si32(_mm_add_epi32(p2, _mm_shuffle_epi32(p2, 1)));
        const __m512i sc = _mm512_castsi128_si512(_mm_cvtepu8_epi16(sm));
        const __m256i hbits = kHasHigh ? load256(blk + qh_offset) : _mm256_setzero_si256();
        __m512i isum = _mm512_setzero_si512();
        for (int j = 0; j < 4; ++j) {
            const __m256i q4 = load256(blk + qs_offset + 32 * j);
            __m512i codes = _mm512_and_si512(join(q4, _mm256_srli_epi16(q4, 4)), m4);
            if (kHasHigh) {
                const __m512i h =
                    join(_mm256_srli_epi16(hbits, 2 * j), _mm256_srli_epi16(hbits, 2 * j + 1));
                codes = _mm512_or_si512(codes, _mm512_slli_epi16(_mm512_and_si512(h, m1), 4));
            }
            const __m512i scales = _mm512_permutexvar_epi16(idx_by_32(2 * j), sc);
            isum = _mm512_add_epi32(isum, scaled_dot(codes, y[b].qs + 64 * j, scales));
        }
        uint16_t d16, dmin16;
        std::memcpy(&d16, blk, 2);
        std::memcpy(&dmin16, blk + 2, 2);
        sum += h2f(d16) * y[b].d * static_cast<float>(_mm512_reduce_add_epi32(isum));
        mins -= h2f(dmin16) * y[b].d * static_cast<float>(summ);
    }
    return sum + mins;
}

float dot_q4_K(int64_t n, const void* w, const void* a) {
    return dot_q45_K<false>(n, static_cast<const uint8_t*>(w), sizeof(BlockQ4_K),
                            offsetof(BlockQ4_K, qs), 0, static_cast<const BlockQ8_K*>(a));
}

float dot_q5_K(int64_t n, const void* w, const void* a) {
    return dot_q45_K<true>(n, static_cast<const uint8_t*>(w), sizeof(BlockQ5_K),
                           offsetof(BlockQ5_K, qs), offsetof(BlockQ5_K, qh),
                           static_cast<const BlockQ8_K*>(a));
}

constexpr size_t idx(DType t) { return static_cast<size_t>(t); }

}  // namespace

void fill_kquants(CpuKernels& k) {
    k.vec_dot[idx(DType::kQ2_K)] = dot_q2_K;
    k.vec_dot[idx(DType::kQ3_K)] = dot_q3_K;
    k.vec_dot[idx(DType::kQ4_K)] = dot_q4_K;
    k.vec_dot[idx(DType::kQ5_K)] = dot_q5_K;
    k.vec_dot[idx(DType::kQ6_K)] = dot_q6_K;
}

}  // namespace sobre::kernels::avx512
