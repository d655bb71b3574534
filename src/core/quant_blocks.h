// Byte-exact layouts of the GGUF/ggml quantized blocks. Scales are stored as IEEE half bits.
// Only POD and constexpr here: per-ISA kernel translation units include this header (constexpr
// functions are implicitly inline, so ISA code calls them only in constant expressions or not at
// all; the SIMD kernels unpack scales with their own intrinsics).
#pragma once

#include <cstdint>

namespace sobre {

constexpr int kQK = 32;    // elements per block of the legacy quants (Q4_0 .. Q8_1)
constexpr int kQKK = 256;  // elements per super-block of the k-quants
constexpr int kKScaleBytes = 12;

// Q4_0: 4.5 bits per weight. x = d * (q - 8); low nibbles are elements 0..15, high 16..31.
struct BlockQ4_0 {
    uint16_t d;
    uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockQ4_0) == 18, "q4_0 block layout");

// Q4_1: 5 bits per weight. x = d * q + m.
struct BlockQ4_1 {
    uint16_t d;
    uint16_t m;
    uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockQ4_1) == 20, "q4_1 block layout");

// Q5_0: 5.5 bits per weight. x = d * (q - 16); bit 4 of element j is bit j of qh.
struct BlockQ5_0 {
    uint16_t d;
    uint8_t qh[4];
    uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockQ5_0) == 22, "q5_0 block layout");

// Q5_1: 6 bits per weight. x = d * q + m.
struct BlockQ5_1 {
    uint16_t d;
    uint16_t m;
    uint8_t qh[4];
    uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockQ5_1) == 24, "q5_1 block layout");

// Q8_0: 8.5 bits per weight. x = d * q.
struct BlockQ8_0 {
    uint16_t d;
    int8_t qs[kQK];
};
static_assert(sizeof(BlockQ8_0) == 34, "q8_0 block layout");

// Q8_1: activation format paired with Q4_1/Q5_1. s = d * sum(qs), so offsets fold into one product.
struct BlockQ8_1 {
    uint16_t d;
    uint16_t s;
    int8_t qs[kQK];
};
static_assert(sizeof(BlockQ8_1) == 36, "q8_1 block layout");

// Q2_K: 2.625 bits per weight. 16 sub-blocks of 16; scales[i] = scale (low 4 bits) | min (high 4).
// x = d * scale * q - dmin * min.
struct BlockQ2_K {
    uint8_t scales[kQKK / 16];
    uint8_t qs[kQKK / 4];
    uint16_t d;
    uint16_t dmin;
};
static_assert(sizeof(BlockQ2_K) == 84, "q2_K block layout");

// Q3_K: 3.4375 bits per weight. 16 sub-blocks of 16 with 6-bit signed scales packed in 12 bytes;
// hmask holds the third bit (set means +0, clear means -4). x = d * (scale - 32) * q.
struct BlockQ3_K {
    uint8_t hmask[kQKK / 8];
    uint8_t qs[kQKK / 4];
    uint8_t scales[12];
    uint16_t d;
};
static_assert(sizeof(BlockQ3_K) == 110, "q3_K block layout");

// Q4_K: 4.5 bits per weight. 8 sub-blocks of 32 with 6-bit scales and mins packed in 12 bytes.
// x = d * scale * q - dmin * min.
struct BlockQ4_K {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[kKScaleBytes];
    uint8_t qs[kQKK / 2];
};
static_assert(sizeof(BlockQ4_K) == 144, "q4_K block layout");

// Q5_K: 5.5 bits per weight. As Q4_K plus a fifth bit per element in qh.
struct BlockQ5_K {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[kKScaleBytes];
    uint8_t qh[kQKK / 8];
    uint8_t qs[kQKK / 2];
};
static_assert(sizeof(BlockQ5_K) == 176, "q5_K block layout");

// Q6_K: 6.5625 bits per weight. 16 sub-blocks of 16 with int8 scales. x = d * scale * (q - 32).
struct BlockQ6_K {
    uint8_t ql[kQKK / 2];
    uint8_t qh[kQKK / 4];
    int8_t scales[kQKK / 16];
    uint16_t d;
};
static_assert(sizeof(BlockQ6_K) == 210, "q6_K block layout");

// Q8_K: activation format paired with every k-quant. d is f32; bsums are sums of 16 qs each.
struct BlockQ8_K {
    float d;
    int8_t qs[kQKK];
    int16_t bsums[kQKK / 16];
};
static_assert(sizeof(BlockQ8_K) == 292, "q8_K block layout");

// Returns the 6-bit scale (0..63, before the -32 offset) of sub-block i (0..15) of a Q3_K
// super-block: low 4 bits in scales[0..7] (low nibbles for i < 8, high nibbles after), high
// 2 bits in scales[8..11], two bits per sub-block. ref: ggml dequantize_row_q3_K's kmask unpack.
constexpr int q3_k_scale(const uint8_t* scales, int i) {
    const int low = i < 8 ? scales[i] & 0x0f : scales[i - 8] >> 4;
    const int high = (scales[8 + i % 4] >> (2 * (i / 4))) & 3;
    return low | (high << 4);
}

// The 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K super-block.
struct ScaleMin {
    int scale;
    int min;
};

// Unpacks sub-block j's scale and min from the 12 scale bytes. Sub-blocks 0..3 sit in the low
// 6 bits of bytes 0..7; sub-blocks 4..7 keep their low 4 bits in bytes 8..11 and borrow the top
// 2 bits of bytes 0..7. ref: ggml get_scale_min_k4.
constexpr ScaleMin k4_scale_min(int j, const uint8_t* scales) {
    if (j < 4) return {scales[j] & 63, scales[j + 4] & 63};
    return {(scales[j + 4] & 0x0f) | ((scales[j - 4] >> 6) << 4),
            (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4)};
}

}  // namespace sobre
