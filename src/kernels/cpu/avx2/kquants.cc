// AVX2 dot products of the k-quants with q8_K activations. Codes are unpacked to unsigned bytes
// (every k-quant code fits 0..63, so maddubs cannot saturate), multiplied with the activations
// by maddubs, weighted by their sub-block scales with madd, and summed exactly in int32 per
// super-block. Constant code offsets (-32 for q6_K, -4 for q3_K) and the mins of q2_K/q4_K/q5_K
// use the activation's 16-element sums (bsums) instead of touching the codes again.
// ref: ggml-cpu/arch/x86/quants.c (ggml_vec_dot_q*_K_q8_K), same block walk.
#include "core/quant_blocks.h"
#include "kernels/cpu/avx2/simd.h"

namespace sobre::kernels::avx2 {
namespace {

// int16 vector with lanes 0..7 = s[2k] and lanes 8..15 = s[2k + 1], from 16 int8 scales: the
// scales of the two 16-element halves of 32 consecutive elements.
inline __m256i scale_pair(__m128i scales8, int k) {
    const __m128i mask =
        _mm_set_epi64x(0x0101010101010101LL * (2 * k + 1), 0x0101010101010101LL * (2 * k));
    return _mm256_cvtepi8_epi16(_mm_shuffle_epi8(scales8, mask));
}

// 32 unsigned codes times 32 activations, weighted by the scale pair -> 8 int32.
inline __m256i scaled_dot(__m256i codes, const int8_t* act, __m256i scales16) {
    return _mm256_madd_epi16(scales16, _mm256_maddubs_epi16(codes, load256(act)));
}

inline __m256i bsums16(const BlockQ8_K& y) { return load256(y.bsums); }

// Decode reads each weight row once, straight from DRAM: asking for the bytes well ahead keeps
// more misses in flight than the hardware prefetcher alone (as the legacy GEMV does). Measured on
// whole decode steps (sobre bench -n 64 -t 2, Qwen3-0.6B Q4_K_M): none 34 t/s, 512 bytes 38.6,
// 1024 44, 2048 50, 4096 52.5, 6144 52.8.
constexpr int kPrefetchBytes = 4096;
// Every cache line of the block kPrefetchBytes ahead (block_bytes: 84..210).
inline void prefetch_ahead(const void* block, int block_bytes) {
    const char* p = static_cast<const char*>(block) + kPrefetchBytes;
    for (int off = 0; off < block_bytes; off += 64) _mm_prefetch(p + off, _MM_HINT_T0);
}

float dot_q6_K(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockQ6_K*>(w);
    const auto* y = static_cast<const BlockQ8_K*>(a);
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    const __m256i m3 = _mm256_set1_epi8(3);
    float acc = 0.0f;
    for (int64_t b = 0; b < n / kQKK; ++b) {
        prefetch_ahead(&x[b], sizeof(BlockQ6_K));
        const __m128i sc8 = load128(x[b].scales);
        // Codes are stored as q + 32: subtract 32 * sum(scale * bsum) once.
        const __m256i offset = _mm256_madd_epi16(_mm256_cvtepi8_epi16(sc8), bsums16(y[b]));
        __m256i isum = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(offset, 5));
        for (int half = 0; half < 2; ++half) {
            const __m256i ql0 = load256(x[b].ql + 64 * half);
            const __m256i ql1 = load256(x[b].ql + 64 * half + 32);
            const __m256i qh = load256(x[b].qh + 32 * half);
            const __m256i codes[4] = {
                _mm256_or_si256(_mm256_and_si256(ql0, m4),
                                _mm256_slli_epi16(_mm256_and_si256(qh, m3), 4)),
                _mm256_or_si256(
                    _mm256_and_si256(ql1, m4),
                    _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m3), 4)),
                _mm256_or_si256(
                    _mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                    _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m3), 4)),
                _mm256_or_si256(
                    _mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                    _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m3), 4)),
            };
            for (int g = 0; g < 4; ++g) {
                const int8_t* act = y[b].qs + 128 * half + 32 * g;
                isum = _mm256_add_epi32(isum,
                                        scaled_dot(codes[g], act, scale_pair(sc8, 4 * half + g)));
            }
        }
        acc = fma_step(acc, hsum_i32(isum), h2f(x[b].d) * y[b].d);
    }
    return acc;
}

// The 16 6-bit Q3_K scales (before the -32 offset) as bytes. ref: ggml's kmask unpack; the
// same bit walk as core/quant_blocks.h q3_k_scale.
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
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(aux));
}

// Codes q + 4 * hbit are 0..7; the stored value is that minus 4.
float dot_q3_K(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockQ3_K*>(w);
    const auto* y = static_cast<const BlockQ8_K*>(a);
    const __m256i m3 = _mm256_set1_epi8(3);
    const __m256i m1 = _mm256_set1_epi8(1);
    float acc = 0.0f;
    for (int64_t b = 0; b < n / kQKK; ++b) {
        prefetch_ahead(&x[b], sizeof(BlockQ3_K));
        const __m128i sc8 = _mm_sub_epi8(q3_k_scales(x[b].scales), _mm_set1_epi8(32));
        const __m256i offset = _mm256_madd_epi16(_mm256_cvtepi8_epi16(sc8), bsums16(y[b]));
        __m256i isum = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(offset, 2));
        const __m256i hbits = load256(x[b].hmask);
        for (int half = 0; half < 2; ++half) {
            const __m256i q2 = load256(x[b].qs + 32 * half);
            for (int j = 0; j < 4; ++j) {
                const __m256i low = _mm256_and_si256(_mm256_srli_epi16(q2, 2 * j), m3);
                const __m256i hb = _mm256_and_si256(_mm256_srli_epi16(hbits, 4 * half + j), m1);
                const __m256i codes = _mm256_or_si256(low, _mm256_slli_epi16(hb, 2));
                const int8_t* act = y[b].qs + 128 * half + 32 * j;
                isum =
                    _mm256_add_epi32(isum, scaled_dot(codes, act, scale_pair(sc8, 4 * half + j)));
            }
        }
        acc = fma_step(acc, hsum_i32(isum), h2f(x[b].d) * y[b].d);
    }
    return acc;
}

