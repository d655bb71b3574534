// Tests of the scalar reference converters (core/quant_ref.cc) against blocks built byte by
// byte, with the expected values worked out by hand from the ggml block layouts in the
// comments; our own code never produces an expected value here.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/fp16.h"
#include "core/quant_blocks.h"

namespace sobre {
namespace {

// fp16 bit patterns of the scales used below; all are exact.
constexpr uint16_t kHalfQuarter = 0x3400;   // 0.25
constexpr uint16_t kHalfHalf = 0x3800;      // 0.5
constexpr uint16_t kHalfOne = 0x3c00;       // 1.0
constexpr uint16_t kHalfOneHalf = 0x3e00;   // 1.5
constexpr uint16_t kHalfTwo = 0x4000;       // 2.0
constexpr uint16_t kHalfMinusOne = 0xbc00;  // -1.0

template <class Block>
std::vector<float> dequant(const Block& b, ToFloatFn fn, int n) {
    std::vector<float> y(static_cast<size_t>(n));
    fn(&b, y.data(), n);
    return y;
}

// ---------------------------------------------------------------------------------------------
// Golden dequantization, one block per type.

TEST(QuantRefGolden, F32F16Bf16) {
    const float f[2] = {1.5f, -0.375f};
    float y[2];
    ref::to_float_f32(f, y, 2);
    EXPECT_EQ(y[0], 1.5f);
    EXPECT_EQ(y[1], -0.375f);

    // 0x0001 is the smallest subnormal half, 2^-24; 0x7bff the largest finite, 65504.
    const uint16_t h[6] = {0x3c00, 0xc000, 0x0001, 0x7bff, 0x7c00, 0x7e00};
    float yh[6];
    ref::to_float_f16(h, yh, 6);
    EXPECT_EQ(yh[0], 1.0f);
    EXPECT_EQ(yh[1], -2.0f);
    EXPECT_EQ(yh[2], std::ldexp(1.0f, -24));
    EXPECT_EQ(yh[3], 65504.0f);
    EXPECT_EQ(yh[4], std::numeric_limits<float>::infinity());
    EXPECT_TRUE(std::isnan(yh[5]));

    // bf16 is the top half of an f32: 0x3f80 = 1, 0xc040 = -3, 0x0001 = 2^-133 (f32 subnormal).
    const uint16_t b[3] = {0x3f80, 0xc040, 0x0001};
    float yb[3];
    ref::to_float_bf16(b, yb, 3);
    EXPECT_EQ(yb[0], 1.0f);
    EXPECT_EQ(yb[1], -3.0f);
    EXPECT_EQ(yb[2], std::ldexp(1.0f, -133));
}

TEST(QuantRefGolden, Q4_0) {
    BlockQ4_0 b[2]{};
    b[0].d = kHalfHalf;
    std::memset(b[0].qs, 0x88, sizeof b[0].qs);  // code 8 everywhere: (8 - 8) * d = 0
    b[0].qs[0] = 0x3b;   // elem 0: (11 - 8) * 0.5 = 1.5;  elem 16: (3 - 8) * 0.5 = -2.5
    b[0].qs[15] = 0xf0;  // elem 15: (0 - 8) * 0.5 = -4;   elem 31: (15 - 8) * 0.5 = 3.5
    b[1].d = kHalfMinusOne;
    std::memset(b[1].qs, 0x88, sizeof b[1].qs);
    b[1].qs[7] = 0x1d;  // elem 32+7: (13 - 8) * -1 = -5; elem 32+23: (1 - 8) * -1 = 7
    std::vector<float> y(64);
    ref::to_float_q4_0(b, y.data(), 64);
    EXPECT_EQ(y[0], 1.5f);
    EXPECT_EQ(y[16], -2.5f);
    EXPECT_EQ(y[15], -4.0f);
    EXPECT_EQ(y[31], 3.5f);
    EXPECT_EQ(y[1], 0.0f);
    EXPECT_EQ(y[39], -5.0f);
    EXPECT_EQ(y[55], 7.0f);
    EXPECT_EQ(y[32], 0.0f);
}

TEST(QuantRefGolden, Q4_1) {
    BlockQ4_1 b{};
    b.d = kHalfQuarter;
    b.m = kHalfMinusOne;
    b.qs[2] = 0xa5;   // elem 2: 5 * 0.25 - 1 = 0.25;  elem 18: 10 * 0.25 - 1 = 1.5
    b.qs[15] = 0xf0;  // elem 15: 0 * 0.25 - 1 = -1;   elem 31: 15 * 0.25 - 1 = 2.75
    const std::vector<float> y = dequant(b, ref::to_float_q4_1, kQK);
    EXPECT_EQ(y[2], 0.25f);
    EXPECT_EQ(y[18], 1.5f);
    EXPECT_EQ(y[15], -1.0f);
    EXPECT_EQ(y[31], 2.75f);
    EXPECT_EQ(y[0], -1.0f);
}

TEST(QuantRefGolden, Q5_0) {
    BlockQ5_0 b{};
    b.d = kHalfTwo;
    // qh is a little-endian u32 whose bit j is bit 4 of element j.
    b.qh[0] = 0x01;   // bit 0: element 0
    b.qh[2] = 0x02;   // bit 17: element 17
    b.qh[3] = 0x80;   // bit 31: element 31
    b.qs[0] = 0x3f;   // elem 0: (15 | 16) - 16 = 15 -> 30;  elem 16: 3 - 16 = -13 -> -26
    b.qs[1] = 0x21;   // elem 1: 1 - 16 = -15 -> -30;        elem 17: (2 | 16) - 16 = 2 -> 4
    b.qs[15] = 0xe0;  // elem 15: 0 - 16 -> -32;             elem 31: (14 | 16) - 16 = 14 -> 28
    const std::vector<float> y = dequant(b, ref::to_float_q5_0, kQK);
    EXPECT_EQ(y[0], 30.0f);
    EXPECT_EQ(y[16], -26.0f);
    EXPECT_EQ(y[1], -30.0f);
    EXPECT_EQ(y[17], 4.0f);
    EXPECT_EQ(y[15], -32.0f);
    EXPECT_EQ(y[31], 28.0f);
}

TEST(QuantRefGolden, Q5_1) {
    BlockQ5_1 b{};
    b.d = kHalfHalf;
    b.m = kHalfOne;
    b.qh[1] = 0x80;   // bit 15: element 15
    b.qh[2] = 0x01;   // bit 16: element 16
    b.qs[15] = 0x7f;  // elem 15: (15 | 16) = 31 -> 31 * 0.5 + 1 = 16.5;  elem 31: 7 -> 4.5
    b.qs[0] = 0x42;   // elem 0: 2 -> 2;  elem 16: (4 | 16) = 20 -> 11
    const std::vector<float> y = dequant(b, ref::to_float_q5_1, kQK);
    EXPECT_EQ(y[15], 16.5f);
    EXPECT_EQ(y[31], 4.5f);
    EXPECT_EQ(y[0], 2.0f);
    EXPECT_EQ(y[16], 11.0f);
    EXPECT_EQ(y[5], 1.0f);
}

TEST(QuantRefGolden, Q8_0AndQ8_1) {
    BlockQ8_0 b{};
    b.d = kHalfOneHalf;
    b.qs[0] = -128;  // -128 * 1.5 = -192 (a file may hold -128 even if our quantizer never does)
    b.qs[5] = 7;     // 10.5
    b.qs[31] = -3;   // -4.5
    const std::vector<float> y = dequant(b, ref::to_float_q8_0, kQK);
    EXPECT_EQ(y[0], -192.0f);
    EXPECT_EQ(y[5], 10.5f);
    EXPECT_EQ(y[31], -4.5f);
    EXPECT_EQ(y[1], 0.0f);

    BlockQ8_1 c{};
    c.d = kHalfQuarter;
    c.s = 0x7bff;   // ignored by to_float
    c.qs[0] = 100;  // 25
    c.qs[31] = -1;  // -0.25
    const std::vector<float> z = dequant(c, ref::to_float_q8_1, kQK);
    EXPECT_EQ(z[0], 25.0f);
    EXPECT_EQ(z[31], -0.25f);
}

TEST(QuantRefGolden, Q8_K) {
    BlockQ8_K b{};
    b.d = 0.125f;
    b.qs[0] = -127;     // -15.875
    b.qs[255] = 64;     // 8
    b.bsums[0] = 1000;  // ignored by to_float
    const std::vector<float> y = dequant(b, ref::to_float_q8_K, kQKK);
    EXPECT_EQ(y[0], -15.875f);
    EXPECT_EQ(y[255], 8.0f);
    EXPECT_EQ(y[100], 0.0f);
}

// Q2_K: element e sits in half h = e / 128, column j = (e % 128) / 32, l = e % 32; its 2 bits
// are bits 2j..2j+1 of qs[32h + l]; its scale byte is scales[8h + 2j + l / 16]
// (low nibble scale, high nibble min). x = d * scale * q - dmin * min.
TEST(QuantRefGolden, Q2_K) {
    BlockQ2_K b{};
    b.d = kHalfOne;
    b.dmin = kHalfHalf;
    b.qs[0] = 0xe4;       // bit pairs (low first): 0, 1, 2, 3 for elements 0, 32, 64, 96
    b.scales[0] = 0x21;   // elem 0:  1 * 1 * 0 - 0.5 * 2 = -1
    b.scales[2] = 0x03;   // elem 32: 1 * 3 * 1 - 0 = 3
    b.scales[4] = 0x15;   // elem 64: 1 * 5 * 2 - 0.5 * 1 = 9.5
    b.scales[6] = 0xf2;   // elem 96: 1 * 2 * 3 - 0.5 * 15 = -1.5
    b.qs[49] = 0x03;      // elem 145 (h 1, j 0, l 17): q = 3
    b.scales[9] = 0x4f;   //   15 * 3 - 0.5 * 4 = 43
    b.qs[63] = 0x80;      // elem 255 (h 1, j 3, l 31): q = (0x80 >> 6) & 3 = 2
    b.scales[15] = 0x07;  //   7 * 2 - 0 = 14
    const std::vector<float> y = dequant(b, ref::to_float_q2_K, kQKK);
    EXPECT_EQ(y[0], -1.0f);
    EXPECT_EQ(y[1], -1.0f);  // q = 0, same sub-block
    EXPECT_EQ(y[32], 3.0f);
    EXPECT_EQ(y[64], 9.5f);
    EXPECT_EQ(y[96], -1.5f);
    EXPECT_EQ(y[145], 43.0f);
    EXPECT_EQ(y[255], 14.0f);
    EXPECT_EQ(y[16], 0.0f);  // scales[1] = 0
}

// Q3_K: bit pairs as Q2_K; the third bit of element e is bit (4h + j) of hmask[l] (set: +0,
// clear: -4). The 16 6-bit scales: low 4 bits from scales[i] (i < 8, low nibble) or
// scales[i - 8] (high nibble), high 2 bits from bits 2(i/4).. of scales[8 + i % 4]; minus 32.
TEST(QuantRefGolden, Q3_K) {
    BlockQ3_K b{};
    b.d = kHalfHalf;
    b.scales[0] = 0x01;   // scale 0: low 1
    b.scales[8] = 0x02;   //   high 2 -> 33 -> +1
    b.scales[1] = 0xa0;   // scale 9: low 0xa
    b.scales[9] = 0x10;   //   high (scales[9] >> 4) & 3 = 1 -> 26 -> -6
    b.scales[7] = 0xf0;   // scale 15: low 0xf
    b.scales[11] = 0xc0;  //   high (scales[11] >> 6) = 3 -> 63 -> +31
    // Every other scale is 0 - 32 = -32.
    b.qs[0] = 0x4e;      // bit pairs 2, 3, 0, 1 for elements 0, 32, 64, 96
    b.hmask[0] = 0x01;   // only element 0 (bit 0) of column 0 has its third bit set
    b.qs[50] = 0x03;     // elem 146 (h 1, j 0, l 18): low bits 3
    b.hmask[18] = 0x10;  //   bit 4 set -> q = 3
    b.qs[63] = 0x40;     // elem 255 (h 1, j 3, l 31): low bits 1
    b.hmask[31] = 0x80;  //   bit 7 set -> q = 1
    const std::vector<float> y = dequant(b, ref::to_float_q3_K, kQKK);
    EXPECT_EQ(y[0], 1.0f);     // 0.5 * 1 * 2
    EXPECT_EQ(y[32], 16.0f);   // scale 2 = -32; q = 3 - 4 = -1: 0.5 * -32 * -1
    EXPECT_EQ(y[64], 64.0f);   // scale 4 = -32; q = 0 - 4
    EXPECT_EQ(y[96], 48.0f);   // scale 6 = -32; q = 1 - 4
    EXPECT_EQ(y[146], -9.0f);  // scale 9 = -6: 0.5 * -6 * 3
    EXPECT_EQ(y[16], 64.0f);   // scale 1: low scales[1] & 15 = 0, high scales[9] & 3 = 0 -> -32;
                               // q = 0 - 4: 0.5 * -32 * -4

    EXPECT_EQ(y[255], 15.5f);  // scale 15 = 31: 0.5 * 31 * 1
    EXPECT_EQ(y[224], 64.0f);  // h 1, j 3, l 0: q = 0 - 4, scale 14 = -32
    EXPECT_EQ(y[1], -2.0f);    // scale 0 = 1; q = 0 - 4 (hmask[1] = 0): 0.5 * 1 * -4
}

// Q4_K/Q5_K scales: sub-block j < 4 has scale scales[j] & 63 and min scales[j + 4] & 63;
// j >= 4 has scale (scales[j + 4] & 15) | (scales[j - 4] >> 6) << 4 and
// min (scales[j + 4] >> 4) | (scales[j] >> 6) << 4.
void fill_k4_scales(uint8_t* s) {
    s[0] = 0x02;   // sub-block 0 scale 2 (top bits 0: sub-block 4 scale high = 0)
    s[4] = 0x03;   // sub-block 0 min 3
    s[1] = 0x41;   // sub-block 1 scale 1; top bits 1 -> sub-block 5 scale high
    s[5] = 0x80;   // sub-block 1 min 0; top bits 2 -> sub-block 5 min high
    s[9] = 0x17;   // sub-block 5: scale low 7, min low 1 -> scale 16 + 7 = 23, min 32 + 1 = 33
    s[3] = 0xc0;   // sub-block 3 scale 0; top bits 3 -> sub-block 7 scale high
    s[11] = 0xf0;  // sub-block 7: scale low 0 -> 48; min low 15, high (s[7] >> 6) = 0 -> 15
}

// Q4_K: chunk c = e / 64 of qs[32c .. 32c + 31]; element l of the chunk is the low nibble
// (sub-block 2c), element l + 32 the high nibble (sub-block 2c + 1). x = d*sc*q - dmin*m.
TEST(QuantRefGolden, Q4_K) {
    BlockQ4_K b{};
    b.d = kHalfOne;
    b.dmin = kHalfHalf;
    fill_k4_scales(b.scales);
    b.qs[0] = 0x5a;    // elem 0: 10 -> 2 * 10 - 0.5 * 3 = 18.5;  elem 32: 5 -> 1 * 5 - 0 = 5
    b.qs[67] = 0x90;   // elem 163 (c 2, high, l 3): 9 -> 23 * 9 - 0.5 * 33 = 190.5
    b.qs[127] = 0xf0;  // elem 255 (c 3, high, l 31): 15 -> 48 * 15 - 0.5 * 15 = 712.5
    const std::vector<float> y = dequant(b, ref::to_float_q4_K, kQKK);
    EXPECT_EQ(y[0], 18.5f);
    EXPECT_EQ(y[32], 5.0f);
    EXPECT_EQ(y[163], 190.5f);
    EXPECT_EQ(y[255], 712.5f);
    EXPECT_EQ(y[131], 0.0f);   // sub-block 4: scale 0, min 0
    EXPECT_EQ(y[1], -1.5f);    // q 0 in sub-block 0: -0.5 * 3
    EXPECT_EQ(y[224], -7.5f);  // q 0 in sub-block 7: -0.5 * 15
}

// Q5_K: as Q4_K, plus bit s of qh[l] adds 16 to element l of sub-block s.
TEST(QuantRefGolden, Q5_K) {
    BlockQ5_K b{};
    b.d = kHalfHalf;
    b.dmin = kHalfOne;
    fill_k4_scales(b.scales);
    b.qs[0] = 0x5a;   // elem 0: 10 + 16 (qh[0] bit 0) = 26 -> 0.5 * 2 * 26 - 3 = 23
    b.qh[0] = 0x01;   // elem 32: 5 (qh[0] bit 1 clear) -> 0.5 * 1 * 5 - 0 = 2.5
    b.qs[67] = 0x90;  // elem 163 (sub-block 5, l 3): 9 + 16 -> 0.5 * 23 * 25 - 33 = 254.5
    b.qh[3] = 0x20;
    b.qs[127] = 0xf0;  // elem 255 (sub-block 7, l 31): 15 + 16 -> 0.5 * 48 * 31 - 15 = 729
    b.qh[31] = 0x80;
    const std::vector<float> y = dequant(b, ref::to_float_q5_K, kQKK);
    EXPECT_EQ(y[0], 23.0f);
    EXPECT_EQ(y[32], 2.5f);
    EXPECT_EQ(y[163], 254.5f);
    EXPECT_EQ(y[255], 729.0f);
    EXPECT_EQ(y[224], -15.0f);  // sub-block 7, q 0, qh[0] bit 7 clear
    EXPECT_EQ(y[131], 0.0f);    // sub-block 4 (scale 0, min 0); qh[3] bit 4 clear
    EXPECT_EQ(y[1], -3.0f);     // sub-block 0, q 0: 0 - 1 * 3
}

// Q6_K: half h = e / 128, g = (e % 128) / 32, l = e % 32. Low 4 bits: ql[64h + l + 32(g & 1)],
// low nibble for g < 2; high 2 bits: bits 2g..2g+1 of qh[32h + l]; scale scales[8h + 2g + l/16].
// x = d * scale * (q - 32).
TEST(QuantRefGolden, Q6_K) {
    BlockQ6_K b{};
    b.d = kHalfQuarter;
    b.ql[0] = 0x31;      // elem 0 low 1; elem 64 low 3
    b.qh[0] = 0x93;      // bit pairs 3, 0, 1, 2 for g = 0..3 of l = 0
    b.scales[0] = 4;     // elem 0: q = 1 | 3 << 4 = 49 -> 0.25 * 4 * 17 = 17
    b.scales[4] = -2;    // elem 64: q = 3 | 1 << 4 = 19 -> 0.25 * -2 * -13 = 6.5
    b.scales[2] = 3;     // elem 32: ql[32] low 0, qh pair 0 -> q = 0 -> 0.25 * 3 * -32 = -24
    b.ql[32] = 0x50;     // elem 96: high nibble 5, qh pair 2 -> 37 -> 5
    b.scales[6] = 1;     //   0.25 * 1 * 5 = 1.25
    b.ql[49] = 0x0f;     // elem 49 (g 1, l 17): low 15
    b.qh[17] = 0x0c;     //   pair 1 = 3 -> 63 -> 31
    b.scales[3] = -128;  //   0.25 * -128 * 31 = -992
    b.scales[15] = 127;  // elem 255 (h 1, g 3, l 31): ql[127] = 0, qh[63] = 0 -> q = -32
    const std::vector<float> y = dequant(b, ref::to_float_q6_K, kQKK);
    EXPECT_EQ(y[0], 17.0f);
    EXPECT_EQ(y[64], 6.5f);
    EXPECT_EQ(y[32], -24.0f);
    EXPECT_EQ(y[96], 1.25f);
    EXPECT_EQ(y[49], -992.0f);
    EXPECT_EQ(y[255], -1016.0f);  // 0.25 * 127 * -32
    EXPECT_EQ(y[128], 0.0f);      // scale 8 = 0
}

// ---------------------------------------------------------------------------------------------
// Golden quantization: ggml's quantize_row_*_ref choices (signed max, truncating rounding,
// roundf, round-half-even for q8_K) on inputs where each choice shows.

TEST(QuantRefQuantize, Q4_0UsesSignedMax) {
    float x[kQK] = {};
    x[0] = 8.0f;    // largest magnitude, positive: d = 8 / -8 = -1, so x[0] gets code 0
    x[1] = -8.0f;   // same magnitude but later, so it does not set d: -8 * -1 + 8.5 -> 16 -> 15
    x[2] = 1.0f;    // -1 + 8.5 = 7.5 -> 7
    x[16] = -3.0f;  // 3 + 8.5 = 11.5 -> 11
    x[17] = 0.49f;  // -0.49 + 8.5 = 8.01 -> 8; zeros give 8.5 -> 8
    x[3] = -0.5f;   // a tie: 0.5 + 8.5 = 9 -> 9 (ties round up, not to even 8)
    x[4] = 1.5f;    // a tie: -1.5 + 8.5 = 7 -> 7 (not to even 6)
    BlockQ4_0 b{};
    ref::from_float_q4_0(x, &b, kQK);
    EXPECT_EQ(b.d, kHalfMinusOne);
    EXPECT_EQ(b.qs[0], 0xb0);
    EXPECT_EQ(b.qs[1], 0x8f);
    EXPECT_EQ(b.qs[2], 0x87);
    EXPECT_EQ(b.qs[3], 0x89);
    EXPECT_EQ(b.qs[4], 0x87);
    EXPECT_EQ(b.qs[5], 0x88);
}

TEST(QuantRefQuantize, Q4_1) {
    float x[kQK] = {};
    x[0] = -1.0f;  // min: d = (14 - -1) / 15 = 1, m = -1
    x[1] = 14.0f;  // 15 + 0.5 -> 15
    x[2] = 3.5f;   // 4.5 + 0.5 -> 5 (the half rounds up)
    x[3] = 3.4f;   // 4.4 + 0.5 -> 4; zeros give 1.5 -> 1
    BlockQ4_1 b{};
    ref::from_float_q4_1(x, &b, kQK);
    EXPECT_EQ(b.d, kHalfOne);
    EXPECT_EQ(b.m, kHalfMinusOne);
    EXPECT_EQ(b.qs[0], 0x10);
    EXPECT_EQ(b.qs[1], 0x1f);
    EXPECT_EQ(b.qs[2], 0x15);
    EXPECT_EQ(b.qs[3], 0x14);
    EXPECT_EQ(b.qs[4], 0x11);
}

TEST(QuantRefQuantize, Q5_0) {
    float x[kQK] = {};
    x[5] = -16.0f;  // d = -16 / -16 = 1: code 0 (no fifth bit)
    x[0] = 15.0f;   // 31.5 -> 31: nibble 15, fifth bit
    x[20] = 0.2f;   // 16.7 -> 16: nibble 0, fifth bit
    x[21] = -0.6f;  // 15.9 -> 15: nibble 15, no fifth bit; zeros give 16.5 -> 16
    BlockQ5_0 b{};
    ref::from_float_q5_0(x, &b, kQK);
    EXPECT_EQ(b.d, kHalfOne);
    EXPECT_EQ(b.qs[0], 0x0f);
    EXPECT_EQ(b.qs[5], 0xf0);
    EXPECT_EQ(b.qs[4], 0x00);
    // Every element has its fifth bit except 5 and 21: 0xffdfffdf little-endian.
    EXPECT_EQ(b.qh[0], 0xdf);
    EXPECT_EQ(b.qh[1], 0xff);
    EXPECT_EQ(b.qh[2], 0xdf);
    EXPECT_EQ(b.qh[3], 0xff);
}

TEST(QuantRefQuantize, Q5_1) {
    float x[kQK] = {};
    x[1] = 31.0f;   // min 0, max 31: d = 1, m = 0; 31.5 -> 31
    x[2] = 17.0f;   // 17
    x[18] = 16.4f;  // 16.9 -> 16
    BlockQ5_1 b{};
    ref::from_float_q5_1(x, &b, kQK);
    EXPECT_EQ(b.d, kHalfOne);
    EXPECT_EQ(b.m, 0x0000);
    EXPECT_EQ(b.qs[1], 0x0f);
    EXPECT_EQ(b.qs[2], 0x01);
    EXPECT_EQ(b.qs[0], 0x00);
    // Fifth bits of elements 1, 2 and 18: 0x00040006.
    EXPECT_EQ(b.qh[0], 0x06);
    EXPECT_EQ(b.qh[1], 0x00);
    EXPECT_EQ(b.qh[2], 0x04);
    EXPECT_EQ(b.qh[3], 0x00);
}

TEST(QuantRefQuantize, Q8_0RoundsHalfAwayFromZero) {
    float x[kQK] = {};
    x[3] = -127.0f;  // amax 127: d = 1
    x[0] = 2.5f;     // roundf: 3 (round-half-even would give 2)
    x[1] = -2.5f;    // -3
    x[2] = 0.49f;    // 0
    x[31] = 126.5f;  // 127
    BlockQ8_0 b{};
    ref::from_float_q8_0(x, &b, kQK);
    EXPECT_EQ(b.d, kHalfOne);
    EXPECT_EQ(b.qs[0], 3);
    EXPECT_EQ(b.qs[1], -3);
    EXPECT_EQ(b.qs[2], 0);
    EXPECT_EQ(b.qs[3], -127);
    EXPECT_EQ(b.qs[31], 127);
}

TEST(QuantRefQuantize, Q8_1StoresScaledSum) {
    float x[kQK] = {};
    x[0] = 127.0f;  // d = 1
    x[1] = -3.0f;
    x[2] = 2.5f;  // 3; sum = 127 - 3 + 3 = 127 -> s = 127 = fp16 0x57f0
    BlockQ8_1 b{};
    ref::from_float_q8_1(x, &b, kQK);
    EXPECT_EQ(b.d, kHalfOne);
    EXPECT_EQ(b.s, 0x57f0);
    EXPECT_EQ(b.qs[2], 3);
}

// s is computed from the f32 d, not the fp16 one. With d = 1 + 2^-11 + 2^-13 (exact in f32;
// fp16 rounds it up to 1 + 2^-10 = 0x3c01) and codes 127 and 100: s = fp16(227 * d) =
// fp16(227.1385...) = 227.125 = 0x5b19, whereas fp16(d) * 227 would give 227.25 (0x5b1a).
TEST(QuantRefQuantize, Q8_1SumUsesUnroundedScale) {
    const float d = 1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -13);
    float x[kQK] = {};
    x[0] = 127.0f * d;  // 127.0775146484375, exact
    x[1] = 100.0f * d;  // 100.06103515625, exact
    BlockQ8_1 b{};
    ref::from_float_q8_1(x, &b, kQK);
    EXPECT_EQ(b.d, 0x3c01);
    EXPECT_EQ(b.qs[0], 127);
    EXPECT_EQ(b.qs[1], 100);
    EXPECT_EQ(b.s, 0x5b19);
}

TEST(QuantRefQuantize, Q8_K) {
    std::vector<float> x(3 * kQKK, 0.0f);
    // Block 0: max -254 -> iscale = -127 / -254 = 0.5, d = 2; ties round to even.
    x[0] = -254.0f;   // -127
    x[1] = 3.0f;      // 1.5 -> 2
    x[2] = 5.0f;      // 2.5 -> 2
    x[3] = -5.0f;     // -2.5 -> -2
    x[16] = 7.0f;     // 3.5 -> 4
    x[17] = -100.0f;  // -50
    // Block 1: max +254 -> iscale = -0.5, d = -2: the largest element maps to -127.
    x[kQKK + 20] = 254.0f;  // -127
    x[kQKK + 21] = 1.0f;    // -0.5 -> -0
    x[kQKK + 22] = 3.0f;    // -1.5 -> -2
    // Block 2 is all zero.
    BlockQ8_K b[3];
    std::memset(b, 0x5a, sizeof b);  // garbage, so unwritten fields show
    ref::from_float_q8_K(x.data(), b, 3 * kQKK);
    EXPECT_EQ(b[0].d, 2.0f);
    EXPECT_EQ(b[0].qs[0], -127);
    EXPECT_EQ(b[0].qs[1], 2);
    EXPECT_EQ(b[0].qs[2], 2);
    EXPECT_EQ(b[0].qs[3], -2);
    EXPECT_EQ(b[0].qs[16], 4);
    EXPECT_EQ(b[0].qs[17], -50);
    EXPECT_EQ(b[0].bsums[0], -125);  // -127 + 2 + 2 - 2
    EXPECT_EQ(b[0].bsums[1], -46);   // 4 - 50
    EXPECT_EQ(b[0].bsums[2], 0);
    EXPECT_EQ(b[1].d, -2.0f);
    EXPECT_EQ(b[1].qs[20], -127);
    EXPECT_EQ(b[1].qs[21], 0);
    EXPECT_EQ(b[1].qs[22], -2);
    EXPECT_EQ(b[1].bsums[1], -129);
    EXPECT_EQ(b[2].d, 0.0f);
    for (int j = 0; j < kQKK; ++j) ASSERT_EQ(b[2].qs[j], 0) << j;
    for (int g = 0; g < kQKK / 16; ++g) ASSERT_EQ(b[2].bsums[g], 0) << g;
}

// ---------------------------------------------------------------------------------------------
// fp16 and bf16 conversions.

TEST(Fp16, RoundsToNearestEven) {
    EXPECT_EQ(fp32_to_fp16(1.0f), 0x3c00);
    EXPECT_EQ(fp32_to_fp16(-2.0f), 0xc000);
    EXPECT_EQ(fp32_to_fp16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);      // tie -> even 0x3c00
    EXPECT_EQ(fp32_to_fp16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);  // tie -> even 0x3c02
    EXPECT_EQ(fp32_to_fp16(1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -20)), 0x3c01);
    EXPECT_EQ(fp32_to_fp16(65504.0f), 0x7bff);
    EXPECT_EQ(fp32_to_fp16(65519.0f), 0x7bff);  // below the midpoint 65520
    EXPECT_EQ(fp32_to_fp16(65520.0f), 0x7c00);  // tie between 65504 and 65536 -> even -> inf
    EXPECT_EQ(fp32_to_fp16(-1e6f), 0xfc00);
}

