// Scalar reference dot products: one weight row x one activation row in the weight's
// vec_dot_type. ref: ggml-cpu/quants.c (ggml_vec_dot_*_generic) and ggml-cpu/vec.cpp.
// The arithmetic follows ggml's generic code step for step (integer sums per block or
// sub-block, then fp16 scales converted to float and multiplied in the same association, and
// the same float accumulation order), so the scalar path reproduces llama.cpp's CPU logits
// closely (bit for bit with ggml's generic build, barring FMA contraction there); the SIMD
// levels are checked against these functions.
#include "core/fp16.h"
#include "core/quant_blocks.h"
#include "kernels/cpu/kernel_table.h"
#include "kernels/cpu/ref/ref.h"

namespace sobre::kernels::ref {
namespace {

constexpr int kHalf = kQK / 2;
constexpr int kLanes = 8;

uint32_t load_qh(const uint8_t* qh) {
    return static_cast<uint32_t>(qh[0]) | (static_cast<uint32_t>(qh[1]) << 8) |
           (static_cast<uint32_t>(qh[2]) << 16) | (static_cast<uint32_t>(qh[3]) << 24);
}

// ---------------------------------------------------------------------------------------------
// Plain types: float products accumulated in double, as ggml_vec_dot_f32/f16/bf16 do without
// SIMD.

float dot_f32(int64_t n, const void* w, const void* a) noexcept {
    const auto* x = static_cast<const float*>(w);
    const auto* y = static_cast<const float*>(a);
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * y[i]);
    return static_cast<float>(sum);
}

float dot_f16(int64_t n, const void* w, const void* a) noexcept {
    const auto* x = static_cast<const uint16_t*>(w);
    const auto* y = static_cast<const uint16_t*>(a);
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        sum += static_cast<double>(fp16_to_fp32(x[i]) * fp16_to_fp32(y[i]));
    }
    return static_cast<float>(sum);
}

float dot_bf16(int64_t n, const void* w, const void* a) noexcept {
    const auto* x = static_cast<const uint16_t*>(w);
    const auto* y = static_cast<const uint16_t*>(a);
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        sum += static_cast<double>(bf16_to_fp32(x[i]) * bf16_to_fp32(y[i]));
    }
    return static_cast<float>(sum);
}

// ---------------------------------------------------------------------------------------------
// Legacy quants x q8_0 / q8_1: an exact integer sum per 32-element block, then one float
// multiply-add per block.

float dot_q4_0(int64_t n, const void* w, const void* a) noexcept {
    const auto* x = static_cast<const BlockQ4_0*>(w);
    const auto* y = static_cast<const BlockQ8_0*>(a);
    float sum = 0.0f;
    for (int64_t b = 0; b < n / kQK; ++b) {
        int sumi = 0;
        for (int j = 0; j < kHalf; ++j) {
            sumi += ((x[b].qs[j] & 0x0f) - 8) * y[b].qs[j];
            sumi += ((x[b].qs[j] >> 4) - 8) * y[b].qs[j + kHalf];
        }
        // ggml's association: (sumi * d_x) * d_y.
        sum += static_cast<float>(sumi) * fp16_to_fp32(x[b].d) * fp16_to_fp32(y[b].d);
    }
    return sum;
}

// The offset m contributes m * sum(y) = m * s, with s precomputed by the q8_1 quantizer.
float dot_q4_1(int64_t n, const void* w, const void* a) noexcept {
    const auto* x = static_cast<const BlockQ4_1*>(w);
    const auto* y = static_cast<const BlockQ8_1*>(a);
    float sum = 0.0f;
    for (int64_t b = 0; b < n / kQK; ++b) {
        int sumi = 0;
        for (int j = 0; j < kHalf; ++j) {
            sumi += (x[b].qs[j] & 0x0f) * y[b].qs[j];
            sumi += (x[b].qs[j] >> 4) * y[b].qs[j + kHalf];
        }
        const float dd = fp16_to_fp32(x[b].d) * fp16_to_fp32(y[b].d);
        sum += dd * static_cast<float>(sumi) + fp16_to_fp32(x[b].m) * fp16_to_fp32(y[b].s);
    }
    return sum;
}

