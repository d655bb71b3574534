// AVX-512 VNNI prefill GEMM for the integer types: weights are packed 16 rows at a time into a
// panel whose 512-bit vectors hold 4 consecutive codes of each of the 16 rows, so one vpdpbusd
// with a broadcast activation quad advances 16 rows by 4 elements, lanes never need a
// horizontal sum, and the per-group scale work is paid once per 16 rows instead of once per dot
// product. This is the layout of ik_llama's repacked _r16 types (ref: ik_llama.cpp
// ggml/src/iqk/iqk_gemm_*.cpp), built here per call from the file's blocks instead of at load,
// as BLAS packs panels.
//
// Codes are unsigned bytes u = q + c (c a constant per type, removed exactly as c * sum(a) in the
// int32 start value). Two forms:
//   * legacy types (one 32-element group per block): per block, acc += float(isum) * (d_w * d_a),
//     then + m * s for q4_1/q5_1;
//   * k-quants: sub-block scales and mins are applied in integers (exact), and per super-block
//     acc += float(isum) * (d_w * d_a), then + float(min_sum) * (-dmin_w * d_a): the same float
//     steps as this level's vec_dot (fma_step), so decode through vec_dot and prefill through
//     the tiles give the same bits.
// Decode of the legacy types runs gemv() below, which repeats the tile's float steps lane for
// lane. Together this makes every output independent of the batch it is computed in.
#include <cstddef>
#include <type_traits>
#include <utility>

#include "core/quant_blocks.h"
#include "kernels/cpu/avx512/gemm_layout.h"
#include "kernels/cpu/avx512/simd.h"