TEST(Fp16, Subnormals) {
    const float p24 = std::ldexp(1.0f, -24);
    EXPECT_EQ(fp32_to_fp16(p24), 0x0001);
    EXPECT_EQ(fp32_to_fp16(p24 / 2), 0x0000);  // tie between 0 and 1 ulp -> 0
    EXPECT_EQ(fp32_to_fp16(std::nextafter(p24 / 2, 1.0f)), 0x0001);
    EXPECT_EQ(fp32_to_fp16(3 * p24 / 2), 0x0002);  // tie between 1 and 2 -> 2
    EXPECT_EQ(fp32_to_fp16(5 * p24 / 2), 0x0002);  // tie between 2 and 3 -> 2
    EXPECT_EQ(fp32_to_fp16(p24 / 4), 0x0000);
    EXPECT_EQ(fp32_to_fp16(-p24), 0x8001);
    EXPECT_EQ(fp32_to_fp16(-p24 / 4), 0x8000);  // keeps the sign of zero
    EXPECT_EQ(fp32_to_fp16(std::numeric_limits<float>::denorm_min()), 0x0000);
    // The largest subnormal 1023 * 2^-24 and the smallest normal 2^-14; their midpoint ties to
    // the even code 0x0400.
    EXPECT_EQ(fp32_to_fp16(1023 * p24), 0x03ff);
    EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -14)), 0x0400);
    EXPECT_EQ(fp32_to_fp16(1023.5f * p24), 0x0400);
    EXPECT_EQ(fp16_to_fp32(0x03ff), 1023 * p24);
    EXPECT_EQ(fp16_to_fp32(0x0400), std::ldexp(1.0f, -14));
    EXPECT_EQ(fp16_to_fp32(0x8001), -p24);
}

