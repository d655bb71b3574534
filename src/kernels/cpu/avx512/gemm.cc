// AVX-512 VNNI prefill GEMM for the integer types: weights are packed 16 rows at a time into a
// panel whose 512-bit vectors hold 4 consecutive codes of each of the 16 rows, so one vpdpbusd
// with a broadcast activation quad advances 16 rows by 4 elements, lanes never need a
// horizontal sum, and the per-group scale work (convert, scale, accumulate) is paid once per
// 16 rows x 16..32 elements instead of once per dot product. This is the layout of ik_llama's
// repacked _r16 types (ref: ik_llama.cpp ggml/src/iqk/iqk_gemm_*.cpp), built here per call from
// the file's blocks instead of at load, as BLAS packs panels.
//
// Every weight type is described by one Layout: codes are unsigned bytes u = q + c (c a constant
// per type, removed exactly as c * sum(activations) in the int32 initial value), grouped by
// `group` elements that share one float scale per row (d, or d * sub-block scale), with
// optionally an additive per-group min (q4_1/q5_1's m times the q8_1 s; the k-quants' -dmin *
// min times the group's activation sum). The group's integer sum is exact, as in vec_dot.
#include "kernels/cpu/avx512/simd.h"

#include <type_traits>
#include <utility>

#include "core/quant_blocks.h"

namespace sobre::kernels::avx512 {
namespace {

constexpr int kPanelRows = 16;

enum class MinKind { kNone, kLegacy, kK };

constexpr int64_t pad64(int64_t b) { return (b + 63) / 64 * 64; }

// Panel, per super-block of sb = group * groups elements:
//   codes  sb / 4 vectors of 64 bytes: dword i of vector q = codes 4q..4q+3 of row i
//   scales groups x 16 floats (row-major by group)
//   mins   groups x 16 floats (only with a min)
// Packed activation row: qs (n int8) | d per super-block (f32) | init per group (int32, -c * sum,
// only when c != 0) | msum per group (f32, only with a min). Each part starts 64-byte aligned.
template <int kGroupElems, int kGroupCount, int kCodeOffset, MinKind kMinKind>
struct Layout {
    static constexpr int kGroup = kGroupElems;
    static constexpr int kGroups = kGroupCount;
    static constexpr int kOffset_ = kCodeOffset;
    static constexpr MinKind kMin_ = kMinKind;
    static constexpr int kSB = kGroup * kGroups;
    static constexpr bool kHasMin = kMinKind != MinKind::kNone;
    static constexpr int64_t kPanelSB =
        int64_t{kSB} * kPanelRows + kGroups * 64 * (kHasMin ? 2 : 1);

