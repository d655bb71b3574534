// Scalar reference kernels shared by the ref/ translation units. Every ISA level falls back to
// these (ref::fill runs first), and the tests check every other level against them.
// Included only by ref/ TUs, so the inline helpers below are never compiled with ISA flags.
#pragma once

#include <cstdint>

namespace sobre::kernels::ref {

// Activation quantizers, one per vec_dot_type: f32 activations -> the layout the dot product of
// that type reads. REQUIRES: n is a multiple of the activation type's block size. Never throw.
void quantize_act_f32(const float* src, void* dst, int64_t n) noexcept;
void quantize_act_f16(const float* src, void* dst, int64_t n) noexcept;
void quantize_act_bf16(const float* src, void* dst, int64_t n) noexcept;
void quantize_act_q8_0(const float* src, void* dst, int64_t n) noexcept;
void quantize_act_q8_1(const float* src, void* dst, int64_t n) noexcept;
void quantize_act_q8_K(const float* src, void* dst, int64_t n) noexcept;

// Returns the 6-bit scale (0..63, before the -32 offset) of sub-block i (0..15) of a Q3_K
// super-block: low 4 bits in scales[0..7] (low nibbles for i < 8, high nibbles after), high
// 2 bits in scales[8..11], two bits per sub-block. ref: ggml dequantize_row_q3_K's kmask unpack.
inline int q3_k_scale(const uint8_t* scales, int i) {
    const int low = i < 8 ? scales[i] & 0x0f : scales[i - 8] >> 4;
    const int high = (scales[8 + i % 4] >> (2 * (i / 4))) & 3;
    return low | (high << 4);
}

// Unpacks the 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K super-block from its
// 12 scale bytes. Sub-blocks 0..3 sit in the low 6 bits of bytes 0..7; sub-blocks 4..7 keep
// their low 4 bits in bytes 8..11 and borrow the top 2 bits of bytes 0..7.
// ref: ggml get_scale_min_k4.
inline void k4_scale_min(int j, const uint8_t* scales, int* scale, int* min) {
    if (j < 4) {
        *scale = scales[j] & 63;
        *min = scales[j + 4] & 63;
    } else {
        *scale = (scales[j + 4] & 0x0f) | ((scales[j - 4] >> 6) << 4);
        *min = (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4);
    }
}

}  // namespace sobre::kernels::ref
