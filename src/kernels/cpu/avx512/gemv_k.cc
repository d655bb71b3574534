// AVX-512 VNNI decode GEMV of the k-quants Q4_K, Q5_K and Q6_K, on the file's blocks (nothing is
// repacked): eight weight rows at a time against one packed activation row (gemm_layout.h).
//
// Per row and super-block the codes are unpacked 64 at a time, multiplied with the activations
// by vpmaddubsw (pairs, exact in int16) and weighted by their sub-block scales with vpdpwssd,
// which also accumulates: two instructions per 64 codes, where the per-row AVX2 dot product
// needs three per 32. The work that does not depend on the row is paid once per eight rows: the
// activation vectors in the order the codes come out, the scale/min unpacking (vectorized over
// four rows per register), the lane reduction and the float steps.
//
// Batch invariance: each super-block's integer sums are exact, and the float steps are the
// tiles' (gemm.cc k_sb) lane for lane: acc += float(isum) * (d_w * d_a), then, with a min,
// acc += float(min_sum) * (-dmin_w * d_a). So decode gives the bits of prefill.
#include <cstddef>
#include <type_traits>

#include "core/quant_blocks.h"
#include "kernels/cpu/avx512/gemm_layout.h"
#include "kernels/cpu/avx512/simd.h"

namespace sobre::kernels::avx512 {
namespace {

constexpr int kRows = 8;

// The packed activation layouts of kquant_unpack.inc's Q45_K and Q6_K (the tiles' prep_k form).
using LayoutQ45K = Layout<32, 8, 0, MinKind::kK>;
using LayoutQ6K = Layout<16, 16, 32, MinKind::kNone>;

// Eight weight rows starting at r0; rows past n_rows repeat the last one (their lanes are not
// stored).
struct RowBlock {
    const uint8_t* row[kRows];
    int count;

    RowBlock(const uint8_t* w, int64_t w_row_bytes, int64_t r0, int64_t n_rows) {
        count = static_cast<int>(n_rows - r0 < kRows ? n_rows - r0 : kRows);
        for (int r = 0; r < kRows; ++r)
            row[r] = w + (r0 + (r < count ? r : count - 1)) * w_row_bytes;
    }
};

// The walk both GEMVs share: eight rows at a time, super-block by super-block with the prefetch
// ahead; step(rows, sb, acc) adds super-block sb of the eight rows to their lanes of acc.
template <int64_t kBlock, class Step>
void for_each_step(const uint8_t* w, int64_t w_row_bytes, int64_t n_rows, int64_t n, float* y,
                   const Step& step) {
    for (int64_t r0 = 0; r0 < n_rows; r0 += kRows) {
        const RowBlock rb(w, w_row_bytes, r0, n_rows);
        __m256 acc = _mm256_setzero_ps();
        for (int64_t sb = 0; sb < n / kQKK; ++sb) {
            prefetch_decode_step(rb.row[0], sb, kRows, kBlock);
            acc = step(rb, sb, acc);
        }
        _mm256_mask_storeu_ps(y + r0, static_cast<__mmask8>((1u << rb.count) - 1), acc);
    }
}

// Per 128-bit lane k of q0 (rows 0..3) and q1 (rows 4..7), four int32 partial sums each ->
// the eight row totals in row order.
inline __m256i lane_totals(__m512i q0, __m512i q1) {
    __m512i t = _mm512_add_epi32(_mm512_unpacklo_epi32(q0, q1), _mm512_unpackhi_epi32(q0, q1));
    t = _mm512_add_epi32(t, _mm512_shuffle_epi32(t, _MM_PERM_BADC));
    // Lane k: dword 0 = row k, dword 1 = row 4 + k.
    const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 0, 0, 0, 0, 0, 0, 0, 0);
    return _mm512_castsi512_si256(_mm512_permutexvar_epi32(idx, t));
}

// The eight rows' totals of their 16 int32 lanes (exact).
inline __m256i row_totals(const __m512i* v) {
    __m512i p[4];
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) {
        // Lanes: [a0 + a2, a1 + a3, b0 + b2, b1 + b3].
        p[i] = _mm512_add_epi32(_mm512_shuffle_i64x2(v[2 * i], v[2 * i + 1], 0x44),
                                _mm512_shuffle_i64x2(v[2 * i], v[2 * i + 1], 0xee));
    }
    // Lanes: one per row, four partial sums each.
    const __m512i q0 = _mm512_add_epi32(_mm512_shuffle_i64x2(p[0], p[1], 0x88),
                                        _mm512_shuffle_i64x2(p[0], p[1], 0xdd));
    const __m512i q1 = _mm512_add_epi32(_mm512_shuffle_i64x2(p[2], p[3], 0x88),
                                        _mm512_shuffle_i64x2(p[2], p[3], 0xdd));
    return lane_totals(q0, q1);
}

