// AVX-512 attention over one KV head (contract: kernels/cpu/attention.h), tiled by 16 keys:
// each K and V tile is widened from f16 to f32 once and shared by every query of the call (the
// queries of a GQA group and, in prefill, of many tokens), so the f16 conversions are paid per
// key instead of per key and query. Scores of 16 keys come out as one vector after a
// transpose-and-add tree; the weighted sum of V keeps the output chunk in registers across the
// tile. The math is the two-pass one of the reference (all scores, softmax, weights rounded to
// f16, then V), so results match the per-row path up to f32 summation order.
#include "kernels/cpu/attention.h"

#include "kernels/cpu/avx512/simd.h"

namespace sobre::kernels::avx512 {
namespace {

constexpr int64_t kTile = 16;

constexpr int64_t pad16(int64_t n) { return (n + 15) / 16 * 16; }

inline __mmask16 first(int64_t n) {
    return n >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << n) - 1);
}

// Widens rows [t0, t0 + m) of `rows` (d f16 values each) into tile[j * ld ..], zero-padding to ld
// and zero-filling rows m..15.
void widen_tile(const uint16_t* const* rows, int64_t t0, int64_t m, int64_t d, int64_t ld,
                float* tile) {
    for (int64_t j = 0; j < kTile; ++j) {
        float* dst = tile + j * ld;
        for (int64_t c = 0; c < ld; c += 16) {
            __m512 v = _mm512_setzero_ps();
            if (j < m && c < d)
                v = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(first(d - c), rows[t0 + j] + c));
            _mm512_store_ps(dst + c, v);
        }
    }
}

// r[j] = sum of the 16 lanes of a[j], j < 16: three levels of lane-block shuffles and adds, then
// one permute back to key order (after the tree, lane 4L + m holds key 4m + L).
inline __m512 sum16(__m512* a) {
    __m512 b[8], c[4], d[2];
    for (int i = 0; i < 8; ++i) {
        b[i] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * i], a[2 * i + 1], 0x44),
                             _mm512_shuffle_f32x4(a[2 * i], a[2 * i + 1], 0xee));
    }
    for (int i = 0; i < 4; ++i) {
        c[i] = _mm512_add_ps(_mm512_shuffle_f32x4(b[2 * i], b[2 * i + 1], 0x88),
                             _mm512_shuffle_f32x4(b[2 * i], b[2 * i + 1], 0xdd));
    }
    for (int i = 0; i < 2; ++i) {
        d[i] = _mm512_add_ps(_mm512_unpacklo_ps(c[2 * i], c[2 * i + 1]),
                             _mm512_unpackhi_ps(c[2 * i], c[2 * i + 1]));
    }
    const __m512 e =
        _mm512_add_ps(_mm512_shuffle_ps(d[0], d[1], 0x44), _mm512_shuffle_ps(d[0], d[1], 0xee));
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    return _mm512_permutexvar_ps(order, e);
}

// Scores of one query (rounded to f16 values, padded to ld with zeros) against a widened tile.
inline __m512 tile_scores(const float* q, const float* tile, int64_t ld) {
    __m512 acc[kTile];
    for (__m512& v : acc) v = _mm512_setzero_ps();
    for (int64_t c = 0; c < ld; c += 16) {
        const __m512 qc = _mm512_load_ps(q + c);
#pragma GCC unroll 16
        for (int j = 0; j < kTile; ++j)
            acc[j] = _mm512_fmadd_ps(qc, _mm512_load_ps(tile + j * ld + c), acc[j]);
    }
    return sum16(acc);
}

