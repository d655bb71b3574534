// AVX-512 (VNNI) dot products of the legacy quants with q8_0 / q8_1 activations: one block of
// 32 per 256-bit vpdpbusd, whose u8 x s8 sums are exact (no maddubs saturation), so unsigned
// codes are used as stored and a constant code offset c is removed as c * sum(activations),
// itself one vpdpbusd. Per block the integer sum equals the reference's sumi.
#include "core/quant_blocks.h"
#include "kernels/cpu/avx512/simd.h"

namespace sobre::kernels::avx512 {
namespace {

// Sums `blocks` block terms with two accumulators (independent FMA chains).
template <class Term>
inline float sum_blocks(int64_t blocks, Term term) {
    __m256 acc0 = _mm256_setzero_ps();
    __m256 acc1 = _mm256_setzero_ps();
    int64_t b = 0;
    for (; b + 1 < blocks; b += 2) {
        acc0 = term(b, acc0);
        acc1 = term(b + 1, acc1);
    }
    if (b < blocks) acc0 = term(b, acc0);
    return hsum256(_mm256_add_ps(acc0, acc1));
}

inline __m256 scaled(__m256i isum, float d, __m256 acc) {
    return _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(isum), acc);
}

// sum((u - c) * y) for unsigned codes u: sum(u * y) - sum(c * y), both exact.
inline __m256i offset_dot(__m256i u, __m256i y, char c) {
    const __m256i zero = _mm256_setzero_si256();
    return _mm256_sub_epi32(dpbusd(zero, u, y), dpbusd(zero, _mm256_set1_epi8(c), y));
}

float dot_q8_0(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockQ8_0*>(w);
    const auto* y = static_cast<const BlockQ8_0*>(a);
    return sum_blocks(n / kQK, [&](int64_t b, __m256 acc) {
        const __m256i isum = dot_ss8(load256(x[b].qs), load256(y[b].qs));
        return scaled(isum, h2f(x[b].d) * h2f(y[b].d), acc);
    });
}

float dot_q4_0(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockQ4_0*>(w);
    const auto* y = static_cast<const BlockQ8_0*>(a);
    return sum_blocks(n / kQK, [&](int64_t b, __m256 acc) {
        const __m256i isum = offset_dot(nibbles32(x[b].qs), load256(y[b].qs), 8);
        return scaled(isum, h2f(x[b].d) * h2f(y[b].d), acc);
    });
}

float dot_q5_0(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockQ5_0*>(w);
    const auto* y = static_cast<const BlockQ8_0*>(a);
    return sum_blocks(n / kQK, [&](int64_t b, __m256 acc) {
        const __m256i u = _mm256_or_si256(nibbles32(x[b].qs), fifth_bits32(x[b].qh));
        const __m256i isum = offset_dot(u, load256(y[b].qs), 16);
        return scaled(isum, h2f(x[b].d) * h2f(y[b].d), acc);
    });
}

// q4_1 / q5_1: unsigned codes times q8_1, plus m * s (s = d_y * sum(y) from the quantizer).
float dot_q4_1(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockQ4_1*>(w);
    const auto* y = static_cast<const BlockQ8_1*>(a);
    float offsets = 0.0f;
    const float sum = sum_blocks(n / kQK, [&](int64_t b, __m256 acc) {
        offsets += h2f(x[b].m) * h2f(y[b].s);
        const __m256i isum = dpbusd(_mm256_setzero_si256(), nibbles32(x[b].qs), load256(y[b].qs));
        return scaled(isum, h2f(x[b].d) * h2f(y[b].d), acc);
    });
    return sum + offsets;
}

float dot_q5_1(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockQ5_1*>(w);
    const auto* y = static_cast<const BlockQ8_1*>(a);
    float offsets = 0.0f;
    const float sum = sum_blocks(n / kQK, [&](int64_t b, __m256 acc) {
        offsets += h2f(x[b].m) * h2f(y[b].s);
        const __m256i u = _mm256_or_si256(nibbles32(x[b].qs), fifth_bits32(x[b].qh));
        const __m256i isum = dpbusd(_mm256_setzero_si256(), u, load256(y[b].qs));
        return scaled(isum, h2f(x[b].d) * h2f(y[b].d), acc);
    });
    return sum + offsets;
}

constexpr size_t idx(DType t) { return static_cast<size_t>(t); }

}  // namespace

void fill_legacy(CpuKernels& k) {
    k.vec_dot[idx(DType::kQ8_0)] = dot_q8_0;
    k.vec_dot[idx(DType::kQ4_0)] = dot_q4_0;
    k.vec_dot[idx(DType::kQ4_1)] = dot_q4_1;
    k.vec_dot[idx(DType::kQ5_0)] = dot_q5_0;
    k.vec_dot[idx(DType::kQ5_1)] = dot_q5_1;
}

}  // namespace sobre::kernels::avx512