float dot_q5_0(int64_t n, const void* w, const void* a) noexcept {
    const auto* x = static_cast<const BlockQ5_0*>(w);
    const auto* y = static_cast<const BlockQ8_0*>(a);
    float sum = 0.0f;
    for (int64_t b = 0; b < n / kQK; ++b) {
        const uint32_t qh = load_qh(x[b].qh);
        int sumi = 0;
        for (int j = 0; j < kHalf; ++j) {
            const int hi0 = static_cast<int>((qh >> j) & 1u) << 4;
            const int hi1 = static_cast<int>((qh >> (j + kHalf)) & 1u) << 4;
            sumi += (((x[b].qs[j] & 0x0f) | hi0) - 16) * y[b].qs[j];
            sumi += (((x[b].qs[j] >> 4) | hi1) - 16) * y[b].qs[j + kHalf];
        }
        sum += (fp16_to_fp32(x[b].d) * fp16_to_fp32(y[b].d)) * static_cast<float>(sumi);
    }
    return sum;
}

float dot_q5_1(int64_t n, const void* w, const void* a) noexcept {
    const auto* x = static_cast<const BlockQ5_1*>(w);
    const auto* y = static_cast<const BlockQ8_1*>(a);
    float sum = 0.0f;
    for (int64_t b = 0; b < n / kQK; ++b) {
        const uint32_t qh = load_qh(x[b].qh);
        int sumi = 0;
        for (int j = 0; j < kHalf; ++j) {
            const int hi0 = static_cast<int>((qh >> j) & 1u) << 4;
            const int hi1 = static_cast<int>((qh >> (j + kHalf)) & 1u) << 4;
            sumi += ((x[b].qs[j] & 0x0f) | hi0) * y[b].qs[j];
            sumi += ((x[b].qs[j] >> 4) | hi1) * y[b].qs[j + kHalf];
        }
        const float dd = fp16_to_fp32(x[b].d) * fp16_to_fp32(y[b].d);
        sum += dd * static_cast<float>(sumi) + fp16_to_fp32(x[b].m) * fp16_to_fp32(y[b].s);
    }
    return sum;
}

float dot_q8_0(int64_t n, const void* w, const void* a) noexcept {
    const auto* x = static_cast<const BlockQ8_0*>(w);
    const auto* y = static_cast<const BlockQ8_0*>(a);
    float sum = 0.0f;
    for (int64_t b = 0; b < n / kQK; ++b) {
        int sumi = 0;
        for (int j = 0; j < kQK; ++j) sumi += x[b].qs[j] * y[b].qs[j];
        sum += static_cast<float>(sumi) * (fp16_to_fp32(x[b].d) * fp16_to_fp32(y[b].d));
    }
    return sum;
}

// ---------------------------------------------------------------------------------------------
// K-quants x q8_K.

// Q2_K keeps one float sum: per super-block, dall * sum(scale * q * y) - dmin * sum(min *
// bsum), where the min term uses the activation's per-16 bsums instead of touching y again.
float dot_q2_K(int64_t n, const void* w, const void* a) noexcept {
    const auto* x = static_cast<const BlockQ2_K*>(w);
    const auto* y = static_cast<const BlockQ8_K*>(a);
    float sum = 0.0f;
    for (int64_t b = 0; b < n / kQKK; ++b) {
        const uint8_t* sc = x[b].scales;
        int summs = 0;
        for (int g = 0; g < 16; ++g) summs += y[b].bsums[g] * (sc[g] >> 4);
        int isum = 0;
        const int8_t* q8 = y[b].qs;
        for (int half = 0; half < 2; ++half) {
            const uint8_t* q2 = x[b].qs + 32 * half;
            for (int j = 0; j < 4; ++j, q8 += 32) {
                for (int h = 0; h < 2; ++h) {
                    int isuml = 0;
                    for (int l = 16 * h; l < 16 * h + 16; ++l) {
                        isuml += q8[l] * ((q2[l] >> (2 * j)) & 3);
                    }
                    isum += (sc[8 * half + 2 * j + h] & 0x0f) * isuml;
                }
            }
        }
        const float dall = y[b].d * fp16_to_fp32(x[b].d);
        const float dmin = y[b].d * fp16_to_fp32(x[b].dmin);
        sum += dall * static_cast<float>(isum) - dmin * static_cast<float>(summs);
    }
    return sum;
}