namespace sobre::kernels::avx512 {
namespace {


// ---------------------------------------------------------------------------------------------
// Row unpackers: one super-block of one weight row -> codes and its scales (legacy: f32 d and m;
// k-quants: int32 sub-block scales and mins, f32 d and -dmin).

inline void store32(uint8_t* dst, __m256i v) {
    _mm256_store_si256(reinterpret_cast<__m256i*>(dst), v);
}

struct Q8_0 {
    using L = Layout<32, 1, 128, MinKind::kNone>;
    using Block = BlockQ8_0;
    static constexpr int64_t kBlockBytes = sizeof(BlockQ8_0);
    // The block's 32 codes (the panel's convention), in a register.
    static __m256i codes(const uint8_t* p) {
        const auto* x = reinterpret_cast<const BlockQ8_0*>(p);
        return _mm256_xor_si256(load256(x->qs), _mm256_set1_epi8(static_cast<char>(0x80)));
    }
    static void unpack(const uint8_t* p, uint8_t* codes_out, float* sc, float*) {
        const auto* x = reinterpret_cast<const BlockQ8_0*>(p);
        store32(codes_out, codes(p));
        sc[0] = h2f(x->d);
    }
};

struct Q4_0 {
    using L = Layout<32, 1, 8, MinKind::kNone>;
    using Block = BlockQ4_0;
    static constexpr int64_t kBlockBytes = sizeof(BlockQ4_0);
    // The block's 32 codes (the panel's convention), in a register.
    static __m256i codes(const uint8_t* p) {
        const auto* x = reinterpret_cast<const BlockQ4_0*>(p);
        return nibbles32(x->qs);
    }
    static void unpack(const uint8_t* p, uint8_t* codes_out, float* sc, float*) {
        const auto* x = reinterpret_cast<const BlockQ4_0*>(p);
        store32(codes_out, codes(p));
        sc[0] = h2f(x->d);
    }
};

struct Q5_0 {
    using L = Layout<32, 1, 16, MinKind::kNone>;
    using Block = BlockQ5_0;
    static constexpr int64_t kBlockBytes = sizeof(BlockQ5_0);
    // The block's 32 codes (the panel's convention), in a register.
    static __m256i codes(const uint8_t* p) {
        const auto* x = reinterpret_cast<const BlockQ5_0*>(p);
        return _mm256_or_si256(nibbles32(x->qs), fifth_bits32(x->qh));
    }
    static void unpack(const uint8_t* p, uint8_t* codes_out, float* sc, float*) {
        const auto* x = reinterpret_cast<const BlockQ5_0*>(p);
        store32(codes_out, codes(p));
        sc[0] = h2f(x->d);
    }
};

struct Q4_1 {
    using L = Layout<32, 1, 0, MinKind::kLegacy>;
    using Block = BlockQ4_1;
    static constexpr int64_t kBlockBytes = sizeof(BlockQ4_1);
    static constexpr int kMOffset = offsetof(BlockQ4_1, m);
    // The block's 32 codes (the panel's convention), in a register.
    static __m256i codes(const uint8_t* p) {
        const auto* x = reinterpret_cast<const BlockQ4_1*>(p);
        return nibbles32(x->qs);
    }
    static void unpack(const uint8_t* p, uint8_t* codes_out, float* sc, float* mn) {
        const auto* x = reinterpret_cast<const BlockQ4_1*>(p);
        store32(codes_out, codes(p));
        sc[0] = h2f(x->d);
        mn[0] = h2f(x->m);
    }
};

struct Q5_1 {
    using L = Layout<32, 1, 0, MinKind::kLegacy>;
    using Block = BlockQ5_1;
    static constexpr int64_t kBlockBytes = sizeof(BlockQ5_1);
    static constexpr int kMOffset = offsetof(BlockQ5_1, m);
    // The block's 32 codes (the panel's convention), in a register.
    static __m256i codes(const uint8_t* p) {
        const auto* x = reinterpret_cast<const BlockQ5_1*>(p);
        return _mm256_or_si256(nibbles32(x->qs), fifth_bits32(x->qh));
    }
    static void unpack(const uint8_t* p, uint8_t* codes_out, float* sc, float* mn) {
        const auto* x = reinterpret_cast<const BlockQ5_1*>(p);
        store32(codes_out, codes(p));
        sc[0] = h2f(x->d);
        mn[0] = h2f(x->m);
    }
};

#include "kernels/cpu/kquant_unpack.inc"

// ---------------------------------------------------------------------------------------------
// Packing: unpack 16 rows of a super-block side by side, transpose the codes to dword columns
// 16x16 dwords at a time, and the scales to group-major order.

// In place: v[c] = column c of the 16x16 dword matrix whose row r was v[r]. Four rounds of 16
// in-register shuffles (dwords, qwords, then 128-bit lanes twice); 64 shuffles where 16 gathers
// of 16 dwords each issue 256 loads.
inline void transpose16x16_epi32(__m512i* v) {
    __m512i u[16];
#pragma GCC unroll 16
    for (int i = 0; i < 8; ++i) {
        u[2 * i] = _mm512_unpacklo_epi32(v[2 * i], v[2 * i + 1]);
        u[2 * i + 1] = _mm512_unpackhi_epi32(v[2 * i], v[2 * i + 1]);
    }
    // Lane L of v[4i + j]: column 4L + j of rows 4i..4i+3.
#pragma GCC unroll 16
    for (int i = 0; i < 4; ++i) {
        v[4 * i] = _mm512_unpacklo_epi64(u[4 * i], u[4 * i + 2]);
        v[4 * i + 1] = _mm512_unpackhi_epi64(u[4 * i], u[4 * i + 2]);
        v[4 * i + 2] = _mm512_unpacklo_epi64(u[4 * i + 1], u[4 * i + 3]);
        v[4 * i + 3] = _mm512_unpackhi_epi64(u[4 * i + 1], u[4 * i + 3]);
    }
#pragma GCC unroll 16
    for (int j = 0; j < 4; ++j) {
        const __m512i ab_lo = _mm512_shuffle_i32x4(v[j], v[4 + j], 0x44);
        const __m512i ab_hi = _mm512_shuffle_i32x4(v[j], v[4 + j], 0xee);
        const __m512i cd_lo = _mm512_shuffle_i32x4(v[8 + j], v[12 + j], 0x44);
        const __m512i cd_hi = _mm512_shuffle_i32x4(v[8 + j], v[12 + j], 0xee);
        u[j] = _mm512_shuffle_i32x4(ab_lo, cd_lo, 0x88);
        u[4 + j] = _mm512_shuffle_i32x4(ab_lo, cd_lo, 0xdd);
        u[8 + j] = _mm512_shuffle_i32x4(ab_hi, cd_hi, 0x88);
        u[12 + j] = _mm512_shuffle_i32x4(ab_hi, cd_hi, 0xdd);
    }
#pragma GCC unroll 16
    for (int c = 0; c < 16; ++c) v[c] = u[c];
}

template <class T>
void pack(const uint8_t* w, int64_t w_row_bytes, int n_rows, int64_t n, void* panel) {
    using L = typename T::L;
    using Scale = std::conditional_t<L::kK, int32_t, float>;
    alignas(64) uint8_t codes[kPanelRows][L::kSB];
    std::memset(codes, 0, sizeof codes);
    auto* out = static_cast<uint8_t*>(panel);
    for (int64_t sb = 0; sb < n / L::kSB; ++sb) {
        // The unpackers write scales, mins and d straight into their group-major panel slots;
        // the slots of rows past n_rows stay zero.
        auto* osc = reinterpret_cast<Scale*>(out + int64_t{L::kSB} * kPanelRows);
        Scale* omn = osc + L::kGroups * kPanelRows;
        auto* od = reinterpret_cast<float*>(osc + L::kGroups * kPanelRows * L::kMinVecs);
        if (n_rows < kPanelRows) {
            std::memset(osc, 0, static_cast<size_t>(L::kPanelSB - int64_t{L::kSB} * kPanelRows));
        }
        for (int r = 0; r < n_rows; ++r) {
            const uint8_t* blk = w + r * w_row_bytes + sb * T::kBlockBytes;
            if constexpr (L::kK) {
                T::unpack(blk, codes[r], osc + r, reinterpret_cast<int16_t*>(omn) + 2 * r, od + r,
                          L::kHasMin ? od + kPanelRows + r : nullptr);
            } else {
                T::unpack(blk, codes[r], osc + r, omn + r);
            }
        }
        // Dword column q of the 16 rows -> vector q; legacy blocks (32 codes) hold half a square.
        constexpr int kCols = L::kSB / 4;
        for (int c0 = 0; c0 < kCols; c0 += 16) {
            __m512i v[16];
#pragma GCC unroll 16
            for (int r = 0; r < kPanelRows; ++r) {
                if constexpr (kCols >= 16) {
                    v[r] = _mm512_load_si512(codes[r] + 4 * c0);
                } else {
                    v[r] = _mm512_zextsi256_si512(load256(codes[r]));
                }
            }
            transpose16x16_epi32(v);
            constexpr int kOut = kCols < 16 ? kCols : 16;
#pragma GCC unroll 16
            for (int c = 0; c < kOut; ++c) _mm512_store_si512(out + 64 * (c0 + c), v[c]);
        }
        out += L::kPanelSB;
    }
}

// Q4_K without the detour through unpacked rows: a dword of qs holds four consecutive codes in
// its low nibbles and the four codes 32 elements further in its high nibbles, so transposing the
// packed bytes (two 16x16 dword squares per super-block instead of four) and splitting nibbles
// gives the panel's vectors directly.
void pack_q4_K(const uint8_t* w, int64_t w_row_bytes, int n_rows, int64_t n, void* panel) {
    using T = Q45_K<false>;
    using L = T::L;
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    auto* out = static_cast<uint8_t*>(panel);
    for (int64_t sb = 0; sb < n / L::kSB; ++sb) {
        auto* osc = reinterpret_cast<int32_t*>(out + int64_t{L::kSB} * kPanelRows);
        auto* omn = reinterpret_cast<int16_t*>(osc + L::kGroups * kPanelRows);
        auto* od = reinterpret_cast<float*>(osc + L::kGroups * kPanelRows * L::kMinVecs);
        if (n_rows < kPanelRows) {
            std::memset(osc, 0, static_cast<size_t>(L::kPanelSB - int64_t{L::kSB} * kPanelRows));
        }
        for (int half = 0; half < 2; ++half) {
            __m512i v[16];
#pragma GCC unroll 16
            for (int r = 0; r < kPanelRows; ++r) {
                const uint8_t* qs = w + r * w_row_bytes + sb * T::kBlockBytes + offsetof(BlockQ4_K, qs);
                v[r] = r < n_rows ? load512(qs + 64 * half) : _mm512_setzero_si512();
            }
            transpose16x16_epi32(v);
            // v[c] = dword c of qs bytes 64 * half.. of every row: 32-byte chunk j = 2 * half + c / 8,
            // bytes 4 * (c % 8)..: codes 64j + 4 (c % 8).. (low) and 32 further (high).
#pragma GCC unroll 16
            for (int c = 0; c < 16; ++c) {
                const int q = 16 * (2 * half + c / 8) + c % 8;
                _mm512_store_si512(out + 64 * q, _mm512_and_si512(v[c], m4));
                _mm512_store_si512(out + 64 * (q + 8), _mm512_and_si512(_mm512_srli_epi16(v[c], 4), m4));
            }
        }
        for (int r = 0; r < n_rows; ++r) {
            T::unpack_scales(w + r * w_row_bytes + sb * T::kBlockBytes, osc + r, omn + 2 * r, od + r,
                             od + kPanelRows + r);
        }
        out += L::kPanelSB;
    }
}

// ---------------------------------------------------------------------------------------------
// Activation preparation: one vec_dot_type row -> contiguous codes, d per super-block and the
// per-group aux values of the layout.

// Legacy layouts read q8_0 or q8_1 blocks (32 elements = one group = one super-block).
template <class L, class Block>
void prep_legacy(const void* a, int64_t n, void* packed) {
    const auto* y = static_cast<const Block*>(a);
    auto* base = static_cast<uint8_t*>(packed);
    auto* d = reinterpret_cast<float*>(base + L::d_offset(n));
    uint8_t* aux = base + L::aux_offset(n);
    for (int64_t b = 0; b < n / kQK; ++b) {
        const __m256i q = load256(y[b].qs);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(base + b * kQK), q);
        d[b] = h2f(y[b].d);
        if constexpr (L::kOffset_ != 0) {
            const __m256i s = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(1), q);
            reinterpret_cast<int32_t*>(aux)[b] = -L::kOffset_ * hsum_i32(s);
        }
        if constexpr (L::kHasMin) reinterpret_cast<float*>(aux)[b] = h2f(y[b].s);
    }
}