TEST(Fp16, InfNanAndSignedZero) {
    const float inf = std::numeric_limits<float>::infinity();
    EXPECT_EQ(fp32_to_fp16(inf), 0x7c00);
    EXPECT_EQ(fp32_to_fp16(-inf), 0xfc00);
    const uint16_t nan = fp32_to_fp16(std::numeric_limits<float>::quiet_NaN());
    EXPECT_EQ(nan & 0x7c00, 0x7c00);
    EXPECT_NE(nan & 0x03ff, 0);
    // A NaN whose payload lives only in the low f32 bits must not turn into inf.
    const uint16_t snan = fp32_to_fp16(bits_to_float(0x7f800001u));
    EXPECT_NE(snan & 0x03ff, 0);
    EXPECT_EQ(fp32_to_fp16(-0.0f), 0x8000);
    EXPECT_EQ(fp16_to_fp32(0x7c00), inf);
    EXPECT_EQ(fp16_to_fp32(0xfc00), -inf);
    EXPECT_TRUE(std::isnan(fp16_to_fp32(0x7e00)));
    EXPECT_TRUE(std::isnan(fp16_to_fp32(0xfc01)));
    EXPECT_TRUE(std::signbit(fp16_to_fp32(0x8000)));
}

TEST(Fp16, EveryHalfRoundTrips) {
    for (uint32_t h = 0; h < 0x10000u; ++h) {
        if ((h & 0x7c00u) == 0x7c00u && (h & 0x03ffu) != 0) continue;  // NaN payloads may change
        ASSERT_EQ(fp32_to_fp16(fp16_to_fp32(static_cast<uint16_t>(h))), h) << std::hex << h;
    }
}