// Q3_K..Q6_K follow ggml's generic code, which keeps eight float partial sums (element i of a
// super-block goes to lane i % 8) across the whole row and adds them only at the end. Keeping
// the lanes keeps the float rounding the same as ggml's generic (non-SIMD) build.
struct Lanes {
    float sums[kLanes] = {};

    // Adds d * sum over the super-block of scale16[i / 16] * q[i] * q8[i], lane by lane.
    void add_block(const int8_t* q, const int8_t* q8, const int* scale16, float d) {
        int32_t aux32[kLanes] = {};
        for (int i = 0; i < kQKK; ++i) {
            // An int16 product, as ggml's aux16: |q| <= 32 and |q8| <= 128 keep it exact.
            const auto p = static_cast<int16_t>(q[i] * q8[i]);
            aux32[i % kLanes] += scale16[i / 16] * p;
        }
        for (int l = 0; l < kLanes; ++l) sums[l] += d * static_cast<float>(aux32[l]);
    }

    float finish(float sum) const {
        for (float s : sums) sum += s;
        return sum;
    }
};

// Expands one Q3_K super-block to signed codes in -4..3 and its 16 scales to -32..31.
void unpack_q3_K(const BlockQ3_K& x, int8_t* q, int* scale16) {
    for (int half = 0; half < 2; ++half) {
        const uint8_t* q3 = x.qs + 32 * half;
        for (int j = 0; j < 4; ++j) {
            const unsigned m = 1u << (4 * half + j);
            for (int l = 0; l < 32; ++l) {
                const int v = ((q3[l] >> (2 * j)) & 3) - ((x.hmask[l] & m) ? 0 : 4);
                *q++ = static_cast<int8_t>(v);
            }
        }
    }
    for (int g = 0; g < 16; ++g) scale16[g] = q3_k_scale(x.scales, g) - 32;
}

float dot_q3_K(int64_t n, const void* w, const void* a) noexcept {
    const auto* x = static_cast<const BlockQ3_K*>(w);
    const auto* y = static_cast<const BlockQ8_K*>(a);
    Lanes lanes;
    for (int64_t b = 0; b < n / kQKK; ++b) {
        int8_t q[kQKK];
        int scale16[16];
        unpack_q3_K(x[b], q, scale16);
        lanes.add_block(q, y[b].qs, scale16, fp16_to_fp32(x[b].d) * y[b].d);
    }
    return lanes.finish(0.0f);
}

// Expands a Q4_K/Q5_K super-block to codes 0..15 (0..31 with Q5_K's qh) and its eight 6-bit
// scales to one per 16 elements; returns sum over 16-groups of bsum * min (the min term).
int unpack_q45_K(const uint8_t* scales, const uint8_t* qs, const uint8_t* qh, const int16_t* bsums,
                 int8_t* q, int* scale16) {
    int summ = 0;
    for (int s = 0; s < 8; ++s) {
        const ScaleMin sm = k4_scale_min(s, scales);
        scale16[2 * s] = sm.scale;
        scale16[2 * s + 1] = sm.scale;
        summ += (bsums[2 * s] + bsums[2 * s + 1]) * sm.min;
        const uint8_t* q4 = qs + 32 * (s / 2);
        for (int l = 0; l < 32; ++l) {
            int v = (q4[l] >> (4 * (s % 2))) & 0x0f;
            if (qh != nullptr && (qh[l] & (1u << s))) v += 16;
            *q++ = static_cast<int8_t>(v);
        }
    }
    return summ;
}

// The min terms are subtracted from a separate float sum before the lanes are added, as ggml.
float dot_q4_K(int64_t n, const void* w, const void* a) noexcept {
    const auto* x = static_cast<const BlockQ4_K*>(w);
    const auto* y = static_cast<const BlockQ8_K*>(a);
    Lanes lanes;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / kQKK; ++b) {
        int8_t q[kQKK];
        int scale16[16];
        const int summ = unpack_q45_K(x[b].scales, x[b].qs, nullptr, y[b].bsums, q, scale16);
        lanes.add_block(q, y[b].qs, scale16, fp16_to_fp32(x[b].d) * y[b].d);
        sum -= fp16_to_fp32(x[b].dmin) * y[b].d * static_cast<float>(summ);
    }
    return lanes.finish(sum);
}