// K layouts read q8_K blocks; the group sums come from bsums (one per 16, two per 32).
template <class L>
void prep_k(const void* a, int64_t n, void* packed) {
    const auto* y = static_cast<const BlockQ8_K*>(a);
    auto* base = static_cast<uint8_t*>(packed);
    auto* d = reinterpret_cast<float*>(base + L::d_offset(n));
    auto* gsum = reinterpret_cast<typename L::GroupSum*>(base + L::aux_offset(n));
    constexpr int kPer = L::kGroup / 16;
    for (int64_t b = 0; b < n / kQKK; ++b) {
        std::memcpy(base + b * kQKK, y[b].qs, kQKK);
        d[b] = y[b].d;
        for (int g = 0; g < L::kGroups; ++g) {
            int sum = 0;
            for (int i = 0; i < kPer; ++i) sum += y[b].bsums[g * kPer + i];
            gsum[b * L::kGroups + g] = static_cast<typename L::GroupSum>(sum);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The tile: 16 panel rows x R activation rows, every accumulator in a register.

// isum[j] += sum over the group's quads of codes * activation quad (the start values set by the
// caller).
template <class L, int R>
inline void group_dots(const uint8_t* codes, const uint8_t* qs, int64_t stride, __m512i* isum) {
#pragma GCC unroll 8
    for (int q = 0; q < L::kGroup / 4; ++q) {
        const __m512i w = _mm512_load_si512(codes + 64 * q);
#pragma GCC unroll 8
        for (int j = 0; j < R; ++j) {
            const __m512i a =
                _mm512_set1_epi32(static_cast<int>(load_u32(qs + j * stride + 4 * q)));
            isum[j] = _mm512_dpbusd_epi32(isum[j], w, a);
        }
    }
}

// Legacy layouts: one 32-element block per super-block, scaled in float straight into acc.
template <class L, int R>
inline void legacy_sb(const uint8_t* p, const uint8_t* acts, int64_t stride, int64_t sb,
                      int64_t d_off, int64_t aux_off, __m512* acc) {
    const auto* scales = reinterpret_cast<const float*>(p + int64_t{L::kSB} * kPanelRows);
    __m512i isum[R];
#pragma GCC unroll 8
    for (int j = 0; j < R; ++j) {
        const int32_t start = reinterpret_cast<const int32_t*>(acts + j * stride + aux_off)[sb];
        isum[j] = L::kOffset_ != 0 ? _mm512_set1_epi32(start) : _mm512_setzero_si512();
    }
    group_dots<L, R>(p, acts + sb * L::kSB, stride, isum);
    const __m512 sc = _mm512_load_ps(scales);
#pragma GCC unroll 8
    for (int j = 0; j < R; ++j) {
        const float da = reinterpret_cast<const float*>(acts + j * stride + d_off)[sb];
        acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[j]), _mm512_mul_ps(sc, _mm512_set1_ps(da)),
                                 acc[j]);
        if constexpr (L::kHasMin) {
            const float s = reinterpret_cast<const float*>(acts + j * stride + aux_off)[sb];
            acc[j] =
                _mm512_fmadd_ps(_mm512_load_ps(scales + kPanelRows), _mm512_set1_ps(s), acc[j]);
        }
    }
}

// K layouts: sub-block scales (and mins) applied in integers, then the super-block's float steps
// (the same as fma_step in vec_dot).
template <class L, int R>
inline void k_sb(const uint8_t* p, const uint8_t* acts, int64_t stride, int64_t sb, int64_t d_off,
                 int64_t aux_off, __m512* acc) {
    const auto* isc = reinterpret_cast<const int32_t*>(p + int64_t{L::kSB} * kPanelRows);
    const auto* wd = reinterpret_cast<const float*>(isc + L::kGroups * kPanelRows * L::kMinVecs);
    __m512i isb[R];
#pragma GCC unroll 8
    for (int j = 0; j < R; ++j) isb[j] = _mm512_setzero_si512();
    for (int g = 0; g < L::kGroups; ++g) {
        const int64_t gi = sb * L::kGroups + g;
        __m512i isum[R];
#pragma GCC unroll 8
        for (int j = 0; j < R; ++j) {
            if constexpr (L::kOffset_ != 0) {
                const int32_t gs = reinterpret_cast<const int32_t*>(acts + j * stride + aux_off)[gi];
                isum[j] = _mm512_set1_epi32(-L::kOffset_ * gs);
            } else {
                isum[j] = _mm512_setzero_si512();
            }
        }
        group_dots<L, R>(p + int64_t{g} * L::kGroup * kPanelRows,
                         acts + sb * L::kSB + g * L::kGroup, stride, isum);
        const __m512i scg = _mm512_load_si512(isc + g * kPanelRows);
#pragma GCC unroll 8
        for (int j = 0; j < R; ++j)
            isb[j] = _mm512_add_epi32(isb[j], _mm512_mullo_epi32(isum[j], scg));
    }
#pragma GCC unroll 8
    for (int j = 0; j < R; ++j) {
        const float da = reinterpret_cast<const float*>(acts + j * stride + d_off)[sb];
        acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isb[j]),
                                 _mm512_mul_ps(_mm512_load_ps(wd), _mm512_set1_ps(da)), acc[j]);
        if constexpr (L::kHasMin) {
            // Mins and group sums are int16 pairs: two groups per multiply-add.
            const int16_t* gs =
                reinterpret_cast<const int16_t*>(acts + j * stride + aux_off) + sb * L::kGroups;
            __m512i msb = _mm512_setzero_si512();
            for (int g = 0; g < L::kGroups / 2; ++g) {
                const __m512i mn = _mm512_load_si512(isc + (L::kGroups + g) * kPanelRows);
                msb = _mm512_dpwssd_epi32(msb, mn, _mm512_set1_epi32(static_cast<int>(load_u32(gs + 2 * g))));
            }
            acc[j] = _mm512_fmadd_ps(
                _mm512_cvtepi32_ps(msb),
                _mm512_mul_ps(_mm512_load_ps(wd + kPanelRows), _mm512_set1_ps(da)), acc[j]);
        }
    }
}