// The tiles' float steps for eight rows of one super-block.
inline __m256 float_step(__m256 acc, __m256i isum, __m256 d_w, float d_a) {
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(d_w, _mm256_set1_ps(d_a)), acc);
}

// ---------------------------------------------------------------------------------------------
// Q4_K / Q5_K: eight 32-element sub-blocks, 6-bit scales and mins packed in 12 bytes.

// The first 16 bytes of the current super-block of four rows, one row per 128-bit lane:
// dword 0 = d | dmin << 16, dwords 1..3 = the 12 packed scale bytes.
inline __m512i four_headers(const RowBlock& rb, int first, int64_t offset) {
    __m512i v = _mm512_castsi128_si512(load128(rb.row[first] + offset));
    v = _mm512_inserti32x4(v, load128(rb.row[first + 1] + offset), 1);
    v = _mm512_inserti32x4(v, load128(rb.row[first + 2] + offset), 2);
    return _mm512_inserti32x4(v, load128(rb.row[first + 3] + offset), 3);
}

// Per lane: [sc0..3 | mn0..3 | sc4..7 | mn4..7] as bytes (core/quant_blocks.h k4_scale_min's
// bits; ggml's kmask walk on four rows at once).
inline __m512i unpack_scales_mins(__m512i h) {
    const __m512i u01 = _mm512_shuffle_epi32(h, _MM_PERM_CBCB);  // [u0, u1, u0, u1]
    const __m512i u2 = _mm512_shuffle_epi32(h, _MM_PERM_DDDD);   // [u2, u2, u2, u2]
    const __m512i low = _mm512_and_si512(u01, _mm512_set1_epi32(0x3f3f3f3f));
    const __m512i shift = _mm512_set4_epi32(4, 0, 0, 0);
    const __m512i high = _mm512_or_si512(
        _mm512_and_si512(_mm512_srlv_epi32(u2, shift), _mm512_set1_epi32(0x0f0f0f0f)),
        _mm512_slli_epi32(
            _mm512_and_si512(_mm512_srli_epi32(u01, 6), _mm512_set1_epi32(0x03030303)), 4));
    return _mm512_mask_blend_epi32(0xcccc, low, high);
}

// pshufb control: scale byte of sub-block sa in int16 lanes of the low 256 bits, sb in the high.
inline __m512i scale_pick(int sa, int sb) {
    auto pos = [](int s) { return static_cast<short>(0x8000 | (s < 4 ? s : s + 4)); };
    return _mm512_inserti64x4(_mm512_set1_epi16(pos(sa)), _mm256_set1_epi16(pos(sb)), 1);
}

// The fifth bit (Q5_K) of the 64 codes of one register: bit `bit` of qh for the low 256 bits and
// bit `bit + 2` for the high (codes of sub-blocks s and s + 2), as 0x10.
inline __m512i fifth_bits(__m512i qh, int bit) {
    const __m512i shift = _mm512_inserti64x4(_mm512_set1_epi16(static_cast<short>(bit)),
                                             _mm256_set1_epi16(static_cast<short>(bit + 2)), 1);
    return _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(qh, shift), _mm512_set1_epi8(1)),
                             4);
}

