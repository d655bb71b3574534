// AVX2 prefill GEMM for the integer types, the scheme of avx512/gemm.cc with 8-row panels: a
// 256-bit vector holds 4 consecutive codes of each of 8 rows, vpmaddubsw against a broadcast
// activation quad advances the 8 rows by 4 elements (two quads are summed in int16 before
// vpmaddwd widens them, which is exact for codes <= 63), and the per-group scale work is paid
// once per 8 rows. q8_0 codes are signed and use the sign trick (|w| times sign(a, w)). Code
// offsets c are removed exactly through the int32 start value -c * sum(a). As on AVX-512, the
// legacy types scale per block in float and the k-quants apply sub-block scales in integers
// with one float step per super-block (fma_step, shared with this level's vec_dot); the legacy
// types decode through gemv() below, which repeats the tile's float steps. So every output is
// independent of the batch it is computed in.
#include <cstddef>
#include <type_traits>
#include <utility>

#include "core/quant_blocks.h"
#include "kernels/cpu/avx2/simd.h"

namespace sobre::kernels::avx2 {
namespace {

constexpr int kPanelRows = 8;
constexpr int kGemvPrefetch = 8192;  // bytes ahead of the current block, per row

#include "kernels/cpu/gemm_layout.inc"

// ---------------------------------------------------------------------------------------------
// Row unpackers: one super-block of one weight row -> codes and its scales.

inline void store32(uint8_t* dst, __m256i v) {
    _mm256_store_si256(reinterpret_cast<__m256i*>(dst), v);
}

// ---------------------------------------------------------------------------------------------
// Row unpackers: one super-block of one weight row -> codes, scales and mins.

struct Q8_0 {
    using L = Layout<32, 1, 0, MinKind::kNone, true>;
    using Block = BlockQ8_0;
    static constexpr int64_t kBlockBytes = sizeof(BlockQ8_0);
    // The block's 32 codes (the panel's convention), in a register.
    static __m256i codes(const uint8_t* p) {
        const auto* x = reinterpret_cast<const BlockQ8_0*>(p);
        return load256(x->qs);
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

inline __m256i q5_codes(const uint8_t* qs, const uint8_t* qh) {
    return _mm256_or_si256(nibbles32(qs), _mm256_and_si256(bits32(qh), _mm256_set1_epi8(0x10)));
}

struct Q5_0 {
    using L = Layout<32, 1, 16, MinKind::kNone>;
    using Block = BlockQ5_0;
    static constexpr int64_t kBlockBytes = sizeof(BlockQ5_0);
    // The block's 32 codes (the panel's convention), in a register.
    static __m256i codes(const uint8_t* p) {
        const auto* x = reinterpret_cast<const BlockQ5_0*>(p);
        return q5_codes(x->qs, x->qh);
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
        return q5_codes(x->qs, x->qh);
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
// Packing: unpack 8 rows of a super-block side by side, transpose the codes to dword columns
// with one gather per output vector, and the scales to group-major order.

template <class T>
void pack(const uint8_t* w, int64_t w_row_bytes, int n_rows, int64_t n, void* panel) {
    using L = typename T::L;
    using Scale = std::conditional_t<L::kK, int32_t, float>;
    alignas(64) uint8_t codes[kPanelRows][L::kSB];
    std::memset(codes, 0, sizeof codes);
    const __m256i rows = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                            _mm256_set1_epi32(L::kSB / 4));
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
        for (int q = 0; q < L::kSB / 4; ++q) {
            const __m256i idx = _mm256_add_epi32(rows, _mm256_set1_epi32(q));
            store32(out + 32 * q,
                    _mm256_i32gather_epi32(reinterpret_cast<const int*>(codes), idx, 4));
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
            reinterpret_cast<int32_t*>(aux)[b] =
                -L::kOffset_ * hsum_i32(dot_us8(_mm256_set1_epi8(1), q));
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
// The tile: 8 panel rows x R <= 4 activation rows, every accumulator in a register (16 ymm).

inline __m256i bcast4(const uint8_t* p) { return _mm256_set1_epi32(static_cast<int>(load_u32(p))); }

// isum[j] += sum over the group's quads of codes * activation quad.
template <class L, int R>
inline void group_dots(const uint8_t* codes, const uint8_t* qs, int64_t stride, __m256i* isum) {
    const __m256i ones = _mm256_set1_epi16(1);
    if constexpr (L::kSigned) {
        // |w| times sign(a, w): maddubs pairs stay below 2 * 128 * 127.
#pragma GCC unroll 8
        for (int q = 0; q < L::kGroup / 4; ++q) {
            const __m256i w = _mm256_load_si256(reinterpret_cast<const __m256i*>(codes + 32 * q));
            const __m256i wa = _mm256_sign_epi8(w, w);
            for (int j = 0; j < R; ++j) {
                const __m256i s = _mm256_sign_epi8(bcast4(qs + j * stride + 4 * q), w);
                isum[j] =
                    _mm256_add_epi32(isum[j], _mm256_madd_epi16(_mm256_maddubs_epi16(wa, s), ones));
            }
        }
    } else {
        // Codes <= 63: two maddubs results add in int16 without overflow (2 * 2 * 63 * 127).
#pragma GCC unroll 8
        for (int q = 0; q < L::kGroup / 4; q += 2) {
            const __m256i w0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(codes + 32 * q));
            const __m256i w1 =
                _mm256_load_si256(reinterpret_cast<const __m256i*>(codes + 32 * q + 32));
            for (int j = 0; j < R; ++j) {
                const uint8_t* a = qs + j * stride + 4 * q;
                const __m256i p16 = _mm256_add_epi16(_mm256_maddubs_epi16(w0, bcast4(a)),
                                                     _mm256_maddubs_epi16(w1, bcast4(a + 4)));
                isum[j] = _mm256_add_epi32(isum[j], _mm256_madd_epi16(p16, ones));
            }
        }
    }
}

// Legacy layouts: one 32-element block per super-block, scaled in float straight into acc.
template <class L, int R>
inline void legacy_sb(const uint8_t* p, const uint8_t* acts, int64_t stride, int64_t sb,
                      int64_t d_off, int64_t aux_off, __m256* acc) {
    const auto* scales = reinterpret_cast<const float*>(p + int64_t{L::kSB} * kPanelRows);
    __m256i isum[R];
#pragma GCC unroll 8
    for (int j = 0; j < R; ++j) {
        const int32_t start = reinterpret_cast<const int32_t*>(acts + j * stride + aux_off)[sb];
        isum[j] = L::kOffset_ != 0 ? _mm256_set1_epi32(start) : _mm256_setzero_si256();
    }
    group_dots<L, R>(p, acts + sb * L::kSB, stride, isum);
    const __m256 sc = _mm256_load_ps(scales);
#pragma GCC unroll 8
    for (int j = 0; j < R; ++j) {
        const float da = reinterpret_cast<const float*>(acts + j * stride + d_off)[sb];
        acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[j]), _mm256_mul_ps(sc, _mm256_set1_ps(da)),
                                 acc[j]);
        if constexpr (L::kHasMin) {
            const float s = reinterpret_cast<const float*>(acts + j * stride + aux_off)[sb];
            acc[j] =
                _mm256_fmadd_ps(_mm256_load_ps(scales + kPanelRows), _mm256_set1_ps(s), acc[j]);
        }
    }
}

inline __m256i load_si(const int32_t* p) {
    return _mm256_load_si256(reinterpret_cast<const __m256i*>(p));
}

// K layouts: sub-block scales (and mins) applied in integers, then the super-block's float steps
// (the same as fma_step in vec_dot).
template <class L, int R>
inline void k_sb(const uint8_t* p, const uint8_t* acts, int64_t stride, int64_t sb, int64_t d_off,
                 int64_t aux_off, __m256* acc) {
    const auto* isc = reinterpret_cast<const int32_t*>(p + int64_t{L::kSB} * kPanelRows);
    const auto* wd = reinterpret_cast<const float*>(isc + L::kGroups * kPanelRows * L::kMinVecs);
    __m256i isb[R];
#pragma GCC unroll 8
    for (int j = 0; j < R; ++j) isb[j] = _mm256_setzero_si256();
    for (int g = 0; g < L::kGroups; ++g) {
        const int64_t gi = sb * L::kGroups + g;
        __m256i isum[R];
#pragma GCC unroll 8
        for (int j = 0; j < R; ++j) {
            if constexpr (L::kOffset_ != 0) {
                const int32_t gs = reinterpret_cast<const int32_t*>(acts + j * stride + aux_off)[gi];
                isum[j] = _mm256_set1_epi32(-L::kOffset_ * gs);
            } else {
                isum[j] = _mm256_setzero_si256();
            }
        }
        group_dots<L, R>(p + int64_t{g} * L::kGroup * kPanelRows,
                         acts + sb * L::kSB + g * L::kGroup, stride, isum);
        const __m256i scg = load_si(isc + g * kPanelRows);
#pragma GCC unroll 8
        for (int j = 0; j < R; ++j)
            isb[j] = _mm256_add_epi32(isb[j], _mm256_mullo_epi32(isum[j], scg));
    }
#pragma GCC unroll 8
    for (int j = 0; j < R; ++j) {
        const float da = reinterpret_cast<const float*>(acts + j * stride + d_off)[sb];
        acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isb[j]),
                                 _mm256_mul_ps(_mm256_load_ps(wd), _mm256_set1_ps(da)), acc[j]);
        if constexpr (L::kHasMin) {
            // Mins and group sums are int16 pairs: two groups per multiply-add.
            const int16_t* gs =
                reinterpret_cast<const int16_t*>(acts + j * stride + aux_off) + sb * L::kGroups;
            __m256i msb = _mm256_setzero_si256();
            for (int g = 0; g < L::kGroups / 2; ++g) {
                const __m256i mn = load_si(isc + (L::kGroups + g) * kPanelRows);
                msb = _mm256_add_epi32(msb, _mm256_madd_epi16(mn, _mm256_set1_epi32(static_cast<int>(load_u32(gs + 2 * g)))));
            }
            acc[j] = _mm256_fmadd_ps(
                _mm256_cvtepi32_ps(msb),
                _mm256_mul_ps(_mm256_load_ps(wd + kPanelRows), _mm256_set1_ps(da)), acc[j]);
        }
    }
}

template <class L, int R>
void tile_direct(const void* panel, const uint8_t* acts, int64_t stride, int64_t n, float* y,
                 int64_t ldy, int n_rows) {
    const int64_t d_off = L::d_offset(n), aux_off = L::aux_offset(n);
    __m256 acc[R];
#pragma GCC unroll 8
    for (int j = 0; j < R; ++j) acc[j] = _mm256_setzero_ps();
    const auto* p = static_cast<const uint8_t*>(panel);
    for (int64_t sb = 0; sb < n / L::kSB; ++sb, p += L::kPanelSB) {
        if constexpr (L::kK) {
            k_sb<L, R>(p, acts, stride, sb, d_off, aux_off, acc);
        } else {
            legacy_sb<L, R>(p, acts, stride, sb, d_off, aux_off, acc);
        }
    }
    const __m256i mask =
        _mm256_cmpgt_epi32(_mm256_set1_epi32(n_rows), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    for (int j = 0; j < R; ++j) _mm256_maskstore_ps(y + j * ldy, mask, acc[j]);
}

// More than 4 activation rows run as two passes over the (cache-resident) panel.
template <class L, int R>
void tile(const void* panel, const uint8_t* acts, int64_t stride, int64_t n, float* y, int64_t ldy,
          int n_rows) {
    if constexpr (R <= 4) {
        tile_direct<L, R>(panel, acts, stride, n, y, ldy, n_rows);
    } else {
        tile_direct<L, 4>(panel, acts, stride, n, y, ldy, n_rows);
        tile_direct<L, R - 4>(panel, acts + 4 * stride, stride, n, y + 4 * ldy, ldy, n_rows);
    }
}

// ---------------------------------------------------------------------------------------------
// Decode GEMV of the legacy types: the tile's float steps lane for lane with 4 rows per vector;
// block sums are reduced across lanes first (exact). The k-quants decode through vec_dot.

constexpr int kGemvRows = 4;

inline __m128i reduce4(__m256i v0, __m256i v1, __m256i v2, __m256i v3) {
    const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(v0, v1), _mm256_hadd_epi32(v2, v3));
    return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

// The f16 at byte offset `off` of the current block of 4 rows (one 4-lane gather) as f32.
inline __m128 gather_h2f(const uint8_t* base, __m128i row_offsets, int off) {
    const __m128i v = _mm_i32gather_epi32(reinterpret_cast<const int*>(base + off), row_offsets, 1);
    const __m128i lo16 = _mm_shuffle_epi8(
        v, _mm_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1));
    return _mm_cvtph_ps(lo16);
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
        const __m128i row_offsets = _mm_loadu_si128(reinterpret_cast<const __m128i*>(offs));
        __m128 acc = _mm_setzero_ps();
        for (int64_t b = 0; b < n / kQK; ++b) {
            const uint8_t* blk[kGemvRows];
            for (int r = 0; r < kGemvRows; ++r) {
                blk[r] = row[r] + b * T::kBlockBytes;
                _mm_prefetch(reinterpret_cast<const char*>(blk[r]) + kGemvPrefetch, _MM_HINT_T0);
            }
            const __m256i a = load256(act + b * kQK);
            __m256i d[kGemvRows];
            for (int r = 0; r < kGemvRows; ++r)
                d[r] = (L::kSigned ? dot_ss8(T::codes(blk[r]), a) : dot_us8(T::codes(blk[r]), a));
            __m128i isum = reduce4(d[0], d[1], d[2], d[3]);
            if constexpr (L::kOffset_ != 0) {
                isum =
                    _mm_add_epi32(isum, _mm_set1_epi32(reinterpret_cast<const int32_t*>(aux)[b]));
            }
            const __m128 sc = gather_h2f(blk[0], row_offsets, 0);
            acc = _mm_fmadd_ps(_mm_cvtepi32_ps(isum), _mm_mul_ps(sc, _mm_set1_ps(da[b])), acc);
            if constexpr (L::kHasMin) {
                const float s = reinterpret_cast<const float*>(aux)[b];
                acc =
                    _mm_fmadd_ps(gather_h2f(blk[0], row_offsets, T::kMOffset), _mm_set1_ps(s), acc);
            }
        }
        _mm_maskstore_ps(y + r0, _mm_cmpgt_epi32(_mm_set1_epi32(nr), _mm_setr_epi32(0, 1, 2, 3)),
                         acc);
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
    k.gemm[idx(DType::kQ5_K)] = gemm_of<Q45_K<true>, prep_k<Q45_K<true>::L>>();
    k.gemm[idx(DType::kQ6_K)] = gemm_of<Q6_K, prep_k<Q6_K::L>>();
    k.gemm[idx(DType::kQ3_K)] = gemm_of<Q3_K, prep_k<Q3_K::L>>();
    k.gemm[idx(DType::kQ2_K)] = gemm_of<Q2_K, prep_k<Q2_K::L>>();
}

}  // namespace sobre::kernels::avx2
