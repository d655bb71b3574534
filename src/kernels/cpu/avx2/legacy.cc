// AVX2 dot products of the legacy quants (32-element blocks) with q8_0 / q8_1 activations.
// Per block the integer sum is exact (the same as the reference's sumi); it is kept as 8 int32
// lanes, converted to float and scaled by d_w * d_a, and the lanes are added at the end.
// ref: ggml-cpu/arch/x86/quants.c (ggml_vec_dot_q4_0_q8_0 and friends), same ideas.
#include "core/quant_blocks.h"
#include "kernels/cpu/avx2/simd.h"

namespace sobre::kernels::avx2 {
namespace {

// Sums `blocks` block terms with two accumulators (independent FMA chains). term(b) returns
// block b's 8 int32 partial sums as floats already multiplied by its scale.
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
    return hsum(_mm256_add_ps(acc0, acc1));
}

inline __m256 scaled(__m256i isum, float d, __m256 acc) {
    return _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(isum), acc);
}

float dot_q8_0(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockQ8_0*>(w);
    const auto* y = static_cast<const BlockQ8_0*>(a);
    return sum_blocks(n / kQK, [&](int64_t b, __m256 acc) {
        const __m256i isum = dot_ss8(load256(x[b].qs), load256(y[b].qs));
        return scaled(isum, h2f(x[b].d) * h2f(y[b].d), acc);
    });
}

// Codes 0..15 minus 8 are signed, so the sign trick of dot_ss8 applies.
float dot_q4_0(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockQ4_0*>(w);
    const auto* y = static_cast<const BlockQ8_0*>(a);
    return sum_blocks(n / kQK, [&](int64_t b, __m256 acc) {
        const __m256i q = _mm256_sub_epi8(nibbles32(x[b].qs), _mm256_set1_epi8(8));
        const __m256i isum = dot_ss8(q, load256(y[b].qs));
        return scaled(isum, h2f(x[b].d) * h2f(y[b].d), acc);
    });
}

// Fifth bit set: the code is nibble + 16, so code - 16 is the nibble itself; clear: nibble - 16,
// which is the nibble with the top four bits set in two's complement.
float dot_q5_0(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockQ5_0*>(w);
    const auto* y = static_cast<const BlockQ8_0*>(a);
    return sum_blocks(n / kQK, [&](int64_t b, __m256 acc) {
        const __m256i high =
            _mm256_andnot_si256(bits32(x[b].qh), _mm256_set1_epi8(static_cast<char>(0xf0)));
        const __m256i q = _mm256_or_si256(nibbles32(x[b].qs), high);
        const __m256i isum = dot_ss8(q, load256(y[b].qs));
        return scaled(isum, h2f(x[b].d) * h2f(y[b].d), acc);
    });
}

// q4_1 / q5_1: unsigned codes (<= 31, so maddubs cannot saturate) times q8_1, plus m * s.
float dot_q4_1(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const BlockQ4_1*>(w);
    const auto* y = static_cast<const BlockQ8_1*>(a);
    float offsets = 0.0f;
    const float sum = sum_blocks(n / kQK, [&](int64_t b, __m256 acc) {
        offsets += h2f(x[b].m) * h2f(y[b].s);
        const __m256i isum = dot_us8(nibbles32(x[b].qs), load256(y[b].qs));
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
        const __m256i high = _mm256_and_si256(bits32(x[b].qh), _mm256_set1_epi8(0x10));
        const __m256i q = _mm256_or_si256(nibbles32(x[b].qs), high);
        const __m256i isum = dot_us8(q, load256(y[b].qs));
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

}  // namespace sobre::kernels::avx2