    static int64_t panel_bytes(int64_t n) { return n / kSB * kPanelSB; }
    static int64_t d_offset(int64_t n) { return pad64(n); }
    static int64_t init_offset(int64_t n) { return d_offset(n) + pad64(n / kSB * 4); }
    static int64_t msum_offset(int64_t n) {
        return init_offset(n) + (kOffset_ != 0 ? pad64(n / kGroup * 4) : 0);
    }
    static int64_t act_bytes(int64_t n) {
        return msum_offset(n) + (kHasMin ? pad64(n / kGroup * 4) : 0);
    }
};

// The layout of each weight type.
using LayoutQ8_0 = Layout<32, 1, 128, MinKind::kNone>;
using LayoutQ4_0 = Layout<32, 1, 8, MinKind::kNone>;
using LayoutQ5_0 = Layout<32, 1, 16, MinKind::kNone>;
using LayoutQ4_1 = Layout<32, 1, 0, MinKind::kLegacy>;  // also Q5_1
using LayoutQ45_K = Layout<32, 8, 0, MinKind::kK>;      // Q4_K and Q5_K
using LayoutQ6_K = Layout<16, 16, 32, MinKind::kNone>;
using LayoutQ3_K = Layout<16, 16, 4, MinKind::kNone>;
using LayoutQ2_K = Layout<16, 16, 0, MinKind::kK>;

// How far ahead of the current block the GEMV prefetches weight rows: one core's DRAM bandwidth
// is bound by the misses in flight, and the hardware prefetcher alone leaves it short (measured
// with bench/matmul_bench.cc, matmul/avx512/q8_0/ffn_up/t1: 5.9 -> 9.2 GB/s on one thread).
constexpr int kGemvPrefetch = 2048;

// ---------------------------------------------------------------------------------------------
// Row unpackers: one super-block of one weight row -> sb codes (u8), groups scales and mins.

inline void store32(uint8_t* dst, __m256i v) {
    _mm256_store_si256(reinterpret_cast<__m256i*>(dst), v);
}

struct Q8_0 {
    using L = LayoutQ8_0;
    static constexpr int64_t kBlockBytes = sizeof(BlockQ8_0);
    static void unpack(const uint8_t* p, uint8_t* codes, float* sc, float*) {
        const auto* x = reinterpret_cast<const BlockQ8_0*>(p);
        store32(codes, _mm256_xor_si256(load256(x->qs), _mm256_set1_epi8(static_cast<char>(0x80))));
        sc[0] = h2f(x->d);
    }
};

struct Q4_0 {
    using L = LayoutQ4_0;
    static constexpr int64_t kBlockBytes = sizeof(BlockQ4_0);
    static void unpack(const uint8_t* p, uint8_t* codes, float* sc, float*) {
        const auto* x = reinterpret_cast<const BlockQ4_0*>(p);
        store32(codes, nibbles32(x->qs));
        sc[0] = h2f(x->d);
    }
};

struct Q5_0 {
    using L = LayoutQ5_0;
    static constexpr int64_t kBlockBytes = sizeof(BlockQ5_0);
    static void unpack(const uint8_t* p, uint8_t* codes, float* sc, float*) {
        const auto* x = reinterpret_cast<const BlockQ5_0*>(p);
        store32(codes, _mm256_or_si256(nibbles32(x->qs), fifth_bits32(x->qh)));
        sc[0] = h2f(x->d);
    }
};

struct Q4_1 {
    using L = LayoutQ4_1;
    static constexpr int64_t kBlockBytes = sizeof(BlockQ4_1);
    static void unpack(const uint8_t* p, uint8_t* codes, float* sc, float* mn) {
        const auto* x = reinterpret_cast<const BlockQ4_1*>(p);
        store32(codes, nibbles32(x->qs));
        sc[0] = h2f(x->d);
        mn[0] = h2f(x->m);
    }
};

struct Q5_1 {
    using L = LayoutQ4_1;
    static constexpr int64_t kBlockBytes = sizeof(BlockQ5_1);
    static void unpack(const uint8_t* p, uint8_t* codes, float* sc, float* mn) {
        const auto* x = reinterpret_cast<const BlockQ5_1*>(p);
        store32(codes, _mm256_or_si256(nibbles32(x->qs), fifth_bits32(x->qh)));
        sc[0] = h2f(x->d);
        mn[0] = h2f(x->m);
    }
};

// Q4_K / Q5_K scales and mins (the bits of core/quant_blocks.h k4_scale_min, ggml's kmask walk).
inline void k4_scales_mins(const uint8_t* packed, uint8_t* out16) {
    uint32_t u[4];
    std::memcpy(u, packed, 12);
    constexpr uint32_t kLow6 = 0x3f3f3f3f, kLow4 = 0x0f0f0f0f, kLow2 = 0x03030303;
    u[3] = ((u[2] >> 4) & kLow4) | (((u[1] >> 6) & kLow2) << 4);
    const uint32_t mins_lo = u[1] & kLow6;
    u[1] = (u[2] & kLow4) | (((u[0] >> 6) & kLow2) << 4);
    u[2] = mins_lo;
    u[0] &= kLow6;
    std::memcpy(out16, u, 16);
}

template <bool kHigh>
struct Q45_K {
    using L = LayoutQ45_K;
    using Block = std::conditional_t<kHigh, BlockQ5_K, BlockQ4_K>;
    static constexpr int64_t kBlockBytes = sizeof(Block);
    static void unpack(const uint8_t* p, uint8_t* codes, float* sc, float* mn) {
        const auto* x = reinterpret_cast<const Block*>(p);
        const __m256i m4 = _mm256_set1_epi8(0x0f);
        const __m256i m1 = _mm256_set1_epi8(1);
        for (int j = 0; j < 4; ++j) {
            const __m256i q4 = load256(x->qs + 32 * j);
            __m256i lo = _mm256_and_si256(q4, m4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q4, 4), m4);
            if constexpr (kHigh) {
                const __m256i hb = load256(x->qh);
                lo = _mm256_or_si256(
                    lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * j), m1), 4));
                hi = _mm256_or_si256(
                    hi,
                    _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * j + 1), m1), 4));
            }
            store32(codes + 64 * j, lo);
            store32(codes + 64 * j + 32, hi);
        }
        uint8_t sm[16];
        k4_scales_mins(x->scales, sm);
        const float d = h2f(x->d);
        const float dmin = h2f(x->dmin);
        for (int s = 0; s < 8; ++s) {
            sc[s] = d * static_cast<float>(sm[s]);
            mn[s] = -(dmin * static_cast<float>(sm[8 + s]));
        }
    }
};