TEST(Bf16, RoundsToNearestEven) {
    EXPECT_EQ(fp32_to_bf16(1.0f), 0x3f80);
    EXPECT_EQ(fp32_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);      // tie -> even
    EXPECT_EQ(fp32_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3f82);  // tie -> even
    EXPECT_EQ(fp32_to_bf16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)), 0x3f81);
    EXPECT_EQ(fp32_to_bf16(-3.0f), 0xc040);
    EXPECT_EQ(fp32_to_bf16(std::numeric_limits<float>::max()), 0x7f80);  // rounds up to inf
    EXPECT_EQ(fp32_to_bf16(bits_to_float(0x00010000u)), 0x0001);         // f32 subnormal, exact
    EXPECT_EQ(fp32_to_bf16(bits_to_float(0x00008000u)), 0x0000);         // tie -> even 0
    EXPECT_EQ(fp32_to_bf16(bits_to_float(0x00018000u)), 0x0002);         // tie -> even 2
}

TEST(Bf16, InfNan) {
    const float inf = std::numeric_limits<float>::infinity();
    EXPECT_EQ(fp32_to_bf16(inf), 0x7f80);
    EXPECT_EQ(fp32_to_bf16(-inf), 0xff80);
    // Signalling NaNs whose payload is below bit 16 come back quiet, never as inf.
    EXPECT_EQ(fp32_to_bf16(bits_to_float(0x7f800001u)), 0x7fc0);
    EXPECT_EQ(fp32_to_bf16(bits_to_float(0xff800001u)), 0xffc0);
    EXPECT_TRUE(std::isnan(bf16_to_fp32(0x7fc0)));
    EXPECT_EQ(bf16_to_fp32(0xff80), -inf);
}