// x = d * scale * q - dmin * min per 16 elements (scale low nibble, min high nibble).
float dot_q2_K(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockQ2_K*>(w);
    const auto* y = static_cast<const BlockQ8_K*>(a);
    const __m256i m3 = _mm256_set1_epi8(3);
    const __m128i m4 = _mm_set1_epi8(0x0f);
    float sum = 0.0f;
    for (int64_t b = 0; b < n / kQKK; ++b) {
        prefetch_ahead(&x[b], sizeof(BlockQ2_K));
        const __m128i packed = load128(x[b].scales);
        const __m128i sc8 = _mm_and_si128(packed, m4);
        const __m128i mn8 = _mm_and_si128(_mm_srli_epi16(packed, 4), m4);
        const int summs = hsum_i32(_mm256_madd_epi16(_mm256_cvtepu8_epi16(mn8), bsums16(y[b])));
        __m256i isum = _mm256_setzero_si256();
        for (int half = 0; half < 2; ++half) {
            const __m256i q2 = load256(x[b].qs + 32 * half);
            for (int j = 0; j < 4; ++j) {
                const __m256i codes = _mm256_and_si256(_mm256_srli_epi16(q2, 2 * j), m3);
                const int8_t* act = y[b].qs + 128 * half + 32 * j;
                isum =
                    _mm256_add_epi32(isum, scaled_dot(codes, act, scale_pair(sc8, 4 * half + j)));
            }
        }
        const float dall = y[b].d * h2f(x[b].d);
        const float dmin = y[b].d * h2f(x[b].dmin);
        sum = fma_step(sum, hsum_i32(isum), dall);
        sum = fma_step(sum, summs, -dmin);
    }
    return sum;
}

// The eight 6-bit scales (bytes 0..7) and mins (bytes 8..15) of a Q4_K/Q5_K super-block.
// ref: ggml's utmp/kmask unpack; the same bits as core/quant_blocks.h k4_scale_min.
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
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(u));
}

// Q4_K and Q5_K: eight 32-element sub-blocks with one scale each; qh (Q5_K) adds bit s of
// qh[l] as bit 4 of element l of sub-block s.
template <bool kHasHigh>
float dot_q45_K(int64_t n, const uint8_t* base, int64_t block_bytes, int qs_offset, int qh_offset,
                const BlockQ8_K* y) {
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    const __m256i m1 = _mm256_set1_epi8(1);
    float acc = 0.0f;
    for (int64_t b = 0; b < n / kQKK; ++b) {
        const uint8_t* blk = base + b * block_bytes;
        prefetch_ahead(blk, static_cast<int>(block_bytes));
        const __m128i sm = k4_scales_mins(blk + 4);
        // Each min covers two bsums.
        const __m128i bs = _mm_hadd_epi16(load128(y[b].bsums), load128(y[b].bsums + 8));
        const __m128i mins16 = _mm_cvtepu8_epi16(_mm_unpackhi_epi64(sm, sm));
        const __m128i prod = _mm_madd_epi16(mins16, bs);
        const __m128i p2 = _mm_add_epi32(prod, _mm_unpackhi_epi64(prod, prod));
        const int summ = _mm_cvtsi128_si32(_mm_add_epi32(p2, _mm_shuffle_epi32(p2, 1)));
        // Scale s broadcast to int16: shuffle its byte with a zero byte (index -1 gives 0).
        const __m256i sc = _mm256_broadcastsi128_si256(sm);
        __m256i isum = _mm256_setzero_si256();
        const __m256i hbits = kHasHigh ? load256(blk + qh_offset) : _mm256_setzero_si256();
        for (int j = 0; j < 4; ++j) {
            const __m256i q4 = load256(blk + qs_offset + 32 * j);
            __m256i lo = _mm256_and_si256(q4, m4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q4, 4), m4);
            if (kHasHigh) {
                lo = _mm256_or_si256(
                    lo,
                    _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hbits, 2 * j), m1), 4));
                hi = _mm256_or_si256(
                    hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hbits, 2 * j + 1), m1),
                                          4));
            }
            const __m256i sc_lo =
                _mm256_shuffle_epi8(sc, _mm256_set1_epi16(static_cast<short>(0xff00 | (2 * j))));
            const __m256i sc_hi = _mm256_shuffle_epi8(
                sc, _mm256_set1_epi16(static_cast<short>(0xff00 | (2 * j + 1))));
            isum = _mm256_add_epi32(isum, scaled_dot(lo, y[b].qs + 64 * j, sc_lo));
            isum = _mm256_add_epi32(isum, scaled_dot(hi, y[b].qs + 64 * j + 32, sc_hi));
        }
        uint16_t d16, dmin16;
        std::memcpy(&d16, blk, 2);
        std::memcpy(&dmin16, blk + 2, 2);
        acc = fma_step(acc, hsum_i32(isum), h2f(d16) * y[b].d);
        acc = fma_step(acc, summ, -(h2f(dmin16) * y[b].d));
    }
    return acc;
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

}  // namespace sobre::kernels::avx2