struct Q6_K {
    using L = LayoutQ6_K;
    static constexpr int64_t kBlockBytes = sizeof(BlockQ6_K);
    static void unpack(const uint8_t* p, uint8_t* codes, float* sc, float*) {
        const auto* x = reinterpret_cast<const BlockQ6_K*>(p);
        const __m256i m4 = _mm256_set1_epi8(0x0f);
        const __m256i m3 = _mm256_set1_epi8(3);
        for (int half = 0; half < 2; ++half) {
            const __m256i ql0 = load256(x->ql + 64 * half);
            const __m256i ql1 = load256(x->ql + 64 * half + 32);
            const __m256i qh = load256(x->qh + 32 * half);
            const __m256i low[4] = {_mm256_and_si256(ql0, m4), _mm256_and_si256(ql1, m4),
                                    _mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                                    _mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4)};
            for (int g = 0; g < 4; ++g) {
                const __m256i high = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * g), m3);
                store32(codes + 128 * half + 32 * g,
                        _mm256_or_si256(low[g], _mm256_slli_epi16(high, 4)));
            }
        }
        const float d = h2f(x->d);
        for (int s = 0; s < 16; ++s) sc[s] = d * static_cast<float>(x->scales[s]);
    }
};

struct Q3_K {
    using L = LayoutQ3_K;
    static constexpr int64_t kBlockBytes = sizeof(BlockQ3_K);
    static void unpack(const uint8_t* p, uint8_t* codes, float* sc, float*) {
        const auto* x = reinterpret_cast<const BlockQ3_K*>(p);
        const __m256i m3 = _mm256_set1_epi8(3);
        const __m256i m1 = _mm256_set1_epi8(1);
        const __m256i hbits = load256(x->hmask);
        for (int half = 0; half < 2; ++half) {
            const __m256i q2 = load256(x->qs + 32 * half);
            for (int j = 0; j < 4; ++j) {
                const __m256i low = _mm256_and_si256(_mm256_srli_epi16(q2, 2 * j), m3);
                const __m256i hb = _mm256_and_si256(_mm256_srli_epi16(hbits, 4 * half + j), m1);
                store32(codes + 128 * half + 32 * j,
                        _mm256_or_si256(low, _mm256_slli_epi16(hb, 2)));
            }
        }
        // The 6-bit scales (ggml's kmask walk; core/quant_blocks.h q3_k_scale).
        uint32_t aux[4];
        std::memcpy(aux, x->scales, 12);
        constexpr uint32_t kLow2 = 0x03030303, kLow4 = 0x0f0f0f0f;
        const uint32_t tmp = aux[2];
        aux[2] = ((aux[0] >> 4) & kLow4) | (((tmp >> 4) & kLow2) << 4);
        aux[3] = ((aux[1] >> 4) & kLow4) | (((tmp >> 6) & kLow2) << 4);
        aux[0] = (aux[0] & kLow4) | (((tmp >> 0) & kLow2) << 4);
        aux[1] = (aux[1] & kLow4) | (((tmp >> 2) & kLow2) << 4);
        uint8_t s6[16];
        std::memcpy(s6, aux, 16);
        const float d = h2f(x->d);
        for (int s = 0; s < 16; ++s) sc[s] = d * static_cast<float>(s6[s] - 32);
    }
};