TEST(Bf16, EveryBf16RoundTrips) {
    for (uint32_t b = 0; b < 0x10000u; ++b) {
        if ((b & 0x7f80u) == 0x7f80u && (b & 0x007fu) != 0) continue;
        ASSERT_EQ(fp32_to_bf16(bf16_to_fp32(static_cast<uint16_t>(b))), b) << std::hex << b;
    }
}

// ---------------------------------------------------------------------------------------------
// Round trips: from_float then to_float stays within each format's step.

struct RoundTripCase {
    DType type;
    FromFloatFn from_float;
    ToFloatFn to_float;
    int64_t block_bytes;
    int block_elems;
};

void PrintTo(const RoundTripCase& c, std::ostream* os) { *os << dtype_name(c.type); }

std::string case_name(const testing::TestParamInfo<RoundTripCase>& info) {
    return std::string(dtype_name(info.param.type));
}

// Largest error allowed for element x of a 32-element group with the given min, max and
// largest magnitude: half a quantization step (a full step where ggml clamps the extreme code)
// plus what rounding the fp16 scale and min can add (2^-11 relative).
double error_bound(DType t, float x, float min, float max, float amax) {
    const double kF16 = 1.0 / 2048;
    const double range = static_cast<double>(max) - min;
    const double slack = 1e-6 * amax;
    switch (t) {
        case DType::kF32:
            return 0.0;
        case DType::kF16:
            return std::fabs(x) * kF16 + std::ldexp(1.0, -25);
        case DType::kBF16:
            return std::fabs(x) / 256;
        case DType::kQ4_0:
            return amax * (1.0 / 8 + kF16) + slack;
        case DType::kQ5_0:
            return amax * (1.0 / 16 + kF16) + slack;
        case DType::kQ4_1:
            return range * (0.5 / 15 + kF16) + std::fabs(min) * kF16 + slack;
        case DType::kQ5_1:
            return range * (0.5 / 31 + kF16) + std::fabs(min) * kF16 + slack;
        case DType::kQ8_0:
        case DType::kQ8_1:
            return amax * (0.5 / 127 + kF16) + slack;
        case DType::kQ8_K:
            return amax * (0.5 / 127) + slack;
        default:
            return 0.0;
    }
}