template <class L, int R>
void tile(const void* panel, const uint8_t* acts, int64_t stride, int64_t n, float* y, int64_t ldy,
          int n_rows) {
    const int64_t d_off = L::d_offset(n), aux_off = L::aux_offset(n);
    __m512 acc[R];
#pragma GCC unroll 8
    for (int j = 0; j < R; ++j) acc[j] = _mm512_setzero_ps();
    const auto* p = static_cast<const uint8_t*>(panel);
    for (int64_t sb = 0; sb < n / L::kSB; ++sb, p += L::kPanelSB) {
        if constexpr (L::kK) {
            k_sb<L, R>(p, acts, stride, sb, d_off, aux_off, acc);
        } else {
            legacy_sb<L, R>(p, acts, stride, sb, d_off, aux_off, acc);
        }
    }
    const auto mask = static_cast<__mmask16>((1u << n_rows) - 1);
#pragma GCC unroll 8
    for (int j = 0; j < R; ++j) _mm512_mask_storeu_ps(y + j * ldy, mask, acc[j]);
}

// ---------------------------------------------------------------------------------------------
// Decode GEMV of the legacy types: the tile's float steps lane for lane, with 8 weight rows per
// vector; each block's integer sum is reduced across lanes first (exact). Q4_K/Q5_K/Q6_K decode
// through gemv_k.cc, the other k-quants through vec_dot (fma_step: the tile's float steps). 8 rows rather than 4 halve the
// per-row cost of the lane reduction and of the scale gather, which bound this loop more than
// the dot products do.