template <bool kHigh>
void gemv_q45_K(const uint8_t* w, int64_t w_row_bytes, int64_t n_rows, int64_t n,
                const uint8_t* act, float* y) {
    using Block = std::conditional_t<kHigh, BlockQ5_K, BlockQ4_K>;
    constexpr int64_t kBlock = sizeof(Block);
    constexpr int kQs = offsetof(Block, qs);
    using L = LayoutQ45K;
    const auto* d_a = reinterpret_cast<const float*>(act + L::d_offset(n));
    const auto* gsum = reinterpret_cast<const L::GroupSum*>(act + L::aux_offset(n));
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    const __m512i pick_mins = _mm512_broadcast_i32x4(
        _mm_setr_epi8(4, -1, 5, -1, 6, -1, 7, -1, 12, -1, 13, -1, 14, -1, 15, -1));
    const __m512i first_dwords =
        _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 0, 0, 0, 0, 0, 0, 0, 0);
    for_each_step<kBlock>(
        w, w_row_bytes, n_rows, n, y, [&](const RowBlock& rb, int64_t sb, __m256 acc) {
            const int64_t off = sb * kBlock;
            // Activations in the order the codes come out: the low nibbles of qs bytes 0..63 are
            // sub-blocks 0 and 2, the high nibbles 1 and 3; bytes 64..127 likewise 4..7.
            const uint8_t* a = act + sb * kQKK;
            __m512i av[4];
            for (int m = 0; m < 2; ++m) {
                const __m512i x0 = load512(a + 128 * m), x1 = load512(a + 128 * m + 64);
                av[2 * m] = _mm512_shuffle_i64x2(x0, x1, 0x44);
                av[2 * m + 1] = _mm512_shuffle_i64x2(x0, x1, 0xee);
            }
            const __m512i h0 = four_headers(rb, 0, off), h1 = four_headers(rb, 4, off);
            alignas(64) uint8_t sm[kRows][16];
            _mm512_store_si512(sm[0], unpack_scales_mins(h0));
            _mm512_store_si512(sm[4], unpack_scales_mins(h1));
            __m512i isum[kRows];
#pragma GCC unroll 8
            for (int r = 0; r < kRows; ++r) {
                const uint8_t* blk = rb.row[r] + off;
                const __m512i sc = _mm512_broadcast_i32x4(load128(sm[r]));
                __m512i s = _mm512_setzero_si512();
#pragma GCC unroll 2
                for (int m = 0; m < 2; ++m) {
                    const __m512i q = load512(blk + kQs + 64 * m);
                    __m512i lo = _mm512_and_si512(q, m4);
                    __m512i hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
                    if constexpr (kHigh) {
                        const __m512i qh =
                            _mm512_broadcast_i64x4(load256(blk + offsetof(BlockQ5_K, qh)));
                        lo = _mm512_or_si512(lo, fifth_bits(qh, 4 * m));
                        hi = _mm512_or_si512(hi, fifth_bits(qh, 4 * m + 1));
                    }
                    s = _mm512_dpwssd_epi32(s, _mm512_maddubs_epi16(lo, av[2 * m]),
                                            _mm512_shuffle_epi8(sc, scale_pick(4 * m, 4 * m + 2)));
                    s = _mm512_dpwssd_epi32(
                        s, _mm512_maddubs_epi16(hi, av[2 * m + 1]),
                        _mm512_shuffle_epi8(sc, scale_pick(4 * m + 1, 4 * m + 3)));
                }
                isum[r] = s;
            }
            // Mins: sum over sub-blocks of min * (sum of the sub-block's activations).
            const __m512i g16 = _mm512_broadcast_i32x4(load128(gsum + sb * L::kGroups));
            const __m512i m0 =
                _mm512_madd_epi16(_mm512_shuffle_epi8(load512(sm[0]), pick_mins), g16);
            const __m512i m1 =
                _mm512_madd_epi16(_mm512_shuffle_epi8(load512(sm[4]), pick_mins), g16);
            const __m256i hdr =
                _mm512_castsi512_si256(_mm512_permutex2var_epi32(h0, first_dwords, h1));
            const __m256 d_w = _mm256_cvtph_ps(_mm256_cvtepi32_epi16(hdr));
            const __m256 ndmin_w =
                _mm256_xor_ps(_mm256_cvtph_ps(_mm256_cvtepi32_epi16(_mm256_srli_epi32(hdr, 16))),
                              _mm256_set1_ps(-0.0f));
            acc = float_step(acc, row_totals(isum), d_w, d_a[sb]);
            return float_step(acc, lane_totals(m0, m1), ndmin_w, d_a[sb]);
        });
}

// ---------------------------------------------------------------------------------------------
// Q6_K: sixteen 16-element groups with int8 scales; codes are q + 32.