class QuantRefRoundTrip : public testing::TestWithParam<RoundTripCase> {};

TEST_P(QuantRefRoundTrip, WithinOneStep) {
    const RoundTripCase& c = GetParam();
    constexpr int kN = 4 * kQKK;
    std::mt19937 rng(1234u + static_cast<uint32_t>(c.type));
    std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
    std::uniform_real_distribution<float> log_scale(-1.0f, 1.0f);
    std::vector<float> x(kN);
    // Each 32-element group gets its own magnitude (0.1 .. 10), and a positive offset on some
    // groups so the min of q4_1/q5_1 is not always near -max.
    for (int g = 0; g < kN / kQK; ++g) {
        const float scale = std::pow(10.0f, log_scale(rng));
        const float offset = g % 3 == 0 ? scale * 0.5f : 0.0f;
        for (int j = 0; j < kQK; ++j) x[g * kQK + j] = unit(rng) * scale + offset;
    }
    std::vector<uint8_t> q(static_cast<size_t>(kN / c.block_elems * c.block_bytes));
    std::vector<float> y(kN);
    c.from_float(x.data(), q.data(), kN);
    c.to_float(q.data(), y.data(), kN);
    // q8_K scales per 256 elements, the rest per 32 (plain types ignore the group stats).
    const int group = c.type == DType::kQ8_K ? kQKK : kQK;
    for (int g = 0; g < kN / group; ++g) {
        const float* xg = x.data() + g * group;
        float min = xg[0], max = xg[0], amax = 0.0f;
        for (int j = 0; j < group; ++j) {
            min = std::min(min, xg[j]);
            max = std::max(max, xg[j]);
            amax = std::max(amax, std::fabs(xg[j]));
        }
        for (int j = 0; j < group; ++j) {
            const int i = g * group + j;
            const double bound = error_bound(c.type, x[i], min, max, amax);
            ASSERT_LE(std::fabs(static_cast<double>(y[i]) - x[i]), bound)
                << "element " << i << " x " << x[i] << " y " << y[i];
        }
    }
}