constexpr int kGemvRows = 8;

// r[i] = sum of the 8 lanes of v[i] (exact int32), for 8 vectors.
inline __m256i reduce8(const __m256i* v) {
    const __m256i a = _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
    const __m256i b = _mm256_hadd_epi32(_mm256_hadd_epi32(v[4], v[5]), _mm256_hadd_epi32(v[6], v[7]));
    // a = [r0..r3 low halves | r0..r3 high halves], likewise b for r4..r7.
    return _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20), _mm256_permute2x128_si256(a, b, 0x31));
}

// The f16 at byte offset `off` of the current block of 8 rows (one 8-lane gather) as f32.
inline __m256 gather_h2f(const uint8_t* base, __m256i row_offsets, int off) {
    const __m256i v = _mm256_i32gather_epi32(reinterpret_cast<const int*>(base + off), row_offsets, 1);
    return _mm256_cvtph_ps(_mm256_cvtepi32_epi16(v));
}

template <class T>
void gemv(const uint8_t* w, int64_t w_row_bytes, int64_t n_rows, int64_t n, const uint8_t* act,
          float* y) {
    using L = typename T::L;
    static_assert(!L::kK && L::kSB == kQK, "legacy layouts only");
    const auto* da = reinterpret_cast<const float*>(act + L::d_offset(n));
    const uint8_t* aux = act + L::aux_offset(n);
    for (int64_t r0 = 0; r0 < n_rows; r0 += kGemvRows) {
        const int nr = static_cast<int>(n_rows - r0 < kGemvRows ? n_rows - r0 : kGemvRows);
        // Rows past the end repeat the last row (their lanes are not stored).
        const uint8_t* row[kGemvRows];
        int offs[kGemvRows];
        for (int r = 0; r < kGemvRows; ++r) {
            row[r] = w + (r0 + (r < nr ? r : nr - 1)) * w_row_bytes;
            offs[r] = static_cast<int>(row[r] - row[0]);
        }
        const __m256i row_offsets = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(offs));
        __m256 acc = _mm256_setzero_ps();
        for (int64_t b = 0; b < n / kQK; ++b) {
            prefetch_decode_step(row[0], b, kGemvRows, T::kBlockBytes);
            const __m256i a = load256(act + b * kQK);
            __m256i d[kGemvRows];
#pragma GCC unroll 8
            for (int r = 0; r < kGemvRows; ++r) {
                const uint8_t* blk = row[r] + b * T::kBlockBytes;
                d[r] = _mm256_dpbusd_epi32(_mm256_setzero_si256(), T::codes(blk), a);
            }
            __m256i isum = reduce8(d);
            if constexpr (L::kOffset_ != 0) {
                isum = _mm256_add_epi32(isum, _mm256_set1_epi32(reinterpret_cast<const int32_t*>(aux)[b]));
            }
            const uint8_t* blk0 = row[0] + b * T::kBlockBytes;
            const __m256 sc = gather_h2f(blk0, row_offsets, 0);
            acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(sc, _mm256_set1_ps(da[b])), acc);
            if constexpr (L::kHasMin) {
                const float s = reinterpret_cast<const float*>(aux)[b];
                acc = _mm256_fmadd_ps(gather_h2f(blk0, row_offsets, T::kMOffset), _mm256_set1_ps(s), acc);
            }
        }
        _mm256_mask_storeu_ps(y + r0, static_cast<__mmask8>((1u << nr) - 1), acc);
    }
}