struct Q2_K {
    using L = LayoutQ2_K;
    static constexpr int64_t kBlockBytes = sizeof(BlockQ2_K);
    static void unpack(const uint8_t* p, uint8_t* codes, float* sc, float* mn) {
        const auto* x = reinterpret_cast<const BlockQ2_K*>(p);
        const __m256i m3 = _mm256_set1_epi8(3);
        for (int half = 0; half < 2; ++half) {
            const __m256i q2 = load256(x->qs + 32 * half);
            for (int j = 0; j < 4; ++j) {
                store32(codes + 128 * half + 32 * j,
                        _mm256_and_si256(_mm256_srli_epi16(q2, 2 * j), m3));
            }
        }
        const float d = h2f(x->d);
        const float dmin = h2f(x->dmin);
        for (int s = 0; s < 16; ++s) {
            sc[s] = d * static_cast<float>(x->scales[s] & 0x0f);
            mn[s] = -(dmin * static_cast<float>(x->scales[s] >> 4));
        }
    }
};

// ---------------------------------------------------------------------------------------------
// Packing: unpack 16 rows of a super-block side by side, then transpose the codes to dword
// columns with one gather per output vector, and the scales and mins to group-major order.

template <class T>
void pack(const uint8_t* w, int64_t w_row_bytes, int n_rows, int64_t n, void* panel) {
    using L = typename T::L;
    alignas(64) uint8_t codes[kPanelRows][L::kSB];
    alignas(64) float sc[kPanelRows][L::kGroups];
    alignas(64) float mn[kPanelRows][L::kGroups];
    std::memset(codes, 0, sizeof codes);
    std::memset(sc, 0, sizeof sc);
    std::memset(mn, 0, sizeof mn);
    const __m512i rows =
        _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                           _mm512_set1_epi32(L::kSB / 4));
    auto* out = static_cast<uint8_t*>(panel);
    for (int64_t sb = 0; sb < n / L::kSB; ++sb) {
        for (int r = 0; r < n_rows; ++r)
            T::unpack(w + r * w_row_bytes + sb * T::kBlockBytes, codes[r], sc[r], mn[r]);
        for (int q = 0; q < L::kSB / 4; ++q) {
            const __m512i col =
                _mm512_i32gather_epi32(_mm512_add_epi32(rows, _mm512_set1_epi32(q)), codes, 4);
            _mm512_store_si512(out + 64 * q, col);
        }
        auto* osc = reinterpret_cast<float*>(out + int64_t{L::kSB} * kPanelRows);
        for (int g = 0; g < L::kGroups; ++g) {
            for (int r = 0; r < kPanelRows; ++r) osc[g * kPanelRows + r] = sc[r][g];
        }
        if constexpr (L::kHasMin) {
            float* omn = osc + L::kGroups * kPanelRows;
            for (int g = 0; g < L::kGroups; ++g) {
                for (int r = 0; r < kPanelRows; ++r) omn[g * kPanelRows + r] = mn[r][g];
            }
        }
        out += L::kPanelSB;
    }
}

// ---------------------------------------------------------------------------------------------
// Activation preparation: one vec_dot_type row -> contiguous codes, scales per super-block and
// the per-group terms of the layout.