INSTANTIATE_TEST_SUITE_P(
    AllTypes, QuantRefRoundTrip,
    testing::Values(RoundTripCase{DType::kF32, ref::from_float_f32, ref::to_float_f32, 4, 1},
                    RoundTripCase{DType::kF16, ref::from_float_f16, ref::to_float_f16, 2, 1},
                    RoundTripCase{DType::kBF16, ref::from_float_bf16, ref::to_float_bf16, 2, 1},
                    RoundTripCase{DType::kQ4_0, ref::from_float_q4_0, ref::to_float_q4_0,
                                  sizeof(BlockQ4_0), kQK},
                    RoundTripCase{DType::kQ4_1, ref::from_float_q4_1, ref::to_float_q4_1,
                                  sizeof(BlockQ4_1), kQK},
                    RoundTripCase{DType::kQ5_0, ref::from_float_q5_0, ref::to_float_q5_0,
                                  sizeof(BlockQ5_0), kQK},
                    RoundTripCase{DType::kQ5_1, ref::from_float_q5_1, ref::to_float_q5_1,
                                  sizeof(BlockQ5_1), kQK},
                    RoundTripCase{DType::kQ8_0, ref::from_float_q8_0, ref::to_float_q8_0,
                                  sizeof(BlockQ8_0), kQK},
                    RoundTripCase{DType::kQ8_1, ref::from_float_q8_1, ref::to_float_q8_1,
                                  sizeof(BlockQ8_1), kQK},
                    RoundTripCase{DType::kQ8_K, ref::from_float_q8_K, ref::to_float_q8_K,
                                  sizeof(BlockQ8_K), kQKK}),
    case_name);

}  // namespace
}  // namespace sobre
