// Scalar reference quantizers for the k-quants (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K), without
// importance weights. ref: ggml src/ggml-quants.c, quantize_row_q{2,3,4,5,6}_K_ref and the
// helpers make_qkx2_quants, make_q3_quants and make_qx_quants.
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

namespace sobre::ref {
namespace {

constexpr int kSub16 = 16;              // elements per sub-block of Q2_K, Q3_K, Q6_K
constexpr int kSub32 = 32;              // elements per sub-block of Q4_K, Q5_K
constexpr float kGroupMaxEps = 1e-15f;  // ggml's GROUP_MAX_EPS: a smaller max is an all-zero group

// Rounds half to even through the float mantissa, bit for bit as ggml's nearest_int (also for
// out-of-range inputs, which ggml does not reject in release builds).
int nearest_int(float v) {
    const float shifted = v + 12582912.0f;  // 1.5 * 2^23: the integer lands in the low mantissa
    return static_cast<int>(float_to_bits(shifted) & 0x7fffffu) - 0x400000;
}

// The element of largest magnitude, with its sign (the first wins a tie); *amax gets |it|.
float signed_max(const float* x, int n, float* amax) {
    float max = 0.0f;
    *amax = 0.0f;
    for (int i = 0; i < n; ++i) {
        const float ax = std::fabs(x[i]);
        if (ax > *amax) {
            *amax = ax;
            max = x[i];
        }
    }
    return max;
}

// Search settings of fit_scale_min (ggml passes them as rmin, rdelta, nstep, use_mad).
struct ScanParams {
    float rmin;
    float rdelta;
    int nstep;
    bool use_mad;  // weigh absolute errors instead of squared ones
};

float weighted_error(int n, float scale, float min, const float* x, const float* w,
                     const uint8_t* L, bool use_mad) {
    float error = 0;
    for (int i = 0; i < n; ++i) {
        float diff = scale * static_cast<float>(L[i]) + min - x[i];
        diff = use_mad ? std::fabs(diff) : diff * diff;
        error += w[i] * diff;
    }
    return error;
}

// Fits x ~= scale * L + min with L in [0, nmax] and min <= 0, minimising the weighted error:
// starts from the min/max scale, then tries nstep + 1 nearby scales, each followed by a
// weighted least-squares solve for scale and min. Returns scale; *neg_min gets -min.
// REQUIRES: n <= 32. ref: make_qkx2_quants.
float fit_scale_min(int n, int nmax, const float* x, const float* w, uint8_t* L, float* neg_min,
                    ScanParams p) {
    float min = x[0];
    float max = x[0];
    float sum_w = w[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; ++i) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        std::fill(L, L + n, uint8_t{0});
        *neg_min = -min;
        return 0.0f;
    }
    float iscale = static_cast<float>(nmax) / (max - min);
    float scale = 1 / iscale;
    for (int i = 0; i < n; ++i) {
        L[i] = static_cast<uint8_t>(std::clamp(nearest_int(iscale * (x[i] - min)), 0, nmax));
    }
    float best_error = weighted_error(n, scale, min, x, w, L, p.use_mad);
    uint8_t aux[kSub32];
    for (int is = 0; is <= p.nstep; ++is) {
        iscale =
            (p.rmin + p.rdelta * static_cast<float>(is) + static_cast<float>(nmax)) / (max - min);
        float sum_l = 0;
        float sum_l2 = 0;
        float sum_xl = 0;
        for (int i = 0; i < n; ++i) {
            const int l = std::clamp(nearest_int(iscale * (x[i] - min)), 0, nmax);
            aux[i] = static_cast<uint8_t>(l);
            const float fl = static_cast<float>(l);
            sum_l += w[i] * fl;
            sum_l2 += w[i] * fl * fl;
            sum_xl += w[i] * fl * x[i];
        }
        const float D = sum_w * sum_l2 - sum_l * sum_l;
        if (!(D > 0)) continue;
        float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
        float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
        if (this_min > 0) {
            this_min = 0;
            this_scale = sum_xl / sum_l2;
        }
        const float error = weighted_error(n, this_scale, this_min, x, w, aux, p.use_mad);
        if (error < best_error) {
            std::copy(aux, aux + n, L);
            best_error = error;
            scale = this_scale;
            min = this_min;
        }
    }
    *neg_min = -min;
    return scale;
}

// Fits x ~= scale * (L - nmax) with L in [0, 2 nmax), weights x^2, by coordinate descent on
// the codes (up to 5 sweeps). Returns the signed scale. ref: make_q3_quants(do_rmse = true).
float fit_scale_q3(int n, int nmax, const float* x, int8_t* L) {
    float amax = 0;
    const float max = signed_max(x, n, &amax);
    if (amax < kGroupMaxEps) {
        std::fill(L, L + n, int8_t{0});
        return 0.0f;
    }
    const float iscale = static_cast<float>(-nmax) / max;
    float sumlx = 0;
    float suml2 = 0;
    for (int i = 0; i < n; ++i) {
        const int l = std::clamp(nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = static_cast<int8_t>(l);
        const float w = x[i] * x[i];
        sumlx += w * x[i] * static_cast<float>(l);
        suml2 += w * static_cast<float>(l) * static_cast<float>(l);
    }
    for (int itry = 0; itry < 5; ++itry) {
        int n_changed = 0;
        for (int i = 0; i < n; ++i) {
            const float w = x[i] * x[i];
            const float li = static_cast<float>(L[i]);
            float slx = sumlx - w * x[i] * li;
            if (!(slx > 0)) continue;
            float sl2 = suml2 - w * li * li;
            const int new_l = std::clamp(nearest_int(x[i] * sl2 / slx), -nmax, nmax - 1);
            if (new_l == L[i]) continue;
            const float nl = static_cast<float>(new_l);
            slx += w * x[i] * nl;
            sl2 += w * nl * nl;
            if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                L[i] = static_cast<int8_t>(new_l);
                sumlx = slx;
                suml2 = sl2;
                ++n_changed;
            }
        }
        if (n_changed == 0) break;
    }
    for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(L[i] + nmax);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

// Sums of the x^2-weighted fit of x ~= (1 / iscale) * l over the codes l that iscale rounds to.
struct Q6Sums {
    float sumlx = 0;
    float suml2 = 0;
};

Q6Sums q6_sums(int n, int nmax, float iscale, const float* x, int8_t* L) {
    Q6Sums s;
    for (int i = 0; i < n; ++i) {
        const int l = std::clamp(nearest_int(iscale * x[i]), -nmax, nmax - 1);
        if (L != nullptr) L[i] = static_cast<int8_t>(l + nmax);
        const float w = x[i] * x[i];
        s.sumlx += w * x[i] * static_cast<float>(l);
        s.suml2 += w * static_cast<float>(l) * static_cast<float>(l);
    }
    return s;
}

// Fits x ~= scale * (L - nmax) with L in [0, 2 nmax), weights x^2, trying 18 scales around
// nmax / max. Returns the signed scale. ref: make_qx_quants(rmse_type = 1, qw = NULL).
float fit_scale_qx(int n, int nmax, const float* x, int8_t* L) {
    float amax = 0;
    const float max = signed_max(x, n, &amax);
    if (amax < kGroupMaxEps) {
        std::fill(L, L + n, int8_t{0});
        return 0.0f;
    }
    const Q6Sums first = q6_sums(n, nmax, static_cast<float>(-nmax) / max, x, L);
    float scale = first.suml2 != 0.0f ? first.sumlx / first.suml2 : 0.0f;
    float best = scale * first.sumlx;
    for (int is = -9; is <= 9; ++is) {
        if (is == 0) continue;
        const float iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(is)) / max;
        const Q6Sums s = q6_sums(n, nmax, iscale, x, nullptr);
        if (s.suml2 > 0 && s.sumlx * s.sumlx > best * s.suml2) {
            q6_sums(n, nmax, iscale, x, L);
            scale = s.sumlx / s.suml2;
            best = scale * s.sumlx;
        }
    }
    return scale;
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
    // Requantize against the rounded scales; a sub-block whose scale rounded to 0 keeps the
    // codes of the fit, as in ggml.
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

// The shared part of Q4_K and Q5_K: fits the 8 sub-blocks, stores d, dmin and the packed
// scales, and leaves the codes (0..nmax) in L.
void k45_fit(const float* x, int nmax, ScanParams p, uint8_t* L, uint16_t* d16, uint16_t* dmin16,
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
    for (int j = 0; j < kQKK / kSub32; ++j) {
        const ScaleMin sm = k4_scale_min(j, packed);
        const float d = fp16_to_fp32(*d16) * static_cast<float>(sm.scale);
        if (d == 0.0f) continue;
        const float dm = fp16_to_fp32(*dmin16) * static_cast<float>(sm.min);
        for (int i = 0; i < kSub32; ++i) {
            const int l = nearest_int((x[kSub32 * j + i] + dm) / d);
            L[kSub32 * j + i] = static_cast<uint8_t>(std::clamp(l, 0, nmax));
        }
    }
}

void q4_k_block(const float* x, BlockQ4_K* y) {
    uint8_t L[kQKK];
    k45_fit(x, 15, {-1.f, 0.1f, 20, false}, L, &y->d, &y->dmin, y->scales);
    // Each 64-element chunk: element l in the low nibble of byte l, element l+32 in the high.
    for (int j = 0; j < kQKK; j += 64) {
        uint8_t* q = y->qs + j / 2;
        for (int l = 0; l < 32; ++l) q[l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 4));
    }
}

void q5_k_block(const float* x, BlockQ5_K* y) {
    uint8_t L[kQKK];
    k45_fit(x, 31, {-0.5f, 0.1f, 15, false}, L, &y->d, &y->dmin, y->scales);
    // As Q4_K, plus the fifth bit of element l of sub-block s in bit s of qh[l].
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

void q6_k_block(const float* x, BlockQ6_K* y) {
    int8_t L[kQKK];
    float scales[kQKK / kSub16];
    float max_scale = 0;  // signed: the scale of largest magnitude
    float max_abs_scale = 0;
    for (int j = 0; j < kQKK / kSub16; ++j) {
        scales[j] = fit_scale_qx(kSub16, 32, x + kSub16 * j, L + kSub16 * j);
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

template <class Block, void (*kBlock)(const float*, Block*)>
void quantize_blocks(const float* src, void* dst, int64_t n) {
    auto* y = static_cast<Block*>(dst);
    for (int64_t b = 0; b < n / kQKK; ++b) kBlock(src + b * kQKK, y + b);
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

}  // namespace sobre::ref