// Legacy layouts read q8_0 or q8_1 blocks (32 elements = one group = one super-block).
template <class L, class Block>
void prep_legacy(const void* a, int64_t n, void* packed) {
    const auto* y = static_cast<const Block*>(a);
    auto* base = static_cast<uint8_t*>(packed);
    auto* d = reinterpret_cast<float*>(base + L::d_offset(n));
    auto* init = reinterpret_cast<int32_t*>(base + L::init_offset(n));
    auto* msum = reinterpret_cast<float*>(base + L::msum_offset(n));
    for (int64_t b = 0; b < n / kQK; ++b) {
        const __m256i q = load256(y[b].qs);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(base + b * kQK), q);
        d[b] = h2f(y[b].d);
        if constexpr (L::kOffset_ != 0) {
            const __m256i s = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(1), q);
            init[b] = -L::kOffset_ * hsum_i32(s);
        }
        if constexpr (L::kHasMin) msum[b] = h2f(y[b].s);
    }
}

// K layouts read q8_K blocks; group sums come from bsums (one per 16, two per 32).
template <class L>
void prep_k(const void* a, int64_t n, void* packed) {
    const auto* y = static_cast<const BlockQ8_K*>(a);
    auto* base = static_cast<uint8_t*>(packed);
    auto* d = reinterpret_cast<float*>(base + L::d_offset(n));
    auto* init = reinterpret_cast<int32_t*>(base + L::init_offset(n));
    auto* msum = reinterpret_cast<float*>(base + L::msum_offset(n));
    constexpr int kPer = L::kGroup / 16;
    for (int64_t b = 0; b < n / kQKK; ++b) {
        std::memcpy(base + b * kQKK, y[b].qs, kQKK);
        d[b] = y[b].d;
        for (int g = 0; g < L::kGroups; ++g) {
            int sum = 0;
            for (int i = 0; i < kPer; ++i) sum += y[b].bsums[g * kPer + i];
            if constexpr (L::kOffset_ != 0) init[b * L::kGroups + g] = -L::kOffset_ * sum;
            if constexpr (L::kHasMin) msum[b * L::kGroups + g] = static_cast<float>(sum);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The tile: 16 panel rows x R activation rows, all accumulators in registers (3R + 3 <= 32).

template <class L, int R>
void tile(const void* panel, const uint8_t* acts, int64_t stride, int64_t n, float* y, int64_t ldy,
          int n_rows) {
    const int64_t n_sb = n / L::kSB;
    const int64_t d_off = L::d_offset(n), init_off = L::init_offset(n),
                  msum_off = L::msum_offset(n);
    __m512 acc[R];
#pragma GCC unroll 8
    for (int j = 0; j < R; ++j) acc[j] = _mm512_setzero_ps();
    const auto* p = static_cast<const uint8_t*>(panel);
    for (int64_t sb = 0; sb < n_sb; ++sb, p += L::kPanelSB) {
        const auto* scales = reinterpret_cast<const float*>(p + int64_t{L::kSB} * kPanelRows);
        const float* mins = scales + L::kGroups * kPanelRows;
        __m512 acc_sb[R];
        for (int g = 0; g < L::kGroups; ++g) {
            const int64_t gi = sb * L::kGroups + g;
            __m512i isum[R];
#pragma GCC unroll 8
            for (int j = 0; j < R; ++j) {
                if constexpr (L::kOffset_ != 0) {
                    isum[j] = _mm512_set1_epi32(
                        reinterpret_cast<const int32_t*>(acts + j * stride + init_off)[gi]);
                } else {
                    isum[j] = _mm512_setzero_si512();
                }
            }
            const uint8_t* codes = p + int64_t{g} * L::kGroup * kPanelRows;
            const uint8_t* qs = acts + sb * L::kSB + g * L::kGroup;
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
            const __m512 sc = _mm512_load_ps(scales + g * kPanelRows);
            if constexpr (L::kMin_ == MinKind::kLegacy || (L::kGroups == 1 && !L::kHasMin)) {
                // One group per super-block: scale by d_w * d_a straight into the total.
#pragma GCC unroll 8
                for (int j = 0; j < R; ++j) {
                    const float da = reinterpret_cast<const float*>(acts + j * stride + d_off)[sb];
                    acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[j]),
                                             _mm512_mul_ps(sc, _mm512_set1_ps(da)), acc[j]);
                    if constexpr (L::kHasMin) {
                        const float s =
                            reinterpret_cast<const float*>(acts + j * stride + msum_off)[gi];
                        acc[j] = _mm512_fmadd_ps(_mm512_load_ps(mins), _mm512_set1_ps(s), acc[j]);
                    }
                }
            } else {
                // Sub-block groups: accumulate scale * isum (+ min * group sum) per super-block,
                // then multiply by the activation's d once.
#pragma GCC unroll 8
                for (int j = 0; j < R; ++j) {
                    const __m512 v = _mm512_cvtepi32_ps(isum[j]);
                    acc_sb[j] = g == 0 ? _mm512_mul_ps(v, sc) : _mm512_fmadd_ps(v, sc, acc_sb[j]);
                    if constexpr (L::kHasMin) {
                        const float s =
                            reinterpret_cast<const float*>(acts + j * stride + msum_off)[gi];
                        acc_sb[j] = _mm512_fmadd_ps(_mm512_load_ps(mins + g * kPanelRows),
                                                    _mm512_set1_ps(s), acc_sb[j]);
                    }
                }
            }
        }
        if constexpr (!(L::kMin_ == MinKind::kLegacy || (L::kGroups == 1 && !L::kHasMin))) {
#pragma GCC unroll 8
            for (int j = 0; j < R; ++j) {
                const float da = reinterpret_cast<const float*>(acts + j * stride + d_off)[sb];
                acc[j] = _mm512_fmadd_ps(acc_sb[j], _mm512_set1_ps(da), acc[j]);
            }
        }
    }
    const auto mask = static_cast<__mmask16>((1u << n_rows) - 1);
#pragma GCC unroll 8
    for (int j = 0; j < R; ++j) _mm512_mask_storeu_ps(y + j * ldy, mask, acc[j]);
}

// ---------------------------------------------------------------------------------------------
// Decode GEMV. It repeats, lane for lane, the tile's float operations (lanes are 4 weight rows
// here instead of 16), so a token's outputs are the same bits whether it was computed alone
// (decode) or inside a prefill batch. That batch invariance is what prefix caching and
// continuous batching need to give the same tokens as a fresh run. Codes come from the panel
// unpackers; each group's integer sum is reduced across vector lanes first (exact), then
// converted once, exactly as the tile does.

constexpr int kGemvRows = 4;

// r[i] = sum of the lanes of v[i] (exact int32).
inline __m128i reduce4(__m256i v0, __m256i v1, __m256i v2, __m256i v3) {
    const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(v0, v1), _mm256_hadd_epi32(v2, v3));
    return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}
