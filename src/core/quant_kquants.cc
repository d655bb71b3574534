// Scalar reference quantizers for the k-quants (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K), without and
// with importance weights. ref: ggml src/ggml-quants.c, quantize_row_q{2,3,4,5,6}_K_ref and
// quantize_row_q{2,3,4,5,6}_K_impl (what llama-quantize runs with --imatrix); the scale searches
// are in quant_fit.cc.
//
// `sobre quantize` must write the bytes llama-quantize writes, so every float expression here
// keeps ggml's precision (float throughout, never double) and operand order: reassociating a
// sum or fusing a multiply-add moves a weight to another code. CMake builds this file with
// -ffp-contract=off for the same reason. Block layouts are documented in quant_blocks.h.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/dtype.h"
#include "core/fp16.h"
#include "core/quant_blocks.h"
#include "core/quant_fit.h"

namespace sobre::ref {
namespace {

using fit::fit_scale_min;
using fit::fit_scale_q3;
using fit::fit_scale_qp;
using fit::fit_scale_qx;
using fit::kGroupMaxEps;
using fit::nearest_int;

constexpr int kSub16 = 16;  // elements per sub-block of Q2_K, Q3_K, Q6_K
constexpr int kSub32 = 32;  // elements per sub-block of Q4_K, Q5_K
// The scan of the importance-weighted fits (ggml passes -0.9f, 0.05f, 36, false to
// make_qkx3_quants in every quantize_row_*_impl).
constexpr fit::ScanParams kWeightedScan = {-0.9f, 0.05f, 36, false};

// The importance weights of one sub-block: qw * sqrt(sigma2 + x^2), and their sum.
float weigh(const float* x, const float* qw, int n, float sigma2, float* w) {
    for (int l = 0; l < n; ++l) w[l] = qw[l] * std::sqrt(sigma2 + x[l] * x[l]);
    float sum = 0;
    for (int l = 0; l < n; ++l) sum += w[l];
    return sum;
}

float sum_of_squares(const float* x, int64_t n) {
    float s = 0;
    for (int64_t j = 0; j < n; ++j) s += x[j] * x[j];
    return s;
}

// Q2_K/Q3_K code order: in each 128-element half, byte l of the 32-byte slice holds elements
// l, l+32, l+64, l+96 in bit pairs 0-1, 2-3, 4-5, 6-7.
template <class Code>
void pack_2bit(const Code* L, uint8_t* qs) {
    for (int j = 0; j < kQKK; j += 128) {
        for (int l = 0; l < 32; ++l) {
            qs[j / 4 + l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 2) |
                                                 (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
        }
    }
}

// Requantizes against the rounded scales and packs the codes; a sub-block whose scale rounded
// to 0 keeps the codes of the fit, as in ggml.
void q2_k_requantize(const float* x, BlockQ2_K* y, uint8_t* L) {
    for (int j = 0; j < kQKK / kSub16; ++j) {
        const float d = fp16_to_fp32(y->d) * static_cast<float>(y->scales[j] & 0xF);
        if (d == 0.0f) continue;
        const float dm = fp16_to_fp32(y->dmin) * static_cast<float>(y->scales[j] >> 4);
        for (int i = 0; i < kSub16; ++i) {
            const int l = nearest_int((x[kSub16 * j + i] + dm) / d);
            L[kSub16 * j + i] = static_cast<uint8_t>(std::clamp(l, 0, 3));
        }
    }
    pack_2bit(L, y->qs);
}

void q2_k_block(const float* x, BlockQ2_K* y) {
    constexpr float kQ4Scale = 15.f;
    uint8_t L[kQKK];
    float weights[kSub16];
    float scales[kQKK / kSub16];
    float mins[kQKK / kSub16];
    float max_scale = 0;  // the min is deducted, so scales are never negative
    float max_min = 0;
    for (int j = 0; j < kQKK / kSub16; ++j) {
        for (int l = 0; l < kSub16; ++l) weights[l] = std::fabs(x[kSub16 * j + l]);
        scales[j] = fit_scale_min(kSub16, 3, x + kSub16 * j, weights, L + kSub16 * j, &mins[j],
                                  {-0.5f, 0.1f, 15, true});
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    std::memset(y->scales, 0, sizeof y->scales);
    y->d = fp32_to_fp16(0.f);
    y->dmin = fp32_to_fp16(0.f);
    if (max_scale > 0) {
        const float iscale = kQ4Scale / max_scale;
        for (int j = 0; j < kQKK / kSub16; ++j) {
            y->scales[j] = static_cast<uint8_t>(nearest_int(iscale * scales[j]));
        }
        y->d = fp32_to_fp16(max_scale / kQ4Scale);
    }
    if (max_min > 0) {
        const float iscale = kQ4Scale / max_min;
        for (int j = 0; j < kQKK / kSub16; ++j) {
            y->scales[j] |= static_cast<uint8_t>(nearest_int(iscale * mins[j]) << 4);
        }
        y->dmin = fp32_to_fp16(max_min / kQ4Scale);
    }
    q2_k_requantize(x, y, L);
}

void q2_k_block_weighted(const float* x, const float* qw, BlockQ2_K* y) {
    uint8_t L[kQKK];
    float weights[kSub16];
    float scales[kQKK / kSub16];
    float mins[kQKK / kSub16];
    float sw[kQKK / kSub16];
    const float sigma2 = sum_of_squares(x, kQKK) / kQKK;
    for (int j = 0; j < kQKK / kSub16; ++j) {
        const float* xs = x + kSub16 * j;
        sw[j] = weigh(xs, qw + kSub16 * j, kSub16, sigma2, weights);
        scales[j] = fit_scale_min(kSub16, 3, xs, weights, L + kSub16 * j, &mins[j], kWeightedScan);
    }
    uint8_t ls[kQKK / kSub16];
    uint8_t lm[kQKK / kSub16];
    y->d = fp32_to_fp16(fit_scale_qp(kQKK / kSub16, 15, scales, ls, sw));
    y->dmin = fp32_to_fp16(fit_scale_qp(kQKK / kSub16, 15, mins, lm, sw));
    for (int j = 0; j < kQKK / kSub16; ++j) y->scales[j] = static_cast<uint8_t>(ls[j] | (lm[j] << 4));
    q2_k_requantize(x, y, L);
}

// Stores the 6-bit Q3_K scale sc (0..63) of sub-block j: the inverse of q3_k_scale().
void put_q3_k_scale(uint8_t* scales, int j, int sc) {
    if (j < 8) {
        scales[j] = static_cast<uint8_t>(sc & 0xF);
    } else {
        scales[j - 8] |= static_cast<uint8_t>((sc & 0xF) << 4);
    }
    scales[j % 4 + 8] |= static_cast<uint8_t>((sc >> 4) << (2 * (j / 4)));
}

// Moves the third bit of each code (L in 0..7) to hmask: element j is bit j / 32 of
// hmask[j % 32].
void split_q3_k_high_bits(int8_t* L, uint8_t* hmask) {
    std::memset(hmask, 0, kQKK / 8);
    for (int j = 0; j < kQKK; ++j) {
        if (L[j] > 3) {
            hmask[j % 32] |= static_cast<uint8_t>(1u << (j / 32));
            L[j] = static_cast<int8_t>(L[j] - 4);
        }
    }
}

// Requantizes against the stored scales, then splits and packs the codes. A sub-block whose
// scale is 0 keeps the codes of the fit, as in ggml.
void q3_k_requantize(const float* x, BlockQ3_K* y, int8_t* L) {
    for (int j = 0; j < kQKK / kSub16; ++j) {
        const float d = fp16_to_fp32(y->d) * static_cast<float>(q3_k_scale(y->scales, j) - 32);
        if (d == 0.0f) continue;
        for (int i = 0; i < kSub16; ++i) {
            const int l = nearest_int(x[kSub16 * j + i] / d);
            L[kSub16 * j + i] = static_cast<int8_t>(std::clamp(l, -4, 3) + 4);
        }
    }
    split_q3_k_high_bits(L, y->hmask);
    pack_2bit(L, y->qs);
}

void q3_k_block(const float* x, BlockQ3_K* y) {
    int8_t L[kQKK];
    float scales[kQKK / kSub16];
    float max_scale = 0;  // signed: the scale of largest magnitude
    float amax = 0;
    for (int j = 0; j < kQKK / kSub16; ++j) {
        scales[j] = fit_scale_q3(kSub16, 4, x + kSub16 * j, L + kSub16 * j);
        const float scale = std::fabs(scales[j]);
        if (scale > amax) {
            amax = scale;
            max_scale = scales[j];
        }
    }
    std::memset(y->scales, 0, sizeof y->scales);
    y->d = fp32_to_fp16(0.f);
    if (max_scale != 0.0f) {
        const float iscale = -32.f / max_scale;
        for (int j = 0; j < kQKK / kSub16; ++j) {
            // ggml narrows to int8_t before clamping; keep that for out-of-range inputs.
            const auto l = static_cast<int8_t>(nearest_int(iscale * scales[j]));
            put_q3_k_scale(y->scales, j, std::clamp<int>(l, -32, 31) + 32);
        }
        y->d = fp32_to_fp16(1 / iscale);
    }
    q3_k_requantize(x, y, L);
}

void q3_k_block_weighted(const float* x, const float* qw, BlockQ3_K* y) {
    int8_t L[kQKK];
    float weights[kSub16];
    float scales[kQKK / kSub16];
    float sw[kQKK / kSub16];
    const float sigma2 = 2 * sum_of_squares(x, kQKK) / kQKK;
    for (int j = 0; j < kQKK / kSub16; ++j) {
        const float* xs = x + kSub16 * j;
        sw[j] = weigh(xs, qw + kSub16 * j, kSub16, sigma2, weights);
        scales[j] = fit_scale_qx(kSub16, 4, xs, L + kSub16 * j, weights);
    }
    std::memset(y->scales, 0, sizeof y->scales);
    int8_t ls[kQKK / kSub16];  // 0..63: the signed 6-bit scale + 32
    const float d = fit_scale_qx(kQKK / kSub16, 32, scales, ls, sw);
    for (int j = 0; j < kQKK / kSub16; ++j) put_q3_k_scale(y->scales, j, ls[j]);
    y->d = fp32_to_fp16(d);
    q3_k_requantize(x, y, L);
}

// Stores the 6-bit scale ls and min lm of Q4_K/Q5_K sub-block j: the inverse of
// k4_scale_min(). Sub-blocks 0..3 must be stored before 4..7 (those OR into bytes 0..7).
void put_k4_scale_min(uint8_t* scales, int j, uint8_t ls, uint8_t lm) {
    if (j < 4) {
        scales[j] = ls;
        scales[j + 4] = lm;
    } else {
        scales[j + 4] = static_cast<uint8_t>((ls & 0xF) | ((lm & 0xF) << 4));
        scales[j - 4] |= static_cast<uint8_t>((ls >> 4) << 6);
        scales[j] |= static_cast<uint8_t>((lm >> 4) << 6);
    }
}

// Requantizes the 8 sub-blocks of Q4_K/Q5_K against the stored d, dmin and 6-bit scales/mins,
// leaving the codes (0..nmax) in L; a sub-block whose scale is 0 keeps the codes of the fit.
void k45_requantize(const float* x, int nmax, uint16_t d16, uint16_t dmin16, const uint8_t* packed, uint8_t* L) {
    for (int j = 0; j < kQKK / kSub32; ++j) {
        const ScaleMin sm = k4_scale_min(j, packed);
        const float d = fp16_to_fp32(d16) * static_cast<float>(sm.scale);
        if (d == 0.0f) continue;
        const float dm = fp16_to_fp32(dmin16) * static_cast<float>(sm.min);
        for (int i = 0; i < kSub32; ++i) {
            const int l = nearest_int((x[kSub32 * j + i] + dm) / d);
            L[kSub32 * j + i] = static_cast<uint8_t>(std::clamp(l, 0, nmax));
        }
    }
}

// The shared part of Q4_K and Q5_K: fits the 8 sub-blocks, stores d, dmin and the packed
// scales, and leaves the codes (0..nmax) in L.
void k45_fit(const float* x, int nmax, fit::ScanParams p, uint8_t* L, uint16_t* d16, uint16_t* dmin16,
             uint8_t* packed) {
    float weights[kSub32];
    float scales[kQKK / kSub32];
    float mins[kQKK / kSub32];
    float max_scale = 0;  // the min is deducted, so scales are never negative
    float max_min = 0;
    for (int j = 0; j < kQKK / kSub32; ++j) {
        const float* xs = x + kSub32 * j;
        float sum_x2 = 0;
        for (int l = 0; l < kSub32; ++l) sum_x2 += xs[l] * xs[l];
        const float av_x = std::sqrt(sum_x2 / static_cast<float>(kSub32));
        for (int l = 0; l < kSub32; ++l) weights[l] = av_x + std::fabs(xs[l]);
        scales[j] = fit_scale_min(kSub32, nmax, xs, weights, L + kSub32 * j, &mins[j], p);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    for (int j = 0; j < kQKK / kSub32; ++j) {
        // ggml narrows to uint8_t before capping at 63; keep that for out-of-range inputs.
        const auto ls = static_cast<uint8_t>(nearest_int(inv_scale * scales[j]));
        const auto lm = static_cast<uint8_t>(nearest_int(inv_min * mins[j]));
        put_k4_scale_min(packed, j, std::min<uint8_t>(63, ls), std::min<uint8_t>(63, lm));
    }
    *d16 = fp32_to_fp16(max_scale / 63.f);
    *dmin16 = fp32_to_fp16(max_min / 63.f);
    k45_requantize(x, nmax, *d16, *dmin16, packed, L);
}

// k45_fit with importance weights: the sub-block fits weigh qw * sqrt(sigma2 + x^2), and d and
// dmin come from weighted fits of the 8 scales and mins (ggml caps the 6-bit codes at 63 for
// Q5_K only; they never exceed it).
void k45_fit_weighted(const float* x, const float* qw, int nmax, bool cap63, uint8_t* L, uint16_t* d16,
                      uint16_t* dmin16, uint8_t* packed) {
    float weights[kSub32];
    float scales[kQKK / kSub32];
    float mins[kQKK / kSub32];
    float sw[kQKK / kSub32];
    const float sigma2 = 2 * sum_of_squares(x, kQKK) / kQKK;
    for (int j = 0; j < kQKK / kSub32; ++j) {
        const float* xs = x + kSub32 * j;
        sw[j] = weigh(xs, qw + kSub32 * j, kSub32, sigma2, weights);
        scales[j] = fit_scale_min(kSub32, nmax, xs, weights, L + kSub32 * j, &mins[j], kWeightedScan);
    }
    uint8_t ls[kQKK / kSub32];
    uint8_t lm[kQKK / kSub32];
    const float d = fit_scale_qp(kQKK / kSub32, 63, scales, ls, sw);
    const float m = fit_scale_qp(kQKK / kSub32, 63, mins, lm, sw);
    for (int j = 0; j < kQKK / kSub32; ++j) {
        put_k4_scale_min(packed, j, cap63 ? std::min<uint8_t>(63, ls[j]) : ls[j],
                         cap63 ? std::min<uint8_t>(63, lm[j]) : lm[j]);
    }
    *d16 = fp32_to_fp16(d);
    *dmin16 = fp32_to_fp16(m);
    k45_requantize(x, nmax, *d16, *dmin16, packed, L);
}

// Each 64-element chunk: element l in the low nibble of byte l, element l+32 in the high.
void pack_q4_k(const uint8_t* L, BlockQ4_K* y) {
    for (int j = 0; j < kQKK; j += 64) {
        uint8_t* q = y->qs + j / 2;
        for (int l = 0; l < 32; ++l) q[l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 4));
    }
}

void q4_k_block(const float* x, BlockQ4_K* y) {
    uint8_t L[kQKK];
    k45_fit(x, 15, {-1.f, 0.1f, 20, false}, L, &y->d, &y->dmin, y->scales);
    pack_q4_k(L, y);
}

void q4_k_block_weighted(const float* x, const float* qw, BlockQ4_K* y) {
    uint8_t L[kQKK];
    k45_fit_weighted(x, qw, 15, false, L, &y->d, &y->dmin, y->scales);
    pack_q4_k(L, y);
}

// As Q4_K, plus the fifth bit of element l of sub-block s in bit s of qh[l].
void pack_q5_k(const uint8_t* L, BlockQ5_K* y) {
    std::memset(y->qh, 0, sizeof y->qh);
    for (int j = 0; j < kQKK; j += 64) {
        uint8_t* q = y->qs + j / 2;
        const int s = j / 32;
        for (int l = 0; l < 32; ++l) {
            const int lo = L[j + l];
            const int hi = L[j + l + 32];
            if (lo > 15) y->qh[l] |= static_cast<uint8_t>(1u << s);
            if (hi > 15) y->qh[l] |= static_cast<uint8_t>(1u << (s + 1));
            q[l] = static_cast<uint8_t>((lo & 0xF) | ((hi & 0xF) << 4));
        }
    }
}

void q5_k_block(const float* x, BlockQ5_K* y) {
    uint8_t L[kQKK];
    k45_fit(x, 31, {-0.5f, 0.1f, 15, false}, L, &y->d, &y->dmin, y->scales);
    pack_q5_k(L, y);
}

void q5_k_block_weighted(const float* x, const float* qw, BlockQ5_K* y) {
    uint8_t L[kQKK];
    k45_fit_weighted(x, qw, 31, true, L, &y->d, &y->dmin, y->scales);
    pack_q5_k(L, y);
}

// Q6_K: low 4 bits of element l + 32g of a half (g = 0..3) in ql[l + 32*(g&1)] (low nibble for
// g < 2), top 2 bits in bits 2g..2g+1 of qh[l].
void pack_q6_k(const int8_t* L, BlockQ6_K* y) {
    uint8_t* ql = y->ql;
    uint8_t* qh = y->qh;
    for (int j = 0; j < kQKK; j += 128) {
        for (int l = 0; l < 32; ++l) {
            const int q1 = L[j + l];
            const int q2 = L[j + l + 32];
            const int q3 = L[j + l + 64];
            const int q4 = L[j + l + 96];
            ql[l] = static_cast<uint8_t>((q1 & 0xF) | ((q3 & 0xF) << 4));
            ql[l + 32] = static_cast<uint8_t>((q2 & 0xF) | ((q4 & 0xF) << 4));
            qh[l] = static_cast<uint8_t>((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) |
                                         ((q4 >> 4) << 6));
        }
        ql += 64;
        qh += 32;
    }
}

// qw: importance weights of the 256 elements, or null for the unweighted reference (which
// weighs x^2); ggml's weighted Q6_K passes them to the sub-block fits as they are.
void q6_k_block(const float* x, const float* qw, BlockQ6_K* y) {
    int8_t L[kQKK];
    float scales[kQKK / kSub16];
    float max_scale = 0;  // signed: the scale of largest magnitude
    float max_abs_scale = 0;
    for (int j = 0; j < kQKK / kSub16; ++j) {
        scales[j] = fit_scale_qx(kSub16, 32, x + kSub16 * j, L + kSub16 * j, qw ? qw + kSub16 * j : nullptr);
        const float abs_scale = std::fabs(scales[j]);
        if (abs_scale > max_abs_scale) {
            max_abs_scale = abs_scale;
            max_scale = scales[j];
        }
    }
    if (max_abs_scale < kGroupMaxEps) {
        std::memset(y, 0, sizeof *y);
        y->d = fp32_to_fp16(0.f);
        return;
    }
    const float iscale = -128.f / max_scale;
    y->d = fp32_to_fp16(1 / iscale);
    for (int j = 0; j < kQKK / kSub16; ++j) {
        y->scales[j] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[j])));
    }
    for (int j = 0; j < kQKK / kSub16; ++j) {
        const float d = fp16_to_fp32(y->d) * static_cast<float>(y->scales[j]);
        if (d == 0.0f) continue;
        for (int i = 0; i < kSub16; ++i) {
            const int l = nearest_int(x[kSub16 * j + i] / d);
            L[kSub16 * j + i] = static_cast<int8_t>(std::clamp(l, -32, 31) + 32);
        }
    }
    pack_q6_k(L, y);
}

void q6_k_block(const float* x, BlockQ6_K* y) { q6_k_block(x, nullptr, y); }

void q6_k_block_weighted(const float* x, const float* qw, BlockQ6_K* y) { q6_k_block(x, qw, y); }

template <class Block, void (*kBlock)(const float*, Block*)>
void quantize_blocks(const float* src, void* dst, int64_t n) {
    auto* y = static_cast<Block*>(dst);
    for (int64_t b = 0; b < n / kQKK; ++b) kBlock(src + b * kQKK, y + b);
}

template <class Block, void (*kBlock)(const float*, const float*, Block*)>
void quantize_blocks_weighted(const float* src, void* dst, int64_t n, const float* qw) {
    auto* y = static_cast<Block*>(dst);
    for (int64_t b = 0; b < n / kQKK; ++b) kBlock(src + b * kQKK, qw + b * kQKK, y + b);
}

}  // namespace