template <class T, int... kR>
void set_tiles(GemmKernels& g, std::integer_sequence<int, kR...>) {
    ((g.tile[kR] = tile<typename T::L, kR + 1>), ...);
}

template <class T, void (*kPrep)(const void*, int64_t, void*)>
GemmKernels gemm_of() {
    using L = typename T::L;
    GemmKernels g;
    g.panel_rows = kPanelRows;
    g.panel_bytes = L::panel_bytes;
    g.pack = pack<T>;
    g.act_bytes = L::act_bytes;
    g.prep_act = kPrep;
    set_tiles<T>(g, std::make_integer_sequence<int, kMaxRows>{});
    if constexpr (!L::kK) g.gemv = gemv<T>;
    return g;
}

constexpr size_t idx(DType t) { return static_cast<size_t>(t); }

}  // namespace

void fill_gemm(CpuKernels& k) {
    k.gemm[idx(DType::kQ8_0)] = gemm_of<Q8_0, prep_legacy<Q8_0::L, BlockQ8_0>>();
    k.gemm[idx(DType::kQ4_0)] = gemm_of<Q4_0, prep_legacy<Q4_0::L, BlockQ8_0>>();
    k.gemm[idx(DType::kQ5_0)] = gemm_of<Q5_0, prep_legacy<Q5_0::L, BlockQ8_0>>();
    k.gemm[idx(DType::kQ4_1)] = gemm_of<Q4_1, prep_legacy<Q4_1::L, BlockQ8_1>>();
    k.gemm[idx(DType::kQ5_1)] = gemm_of<Q5_1, prep_legacy<Q5_1::L, BlockQ8_1>>();
    k.gemm[idx(DType::kQ4_K)] = gemm_of<Q45_K<false>, prep_k<Q45_K<false>::L>>();
    k.gemm[idx(DType::kQ4_K)].pack = pack_q4_K;
    k.gemm[idx(DType::kQ5_K)] = gemm_of<Q45_K<true>, prep_k<Q45_K<true>::L>>();
    k.gemm[idx(DType::kQ6_K)] = gemm_of<Q6_K, prep_k<Q6_K::L>>();
    k.gemm[idx(DType::kQ3_K)] = gemm_of<Q3_K, prep_k<Q3_K::L>>();
    k.gemm[idx(DType::kQ2_K)] = gemm_of<Q2_K, prep_k<Q2_K::L>>();
}

}  // namespace sobre::kernels::avx512