inline __m128i reduce4(__m128i v0, __m128i v1, __m128i v2, __m128i v3) {
    return _mm_hadd_epi32(_mm_hadd_epi32(v0, v1), _mm_hadd_epi32(v2, v3));
}

// sum(u * a) over one group of one row, as int32 lanes.
template <int kGroup>
inline auto group_dot(const uint8_t* codes, const uint8_t* a) {
    if constexpr (kGroup == 32) {
        return _mm256_dpbusd_epi32(_mm256_setzero_si256(), load256(codes), load256(a));
    } else {
        return _mm_dpbusd_epi32(_mm_setzero_si128(), load128(codes), load128(a));
    }
}

template <class T>
void gemv(const uint8_t* w, int64_t w_row_bytes, int64_t n_rows, int64_t n, const uint8_t* act,
          float* y) {
    using L = typename T::L;
    constexpr bool kDirect = L::kGroups == 1;  // the tile's one-group-per-super-block form
    const auto* da = reinterpret_cast<const float*>(act + L::d_offset(n));
    const auto* init = reinterpret_cast<const int32_t*>(act + L::init_offset(n));
    const auto* ms = reinterpret_cast<const float*>(act + L::msum_offset(n));
    alignas(64) uint8_t codes[kGemvRows][L::kSB];
    float sc[kGemvRows][L::kGroups];
    float mn[kGemvRows][L::kGroups];
    alignas(16) float sct[L::kGroups][kGemvRows];
    alignas(16) float mnt[L::kGroups][kGemvRows];
    for (int64_t r0 = 0; r0 < n_rows; r0 += kGemvRows) {
        const int nr = static_cast<int>(n_rows - r0 < kGemvRows ? n_rows - r0 : kGemvRows);
        if (nr < kGemvRows) {
            std::memset(codes, 0, sizeof codes);
            std::memset(sc, 0, sizeof sc);
            std::memset(mn, 0, sizeof mn);
        }
        __m128 acc = _mm_setzero_ps();
        for (int64_t sb = 0; sb < n / L::kSB; ++sb) {
            for (int r = 0; r < nr; ++r) {
                const uint8_t* blk = w + (r0 + r) * w_row_bytes + sb * T::kBlockBytes;
                _mm_prefetch(reinterpret_cast<const char*>(blk) + kGemvPrefetch, _MM_HINT_T0);
                T::unpack(blk, codes[r], sc[r], mn[r]);
            }
            for (int g = 0; g < L::kGroups; ++g) {
                for (int r = 0; r < kGemvRows; ++r) {
                    sct[g][r] = sc[r][g];
                    if constexpr (L::kHasMin) mnt[g][r] = mn[r][g];
                }
            }
            const uint8_t* a = act + sb * L::kSB;
            __m128 acc_sb = _mm_setzero_ps();
            for (int g = 0; g < L::kGroups; ++g) {
                const int64_t gi = sb * L::kGroups + g;
                const int off = g * L::kGroup;
                __m128i isum = reduce4(group_dot<L::kGroup>(codes[0] + off, a + off),
                                       group_dot<L::kGroup>(codes[1] + off, a + off),
                                       group_dot<L::kGroup>(codes[2] + off, a + off),
                                       group_dot<L::kGroup>(codes[3] + off, a + off));
                if constexpr (L::kOffset_ != 0) isum = _mm_add_epi32(isum, _mm_set1_epi32(init[gi]));
                const __m128 v = _mm_cvtepi32_ps(isum);
                const __m128 s = _mm_load_ps(sct[g]);
                if constexpr (kDirect) {
                    acc = _mm_fmadd_ps(v, _mm_mul_ps(s, _mm_set1_ps(da[sb])), acc);
                    if constexpr (L::kHasMin) acc = _mm_fmadd_ps(_mm_load_ps(mnt[g]), _mm_set1_ps(ms[gi]), acc);
                } else {
                    acc_sb = g == 0 ? _mm_mul_ps(v, s) : _mm_fmadd_ps(v, s, acc_sb);
                    if constexpr (L::kHasMin) {
                        acc_sb = _mm_fmadd_ps(_mm_load_ps(mnt[g]), _mm_set1_ps(ms[gi]), acc_sb);
                    }
                }
            }
            if constexpr (!kDirect) acc = _mm_fmadd_ps(acc_sb, _mm_set1_ps(da[sb]), acc);
        }
        _mm_mask_storeu_ps(y + r0, static_cast<__mmask8>((1u << nr) - 1), acc);
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
    g.gemv = gemv<T>;
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
    k.gemm[idx(DType::kQ5_K)] = gemm_of<Q45_K<true>, prep_k<Q45_K<true>::L>>();
    k.gemm[idx(DType::kQ6_K)] = gemm_of<Q6_K, prep_k<Q6_K::L>>();
    k.gemm[idx(DType::kQ3_K)] = gemm_of<Q3_K, prep_k<Q3_K::L>>();
    k.gemm[idx(DType::kQ2_K)] = gemm_of<Q2_K, prep_k<Q2_K::L>>();
}

}  // namespace sobre::kernels::avx512