inline __m512 round_f16(__m512 v) {
    return _mm512_cvtph_ps(_mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

void attend_chunk(const AttnArgs& a, float* scratch) {
    const int64_t ldk = pad16(a.head_dim_k), ldv = pad16(a.head_dim_v), lds = pad16(a.n_keys);
    float* scores = scratch;                     // [n_q][lds]
    float* ktile = scores + pad16(a.n_q) * lds;  // [16][ldk]
    float* vtile = ktile + kTile * ldk;          // [16][ldv]
    float* q = vtile + kTile * ldv;              // [ldk]: one query rounded to f16 values
    int64_t max_ctx = 0;
    for (int64_t i = 0; i < a.n_q; ++i) max_ctx = a.n_ctx[i] > max_ctx ? a.n_ctx[i] : max_ctx;

    // Pass 1: scores, one K tile at a time, for every query that reaches it.
    for (int64_t t0 = 0; t0 < max_ctx; t0 += kTile) {
        widen_tile(a.k, t0, max_ctx - t0 < kTile ? max_ctx - t0 : kTile, a.head_dim_k, ldk, ktile);
        for (int64_t i = 0; i < a.n_q; ++i) {
            if (a.n_ctx[i] <= t0) continue;
            for (int64_t c = 0; c < ldk; c += 16) {
                _mm512_store_ps(
                    q + c, round_f16(_mm512_maskz_loadu_ps(first(a.head_dim_k - c), a.q[i] + c)));
            }
            _mm512_store_ps(scores + i * lds + t0, tile_scores(q, ktile, ldk));
        }
    }

    // Pass 2: softmax over each query's own keys; the weights are rounded to f16.
    for (int64_t i = 0; i < a.n_q; ++i) {
        float* s = scores + i * lds;
        const int64_t n = a.n_ctx[i];
        softmax_f32(s, n, a.scale);
        for (int64_t j = 0; j < n; j += 16) {
            const __mmask16 m = first(n - j);
            _mm512_mask_storeu_ps(s + j, m, round_f16(_mm512_maskz_loadu_ps(m, s + j)));
        }
    }

    // Pass 3: out = weights . V, one V tile at a time; each output chunk of up to 128 values stays
    // in registers across the tile's keys.
    for (int64_t i = 0; i < a.n_q; ++i) {
        for (int64_t c = 0; c < a.head_dim_v; c += 16) {
            _mm512_mask_storeu_ps(a.out[i] + c, first(a.head_dim_v - c), _mm512_setzero_ps());
        }
    }
    for (int64_t t0 = 0; t0 < max_ctx; t0 += kTile) {
        const int64_t m = max_ctx - t0 < kTile ? max_ctx - t0 : kTile;
        widen_tile(a.v, t0, m, a.head_dim_v, ldv, vtile);
        for (int64_t i = 0; i < a.n_q; ++i) {
            if (a.n_ctx[i] <= t0) continue;
            const float* w = scores + i * lds + t0;
            const int64_t keys = a.n_ctx[i] - t0 < m ? a.n_ctx[i] - t0 : m;
            for (int64_t c0 = 0; c0 < a.head_dim_v; c0 += 128) {
                const int64_t left = (a.head_dim_v - c0 + 15) / 16;
                const int chunks = static_cast<int>(left < 8 ? left : 8);
                float* out = a.out[i] + c0;
                __m512 o[8];
                for (int c = 0; c < chunks; ++c)
                    o[c] = _mm512_maskz_loadu_ps(first(a.head_dim_v - c0 - 16 * c), out + 16 * c);
                for (int64_t j = 0; j < keys; ++j) {
                    const __m512 wj = _mm512_set1_ps(w[j]);
                    const float* vj = vtile + j * ldv + c0;
                    for (int c = 0; c < chunks; ++c)
                        o[c] = _mm512_fmadd_ps(wj, _mm512_load_ps(vj + 16 * c), o[c]);
                }
                for (int c = 0; c < chunks; ++c)
                    _mm512_mask_storeu_ps(out + 16 * c, first(a.head_dim_v - c0 - 16 * c), o[c]);
            }
        }
    }
}

// The queries in passes of attend_query_chunk (attention.h): a query's arithmetic does not depend
// on its pass, and each pass widens only the K and V tiles its queries reach.
void attend(const AttnArgs& a, float* scratch) {
    const int64_t chunk = attend_query_chunk(a.n_keys);
    for (int64_t i0 = 0; i0 < a.n_q; i0 += chunk) {
        AttnArgs part = a;
        part.n_q = a.n_q - i0 < chunk ? a.n_q - i0 : chunk;
        part.q = a.q + i0;
        part.n_ctx = a.n_ctx + i0;
        part.out = a.out + i0;
        attend_chunk(part, scratch);
    }
}

}  // namespace

void fill_attention(CpuKernels& k) { k.ops.attend = attend; }

}  // namespace sobre::kernels::avx512
