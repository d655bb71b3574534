// Scalar reference converters between f32 and every block format we compute with.
// ref: ggml src/ggml-quants.c (dequantize_row_*, quantize_row_*_ref). The semantics match it
// element for element, so a GGUF weight dequantizes to the values llama.cpp sees and our
// activations round the way llama.cpp's do. Bit-field layouts are documented in quant_blocks.h.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "core/dtype.h"
#include "core/fp16.h"
#include "core/quant_blocks.h"
#include "core/quant_fit.h"

namespace sobre::ref {
namespace {

constexpr int kHalf = kQK / 2;

// Rounds half to even through the float mantissa, as ggml's nearest_int (q8_K relies on this
// rather than roundf's half-away-from-zero).
using fit::nearest_int;

// The 32 fifth bits of a Q5 block; bit j belongs to element j. Assembled byte by byte so the
// little-endian file order holds on any host.
uint32_t load_qh(const uint8_t* qh) {
    return static_cast<uint32_t>(qh[0]) | (static_cast<uint32_t>(qh[1]) << 8) |
           (static_cast<uint32_t>(qh[2]) << 16) | (static_cast<uint32_t>(qh[3]) << 24);
}

void store_qh(uint32_t v, uint8_t* qh) {
    for (int i = 0; i < 4; ++i) qh[i] = static_cast<uint8_t>(v >> (8 * i));
}

// Returns the element of largest magnitude with its sign; the first one wins a tie, as in ggml.
// The sign matters: q4_0/q5_0/q8_K map that element to the most negative code exactly.
float signed_absmax(const float* x, int n) {
    float amax = 0.0f;
    float max = 0.0f;
    for (int j = 0; j < n; ++j) {
        if (amax < std::fabs(x[j])) {
            amax = std::fabs(x[j]);
            max = x[j];
        }
    }
    return max;
}

void min_max(const float* x, int n, float* min, float* max) {
    *min = FLT_MAX;
    *max = -FLT_MAX;
    for (int j = 0; j < n; ++j) {
        if (x[j] < *min) *min = x[j];
        if (x[j] > *max) *max = x[j];
    }
}

// One Q2_K/Q3_K super-block is two halves of 128 elements; in each half, byte l of a 32-byte
// qs slice holds elements l, l+32, l+64, l+96 in bit pairs 0-1, 2-3, 4-5, 6-7, and every
// 16 consecutive elements share a scale. These two walk that order.
void q2_k_block(const BlockQ2_K& x, float* y) {
    const float d = fp16_to_fp32(x.d);
    const float dmin = fp16_to_fp32(x.dmin);
    for (int half = 0; half < 2; ++half) {
        const uint8_t* q = x.qs + 32 * half;
        for (int j = 0; j < 4; ++j) {
            for (int l = 0; l < 32; ++l) {
                const uint8_t sc = x.scales[8 * half + 2 * j + l / 16];
                const float dl = d * static_cast<float>(sc & 0x0f);
                const float ml = dmin * static_cast<float>(sc >> 4);
                *y++ = dl * static_cast<float>((q[l] >> (2 * j)) & 3) - ml;
            }
        }
    }
}

void q3_k_block(const BlockQ3_K& x, float* y) {
    const float d = fp16_to_fp32(x.d);
    for (int half = 0; half < 2; ++half) {
        const uint8_t* q = x.qs + 32 * half;
        for (int j = 0; j < 4; ++j) {
            // The third bit of every element of this 32-wide column is one bit of hmask[l].
            const uint8_t m = static_cast<uint8_t>(1u << (4 * half + j));
            for (int l = 0; l < 32; ++l) {
                const int is = 8 * half + 2 * j + l / 16;
                const float dl = d * static_cast<float>(q3_k_scale(x.scales, is) - 32);
                const int v = ((q[l] >> (2 * j)) & 3) - ((x.hmask[l] & m) ? 0 : 4);
                *y++ = dl * static_cast<float>(v);
            }
        }
    }
}

// Q4_K and Q5_K: four 64-element chunks; byte l of a chunk's 32 qs bytes holds element l in its
// low nibble (sub-block 2c) and element l+32 in its high nibble (sub-block 2c+1). Q5_K's fifth
// bit of element l of sub-block s is bit s of qh[l].
void q45_k_block(const uint8_t* scales, const uint8_t* qs, const uint8_t* qh, uint16_t d16,
                 uint16_t dmin16, float* y) {
    const float d = fp16_to_fp32(d16);
    const float dmin = fp16_to_fp32(dmin16);
    for (int s = 0; s < 8; ++s) {
        const ScaleMin sm = k4_scale_min(s, scales);
        const float dl = d * static_cast<float>(sm.scale);
        const float ml = dmin * static_cast<float>(sm.min);
        const uint8_t* q = qs + 32 * (s / 2);
        const int shift = 4 * (s % 2);
        for (int l = 0; l < 32; ++l) {
            int v = (q[l] >> shift) & 0x0f;
            if (qh != nullptr && (qh[l] & (1u << s))) v += 16;
            *y++ = dl * static_cast<float>(v) - ml;
        }
    }
}

// Q6_K: two 128-element halves. In a half, element l + 32g (g = 0..3, l = 0..31) keeps its low
// 4 bits in ql[l + 32*(g&1)] (low nibble for g < 2, high nibble otherwise) and its top 2 bits in
// bits 2g..2g+1 of qh[l]; its scale is scales[8*half + 2g + l/16].
void q6_k_block(const BlockQ6_K& x, float* y) {
    const float d = fp16_to_fp32(x.d);
    for (int half = 0; half < 2; ++half) {
        const uint8_t* ql = x.ql + 64 * half;
        const uint8_t* qh = x.qh + 32 * half;
        const int8_t* sc = x.scales + 8 * half;
        for (int g = 0; g < 4; ++g) {
            for (int l = 0; l < 32; ++l) {
                const int low = (ql[l + 32 * (g & 1)] >> (4 * (g / 2))) & 0x0f;
                const int q = (low | (((qh[l] >> (2 * g)) & 3) << 4)) - 32;
                // Same association as ggml: (d * scale) * q.
                *y++ = d * static_cast<float>(sc[2 * g + l / 16]) * static_cast<float>(q);
            }
        }
    }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// to_float

void to_float_f32(const void* src, float* dst, int64_t n) {
    std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

void to_float_f16(const void* src, float* dst, int64_t n) {
    const auto* h = static_cast<const uint16_t*>(src);
    for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(h[i]);
}

void to_float_bf16(const void* src, float* dst, int64_t n) {
    const auto* b = static_cast<const uint16_t*>(src);
    for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(b[i]);
}

void to_float_q4_0(const void* src, float* dst, int64_t n) {
    const auto* x = static_cast<const BlockQ4_0*>(src);
    for (int64_t b = 0; b < n / kQK; ++b, dst += kQK) {
        const float d = fp16_to_fp32(x[b].d);
        for (int j = 0; j < kHalf; ++j) {
            dst[j] = static_cast<float>((x[b].qs[j] & 0x0f) - 8) * d;
            dst[j + kHalf] = static_cast<float>((x[b].qs[j] >> 4) - 8) * d;
        }
    }
}

void to_float_q4_1(const void* src, float* dst, int64_t n) {
    const auto* x = static_cast<const BlockQ4_1*>(src);
    for (int64_t b = 0; b < n / kQK; ++b, dst += kQK) {
        const float d = fp16_to_fp32(x[b].d);
        const float m = fp16_to_fp32(x[b].m);
        for (int j = 0; j < kHalf; ++j) {
            dst[j] = static_cast<float>(x[b].qs[j] & 0x0f) * d + m;
            dst[j + kHalf] = static_cast<float>(x[b].qs[j] >> 4) * d + m;
        }
    }
}

void to_float_q5_0(const void* src, float* dst, int64_t n) {
    const auto* x = static_cast<const BlockQ5_0*>(src);
    for (int64_t b = 0; b < n / kQK; ++b, dst += kQK) {
        const float d = fp16_to_fp32(x[b].d);
        const uint32_t qh = load_qh(x[b].qh);
        for (int j = 0; j < kHalf; ++j) {
            const int q0 = (x[b].qs[j] & 0x0f) | static_cast<int>(((qh >> j) & 1u) << 4);
            const int q1 = (x[b].qs[j] >> 4) | static_cast<int>(((qh >> (j + kHalf)) & 1u) << 4);
            dst[j] = static_cast<float>(q0 - 16) * d;
            dst[j + kHalf] = static_cast<float>(q1 - 16) * d;
        }
    }
}

void to_float_q5_1(const void* src, float* dst, int64_t n) {
    const auto* x = static_cast<const BlockQ5_1*>(src);
    for (int64_t b = 0; b < n / kQK; ++b, dst += kQK) {
        const float d = fp16_to_fp32(x[b].d);
        const float m = fp16_to_fp32(x[b].m);
        const uint32_t qh = load_qh(x[b].qh);
        for (int j = 0; j < kHalf; ++j) {
            const int q0 = (x[b].qs[j] & 0x0f) | static_cast<int>(((qh >> j) & 1u) << 4);
            const int q1 = (x[b].qs[j] >> 4) | static_cast<int>(((qh >> (j + kHalf)) & 1u) << 4);
            dst[j] = static_cast<float>(q0) * d + m;
            dst[j + kHalf] = static_cast<float>(q1) * d + m;
        }
    }
}

void to_float_q8_0(const void* src, float* dst, int64_t n) {
    const auto* x = static_cast<const BlockQ8_0*>(src);
    for (int64_t b = 0; b < n / kQK; ++b, dst += kQK) {
        const float d = fp16_to_fp32(x[b].d);
        for (int j = 0; j < kQK; ++j) dst[j] = static_cast<float>(x[b].qs[j]) * d;
    }
}

// ggml has no dequantizer for q8_1 (it is only an activation format); s is redundant here.
void to_float_q8_1(const void* src, float* dst, int64_t n) {
    const auto* x = static_cast<const BlockQ8_1*>(src);
    for (int64_t b = 0; b < n / kQK; ++b, dst += kQK) {
        const float d = fp16_to_fp32(x[b].d);
        for (int j = 0; j < kQK; ++j) dst[j] = static_cast<float>(x[b].qs[j]) * d;
    }
}

void to_float_q2_K(const void* src, float* dst, int64_t n) {
    const auto* x = static_cast<const BlockQ2_K*>(src);
    for (int64_t b = 0; b < n / kQKK; ++b) q2_k_block(x[b], dst + b * kQKK);
}

void to_float_q3_K(const void* src, float* dst, int64_t n) {
    const auto* x = static_cast<const BlockQ3_K*>(src);
    for (int64_t b = 0; b < n / kQKK; ++b) q3_k_block(x[b], dst + b * kQKK);
}

void to_float_q4_K(const void* src, float* dst, int64_t n) {
    const auto* x = static_cast<const BlockQ4_K*>(src);
    for (int64_t b = 0; b < n / kQKK; ++b) {
        q45_k_block(x[b].scales, x[b].qs, nullptr, x[b].d, x[b].dmin, dst + b * kQKK);
    }
}

void to_float_q5_K(const void* src, float* dst, int64_t n) {
    const auto* x = static_cast<const BlockQ5_K*>(src);
    for (int64_t b = 0; b < n / kQKK; ++b) {
        q45_k_block(x[b].scales, x[b].qs, x[b].qh, x[b].d, x[b].dmin, dst + b * kQKK);
    }
}

void to_float_q6_K(const void* src, float* dst, int64_t n) {
    const auto* x = static_cast<const BlockQ6_K*>(src);
    for (int64_t b = 0; b < n / kQKK; ++b) q6_k_block(x[b], dst + b * kQKK);
}

void to_float_q8_K(const void* src, float* dst, int64_t n) {
    const auto* x = static_cast<const BlockQ8_K*>(src);
    for (int64_t b = 0; b < n / kQKK; ++b, dst += kQKK) {
        for (int j = 0; j < kQKK; ++j) dst[j] = x[b].d * static_cast<float>(x[b].qs[j]);
    }
}

// ---------------------------------------------------------------------------------------------
// from_float (ggml's quantize_row_*_ref: plain round-to-nearest, no importance weighting)

void from_float_f32(const float* src, void* dst, int64_t n) {
    std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

void from_float_f16(const float* src, void* dst, int64_t n) {
    auto* h = static_cast<uint16_t*>(dst);
    for (int64_t i = 0; i < n; ++i) h[i] = fp32_to_fp16(src[i]);
}

void from_float_bf16(const float* src, void* dst, int64_t n) {
    auto* b = static_cast<uint16_t*>(dst);
    for (int64_t i = 0; i < n; ++i) b[i] = fp32_to_bf16(src[i]);
}

// The truncating casts after "+ 8.5f" / "+ 0.5f" are ggml's rounding; keep them, since
// round-half-even would pick different codes on ties.
void from_float_q4_0(const float* src, void* dst, int64_t n) {
    auto* y = static_cast<BlockQ4_0*>(dst);
    for (int64_t b = 0; b < n / kQK; ++b, src += kQK) {
        const float d = signed_absmax(src, kQK) / -8;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = fp32_to_fp16(d);
        for (int j = 0; j < kHalf; ++j) {
            const int q0 = std::min(15, static_cast<int>(src[j] * id + 8.5f));
            const int q1 = std::min(15, static_cast<int>(src[j + kHalf] * id + 8.5f));
            y[b].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
        }
    }
}

void from_float_q4_1(const float* src, void* dst, int64_t n) {
    auto* y = static_cast<BlockQ4_1*>(dst);
    for (int64_t b = 0; b < n / kQK; ++b, src += kQK) {
        float min = 0.0f;
        float max = 0.0f;
        min_max(src, kQK, &min, &max);
        const float d = (max - min) / 15;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = fp32_to_fp16(d);
        y[b].m = fp32_to_fp16(min);
        for (int j = 0; j < kHalf; ++j) {
            const int q0 = std::min(15, static_cast<int>((src[j] - min) * id + 0.5f));
            const int q1 = std::min(15, static_cast<int>((src[j + kHalf] - min) * id + 0.5f));
            y[b].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
        }
    }
}

void from_float_q5_0(const float* src, void* dst, int64_t n) {
    auto* y = static_cast<BlockQ5_0*>(dst);
    for (int64_t b = 0; b < n / kQK; ++b, src += kQK) {
        const float d = signed_absmax(src, kQK) / -16;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = fp32_to_fp16(d);
        uint32_t qh = 0;
        for (int j = 0; j < kHalf; ++j) {
            // ggml narrows to int8 before clamping; it matters only for blocks of tiny values.
            const int q0 = std::min<int>(31, static_cast<int8_t>(static_cast<int>(src[j] * id + 16.5f)));
            const int q1 = std::min<int>(31, static_cast<int8_t>(static_cast<int>(src[j + kHalf] * id + 16.5f)));
            y[b].qs[j] = static_cast<uint8_t>((q0 & 0x0f) | ((q1 & 0x0f) << 4));
            qh |= static_cast<uint32_t>(q0 >> 4) << j;
            qh |= static_cast<uint32_t>(q1 >> 4) << (j + kHalf);
        }
        store_qh(qh, y[b].qh);
    }
}

// The importance-weighted legacy quantizers (ggml quantize_row_q{4,5}_{0,1}_impl): each block
// is fitted under the weights qw * sqrt(sigma2 + x^2), sigma2 the mean square of the whole row.
// The _0 types search a signed scale (make_qx_quants), the _1 types a scale and a min
// (make_qkx3_quants).

namespace {

float row_sigma2(const float* x, int64_t n) {
    float sum_x2 = 0;
    for (int64_t j = 0; j < n; ++j) sum_x2 += x[j] * x[j];
    return sum_x2 / static_cast<float>(n);
}

void block_weights(const float* x, const float* qw, float sigma2, float* w) {
    for (int j = 0; j < kQK; ++j) w[j] = qw[j] * std::sqrt(sigma2 + x[j] * x[j]);
}

constexpr fit::ScanParams kWeightedScan = {-0.9f, 0.05f, 36, false};

}  // namespace

void from_float_weighted_q4_0(const float* src, void* dst, int64_t n, const float* qw) {
    auto* y = static_cast<BlockQ4_0*>(dst);
    const float sigma2 = row_sigma2(src, n);
    float w[kQK];
    int8_t L[kQK];
    for (int64_t b = 0; b < n / kQK; ++b, src += kQK, qw += kQK) {
        block_weights(src, qw, sigma2, w);
        y[b].d = fp32_to_fp16(fit::fit_scale_qx(kQK, 8, src, L, w));
        for (int j = 0; j < kHalf; ++j) y[b].qs[j] = static_cast<uint8_t>(L[j] | (L[j + kHalf] << 4));
    }
}

void from_float_weighted_q4_1(const float* src, void* dst, int64_t n, const float* qw) {
    auto* y = static_cast<BlockQ4_1*>(dst);
    const float sigma2 = row_sigma2(src, n);
    float w[kQK];
    uint8_t L[kQK];
    for (int64_t b = 0; b < n / kQK; ++b, src += kQK, qw += kQK) {
        block_weights(src, qw, sigma2, w);
        float neg_min = 0;
        y[b].d = fp32_to_fp16(fit::fit_scale_min(kQK, 15, src, w, L, &neg_min, kWeightedScan));
        y[b].m = fp32_to_fp16(-neg_min);
        for (int j = 0; j < kHalf; ++j) y[b].qs[j] = static_cast<uint8_t>(L[j] | (L[j + kHalf] << 4));
    }
}

namespace {

// Q5 codes (0..31): low nibbles in qs as for Q4, fifth bits in qh.
template <class Code>
void pack_q5(const Code* L, uint8_t* qs, uint8_t* qh_bytes) {
    uint32_t qh = 0;
    for (int j = 0; j < kHalf; ++j) {
        const auto lo = static_cast<uint8_t>(L[j]);
        const auto hi = static_cast<uint8_t>(L[j + kHalf]);
        qs[j] = static_cast<uint8_t>((lo & 0x0f) | ((hi & 0x0f) << 4));
        qh |= static_cast<uint32_t>((lo & 0x10u) >> 4) << j;
        qh |= static_cast<uint32_t>((hi & 0x10u) >> 4) << (j + kHalf);
    }
    store_qh(qh, qh_bytes);
}

}  // namespace

void from_float_weighted_q5_0(const float* src, void* dst, int64_t n, const float* qw) {
    auto* y = static_cast<BlockQ5_0*>(dst);
    const float sigma2 = row_sigma2(src, n);
    float w[kQK];
    int8_t L[kQK];
    for (int64_t b = 0; b < n / kQK; ++b, src += kQK, qw += kQK) {
        block_weights(src, qw, sigma2, w);
        y[b].d = fp32_to_fp16(fit::fit_scale_qx(kQK, 16, src, L, w));
        pack_q5(L, y[b].qs, y[b].qh);
    }
}

void from_float_weighted_q5_1(const float* src, void* dst, int64_t n, const float* qw) {
    auto* y = static_cast<BlockQ5_1*>(dst);
    const float sigma2 = row_sigma2(src, n);
    float w[kQK];
    uint8_t L[kQK];
    for (int64_t b = 0; b < n / kQK; ++b, src += kQK, qw += kQK) {
        block_weights(src, qw, sigma2, w);
        float neg_min = 0;
        y[b].d = fp32_to_fp16(fit::fit_scale_min(kQK, 31, src, w, L, &neg_min, kWeightedScan));
        y[b].m = fp32_to_fp16(-neg_min);
        pack_q5(L, y[b].qs, y[b].qh);
    }
}

// ggml does not clamp q5_1 codes at 31; (max - min) * (1 / d) + 0.5 cannot reach 32 in float.
void from_float_q5_1(const float* src, void* dst, int64_t n) {
    auto* y = static_cast<BlockQ5_1*>(dst);
    for (int64_t b = 0; b < n / kQK; ++b, src += kQK) {
        float min = 0.0f;
        float max = 0.0f;
        min_max(src, kQK, &min, &max);
        const float d = (max - min) / 31;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = fp32_to_fp16(d);
        y[b].m = fp32_to_fp16(min);
        uint32_t qh = 0;
        for (int j = 0; j < kHalf; ++j) {
            const int q0 = static_cast<int>((src[j] - min) * id + 0.5f) & 0x1f;
            const int q1 = static_cast<int>((src[j + kHalf] - min) * id + 0.5f) & 0x1f;
            y[b].qs[j] = static_cast<uint8_t>((q0 & 0x0f) | ((q1 & 0x0f) << 4));
            qh |= static_cast<uint32_t>(q0 >> 4) << j;
            qh |= static_cast<uint32_t>(q1 >> 4) << (j + kHalf);
        }
        store_qh(qh, y[b].qh);
    }
}

// d = amax / 127 and q = roundf(x / d) (half away from zero), as ggml.
void from_float_q8_0(const float* src, void* dst, int64_t n) {
    auto* y = static_cast<BlockQ8_0*>(dst);
    for (int64_t b = 0; b < n / kQK; ++b, src += kQK) {
        float amax = 0.0f;
        for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(src[j]));
        const float d = amax / 127;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = fp32_to_fp16(d);
        for (int j = 0; j < kQK; ++j) y[b].qs[j] = static_cast<int8_t>(std::round(src[j] * id));
    }
}

// As q8_0, plus s = d * sum(q). s uses the unrounded d, as ggml does, so it can differ from
// fp16(d) * sum(q) in the last bits; the q4_1/q5_1 dot products read s, not the product.
void from_float_q8_1(const float* src, void* dst, int64_t n) {
    auto* y = static_cast<BlockQ8_1*>(dst);
    for (int64_t b = 0; b < n / kQK; ++b, src += kQK) {
        float amax = 0.0f;
        for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(src[j]));
        const float d = amax / 127;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = fp32_to_fp16(d);
        int sum = 0;
        for (int j = 0; j < kQK; ++j) {
            y[b].qs[j] = static_cast<int8_t>(std::round(src[j] * id));
            sum += y[b].qs[j];
        }
        y[b].s = fp32_to_fp16(static_cast<float>(sum) * d);
    }
}

// The element of largest magnitude maps to -127 exactly (iscale = -127 / max), the rest round
// half to even; d stays f32. An all-zero block gets d = 0 and zero bsums (ggml leaves bsums
// unwritten there; zero is what they sum to).
void from_float_q8_K(const float* src, void* dst, int64_t n) {
    auto* y = static_cast<BlockQ8_K*>(dst);
    for (int64_t b = 0; b < n / kQKK; ++b, src += kQKK) {
        const float max = signed_absmax(src, kQKK);
        if (max == 0.0f) {
            y[b].d = 0.0f;
            std::memset(y[b].qs, 0, sizeof y[b].qs);
            std::memset(y[b].bsums, 0, sizeof y[b].bsums);
            continue;
        }
        const float iscale = -127.0f / max;
        for (int j = 0; j < kQKK; ++j) {
            y[b].qs[j] = static_cast<int8_t>(std::min(127, nearest_int(iscale * src[j])));
        }
        for (int g = 0; g < kQKK / 16; ++g) {
            int sum = 0;
            for (int l = 0; l < 16; ++l) sum += y[b].qs[16 * g + l];
            y[b].bsums[g] = static_cast<int16_t>(sum);
        }
        y[b].d = 1.0f / iscale;
    }
}

}  // namespace sobre::ref
