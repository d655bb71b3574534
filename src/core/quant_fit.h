// The scale searches the reference quantizers share (core-internal). ref: ggml
// src/ggml-quants.c make_qkx2_quants / make_qkx3_quants, make_q3_quants, make_qx_quants and
// make_qp_quants. Each keeps ggml's float precision and operand order exactly (see
// quant_kquants.cc): the codes they pick decide the bytes llama-quantize writes.
#pragma once

#include <cstdint>

#include "core/fp16.h"

namespace sobre::ref::fit {

constexpr float kGroupMaxEps = 1e-15f;  // ggml's GROUP_MAX_EPS: a smaller max is an all-zero group

// Rounds half to even through the float mantissa, bit for bit as ggml's nearest_int (also for
// out-of-range inputs, which ggml does not reject in release builds).
inline int nearest_int(float v) {
    const float shifted = v + 12582912.0f;  // 1.5 * 2^23: the integer lands in the low mantissa
    return static_cast<int>(float_to_bits(shifted) & 0x7fffffu) - 0x400000;
}

// The element of largest magnitude, with its sign (the first wins a tie); *amax gets |it|.
float signed_max(const float* x, int n, float* amax);

// Search settings of fit_scale_min (ggml passes them as rmin, rdelta, nstep, use_mad).
struct ScanParams {
    float rmin;
    float rdelta;
    int nstep;
    bool use_mad;  // weigh absolute errors instead of squared ones
};

// Fits x ~= scale * L + min with L in [0, nmax] and min <= 0, minimising the w-weighted error:
// starts from the min/max scale, then tries nstep + 1 nearby scales, each followed by a
// weighted least-squares solve for scale and min. Returns scale; *neg_min gets -min.
// REQUIRES: n <= 32, nstep >= 1. ref: make_qkx2_quants, and make_qkx3_quants with weights
// (the two agree whenever weights are given).
float fit_scale_min(int n, int nmax, const float* x, const float* w, uint8_t* L, float* neg_min,
                    ScanParams p);

// Fits x ~= scale * (L - nmax) with L in [0, 2 nmax), weights x^2, by coordinate descent on
// the codes (up to 5 sweeps). Returns the signed scale. ref: make_q3_quants(do_rmse = true).
float fit_scale_q3(int n, int nmax, const float* x, int8_t* L);

// Fits x ~= scale * (L - nmax) with L in [0, 2 nmax), weights qw (x^2 when qw is null),
// trying 18 scales around nmax / max. Returns the signed scale.
// ref: make_qx_quants(rmse_type = 1).
float fit_scale_qx(int n, int nmax, const float* x, int8_t* L, const float* qw);

// Fits non-negative x ~= scale * L with L in [0, nmax] under weights qw: 9 scales around
// nmax / max, then up to 5 sweeps of coordinate descent on the codes. Returns the scale.
// ref: make_qp_quants (the super-block scales of the importance-weighted k-quants).
float fit_scale_qp(int n, int nmax, const float* x, uint8_t* L, const float* qw);

}  // namespace sobre::ref::fit