// vpermw indices: int16 scale 8h + 4c + k in every int16 of 128-bit lane k.
inline __m512i group_pick(int first) {
    return _mm512_inserti64x4(
        _mm512_castsi256_si512(_mm256_set_m128i(_mm_set1_epi16(static_cast<short>(first + 1)),
                                                _mm_set1_epi16(static_cast<short>(first)))),
        _mm256_set_m128i(_mm_set1_epi16(static_cast<short>(first + 3)),
                         _mm_set1_epi16(static_cast<short>(first + 2))),
        1);
}

void gemv_q6_K(const uint8_t* w, int64_t w_row_bytes, int64_t n_rows, int64_t n, const uint8_t* act,
               float* y) {
    constexpr int64_t kBlock = sizeof(BlockQ6_K);
    using L = LayoutQ6K;
    const auto* d_a = reinterpret_cast<const float*>(act + L::d_offset(n));
    const auto* gsum = reinterpret_cast<const int32_t*>(act + L::aux_offset(n));
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    const __m512i m30 = _mm512_set1_epi8(0x30);
    // qh bits 0..1 (then 4..5) serve the low 256 bits of a half's codes, bits 2..3 (6..7) the high.
    const __m512i qh_shift = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);
    for_each_step<kBlock>(
        w, w_row_bytes, n_rows, n, y, [&](const RowBlock& rb, int64_t sb, __m256 acc) {
            const int64_t off = sb * kBlock;
            const uint8_t* a = act + sb * kQKK;
            const __m512i av[4] = {load512(a), load512(a + 64), load512(a + 128), load512(a + 192)};
            // The -32 code offset: -32 * sum over groups of scale * (sum of the group's
            // activations).
            const __m512i g16 = _mm512_zextsi256_si512(
                _mm512_cvtepi32_epi16(_mm512_loadu_si512(gsum + sb * L::kGroups)));
            __m512i isum[kRows];
            alignas(32) float d_w[kRows];
#pragma GCC unroll 8
            for (int r = 0; r < kRows; ++r) {
                const auto* x = reinterpret_cast<const BlockQ6_K*>(rb.row[r] + off);
                const __m256i sc16 = _mm256_cvtepi8_epi16(load128(x->scales));
                const __m512i sc = _mm512_castsi256_si512(sc16);
                __m512i s = _mm512_dpwssd_epi32(
                    _mm512_setzero_si512(),
                    _mm512_zextsi256_si512(_mm256_mullo_epi16(sc16, _mm256_set1_epi16(-32))), g16);
#pragma GCC unroll 2
                for (int h = 0; h < 2; ++h) {
                    const __m512i ql = load512(x->ql + 64 * h);
                    const __m512i qh = _mm512_srlv_epi16(
                        _mm512_broadcast_i64x4(load256(x->qh + 32 * h)), qh_shift);
                    // (ql & 0x0f) | high bits: imm 0xf8 = A | (B & C), ternlog(A=high, B=ql, C=m4).
                    const __m512i c0 = _mm512_ternarylogic_epi32(
                        _mm512_and_si512(_mm512_slli_epi16(qh, 4), m30), ql, m4, 0xf8);
                    const __m512i c1 = _mm512_ternarylogic_epi32(
                        _mm512_and_si512(qh, m30), _mm512_srli_epi16(ql, 4), m4, 0xf8);
                    s = _mm512_dpwssd_epi32(s, _mm512_maddubs_epi16(c0, av[2 * h]),
                                            _mm512_permutexvar_epi16(group_pick(8 * h), sc));
                    s = _mm512_dpwssd_epi32(s, _mm512_maddubs_epi16(c1, av[2 * h + 1]),
                                            _mm512_permutexvar_epi16(group_pick(8 * h + 4), sc));
                }
                isum[r] = s;
                d_w[r] = h2f(x->d);
            }
            return float_step(acc, row_totals(isum), _mm256_load_ps(d_w), d_a[sb]);
        });
}

constexpr size_t idx(DType t) { return static_cast<size_t>(t); }

}  // namespace

void fill_gemv_k(CpuKernels& k) {
    k.gemm[idx(DType::kQ4_K)].gemv = gemv_q45_K<false>;
    k.gemm[idx(DType::kQ5_K)].gemv = gemv_q45_K<true>;
    k.gemm[idx(DType::kQ6_K)].gemv = gemv_q6_K;
}

}  // namespace sobre::kernels::avx512