void from_float_q2_K(const float* src, void* dst, int64_t n) {
    quantize_blocks<BlockQ2_K, q2_k_block>(src, dst, n);
}

void from_float_q3_K(const float* src, void* dst, int64_t n) {
    quantize_blocks<BlockQ3_K, q3_k_block>(src, dst, n);
}

void from_float_q4_K(const float* src, void* dst, int64_t n) {
    quantize_blocks<BlockQ4_K, q4_k_block>(src, dst, n);
}

void from_float_q5_K(const float* src, void* dst, int64_t n) {
    quantize_blocks<BlockQ5_K, q5_k_block>(src, dst, n);
}

void from_float_q6_K(const float* src, void* dst, int64_t n) {
    quantize_blocks<BlockQ6_K, q6_k_block>(src, dst, n);
}

void from_float_weighted_q2_K(const float* src, void* dst, int64_t n, const float* weights) {
    quantize_blocks_weighted<BlockQ2_K, q2_k_block_weighted>(src, dst, n, weights);
}

void from_float_weighted_q3_K(const float* src, void* dst, int64_t n, const float* weights) {
    quantize_blocks_weighted<BlockQ3_K, q3_k_block_weighted>(src, dst, n, weights);
}

void from_float_weighted_q4_K(const float* src, void* dst, int64_t n, const float* weights) {
    quantize_blocks_weighted<BlockQ4_K, q4_k_block_weighted>(src, dst, n, weights);
}

void from_float_weighted_q5_K(const float* src, void* dst, int64_t n, const float* weights) {
    quantize_blocks_weighted<BlockQ5_K, q5_k_block_weighted>(src, dst, n, weights);
}

void from_float_weighted_q6_K(const float* src, void* dst, int64_t n, const float* weights) {
    quantize_blocks_weighted<BlockQ6_K, q6_k_block_weighted>(src, dst, n, weights);
}

}  // namespace sobre::ref