float dot_q5_K(int64_t n, const void* w, const void* a) noexcept {
    const auto* x = static_cast<const BlockQ5_K*>(w);
    const auto* y = static_cast<const BlockQ8_K*>(a);
    Lanes lanes;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / kQKK; ++b) {
        int8_t q[kQKK];
        int scale16[16];
        const int summ = unpack_q45_K(x[b].scales, x[b].qs, x[b].qh, y[b].bsums, q, scale16);
        lanes.add_block(q, y[b].qs, scale16, fp16_to_fp32(x[b].d) * y[b].d);
        sum -= fp16_to_fp32(x[b].dmin) * y[b].d * static_cast<float>(summ);
    }
    return lanes.finish(sum);
}

// Expands one Q6_K super-block to signed codes in -32..31 (layout: core/quant_ref.cc).
void unpack_q6_K(const BlockQ6_K& x, int8_t* q, int* scale16) {
    for (int half = 0; half < 2; ++half) {
        const uint8_t* ql = x.ql + 64 * half;
        const uint8_t* qh = x.qh + 32 * half;
        for (int g = 0; g < 4; ++g) {
            for (int l = 0; l < 32; ++l) {
                const int low = (ql[l + 32 * (g & 1)] >> (4 * (g / 2))) & 0x0f;
                *q++ = static_cast<int8_t>((low | (((qh[l] >> (2 * g)) & 3) << 4)) - 32);
            }
        }
    }
    for (int g = 0; g < 16; ++g) scale16[g] = x.scales[g];
}

float dot_q6_K(int64_t n, const void* w, const void* a) noexcept {
    const auto* x = static_cast<const BlockQ6_K*>(w);
    const auto* y = static_cast<const BlockQ8_K*>(a);
    Lanes lanes;
    for (int64_t b = 0; b < n / kQKK; ++b) {
        int8_t q[kQKK];
        int scale16[16];
        unpack_q6_K(x[b], q, scale16);
        lanes.add_block(q, y[b].qs, scale16, fp16_to_fp32(x[b].d) * y[b].d);
    }
    return lanes.finish(0.0f);
}

constexpr size_t idx(DType t) { return static_cast<size_t>(t); }

}  // namespace

void fill(CpuKernels& k) {
    k.quantize_act[idx(DType::kF32)] = quantize_act_f32;
    k.quantize_act[idx(DType::kF16)] = quantize_act_f16;
    k.quantize_act[idx(DType::kBF16)] = quantize_act_bf16;
    k.quantize_act[idx(DType::kQ8_0)] = quantize_act_q8_0;
    k.quantize_act[idx(DType::kQ8_1)] = quantize_act_q8_1;
    k.quantize_act[idx(DType::kQ8_K)] = quantize_act_q8_K;

    k.vec_dot[idx(DType::kF32)] = dot_f32;
    k.vec_dot[idx(DType::kF16)] = dot_f16;
    k.vec_dot[idx(DType::kBF16)] = dot_bf16;
    k.vec_dot[idx(DType::kQ4_0)] = dot_q4_0;
    k.vec_dot[idx(DType::kQ4_1)] = dot_q4_1;
    k.vec_dot[idx(DType::kQ5_0)] = dot_q5_0;
    k.vec_dot[idx(DType::kQ5_1)] = dot_q5_1;
    k.vec_dot[idx(DType::kQ8_0)] = dot_q8_0;
    k.vec_dot[idx(DType::kQ2_K)] = dot_q2_K;
    k.vec_dot[idx(DType::kQ3_K)] = dot_q3_K;
    k.vec_dot[idx(DType::kQ4_K)] = dot_q4_K;
    k.vec_dot[idx(DType::kQ5_K)] = dot_q5_K;
    k.vec_dot[idx(DType::kQ6_K)] = dot_q6_K;

    k.ops.rms_norm = rms_norm;
    k.ops.softmax = softmax;
    k.ops.swiglu = swiglu;
    k.ops.axpy_f16 = axpy_f16;
}

}  // namespace sobre::kernels::ref
