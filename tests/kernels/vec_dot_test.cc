// Dot-product kernels of every CPU table against a double-precision sum of the dequantized
// rows (gemma's MatMulSlow idea): the reference side only uses to_float, which
// tests/core/quant_ref_test.cc checks against hand-computed blocks.
#include <gtest/gtest.h>

#include <cmath>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/fp16.h"
#include "core/quant_blocks.h"
#include "kernels/cpu/kernel_table.h"
#include "kernels/kernel_test_util.h"

namespace sobre::kernels {
namespace {

using testing_util::dequant;
using testing_util::kernel_sets;
using testing_util::KernelSet;
using testing_util::kKTypes;
using testing_util::kLegacyTypes;
using testing_util::kPlainTypes;
using testing_util::make_weights;
using testing_util::random_floats;
using testing_util::row_size;

// Plain types have no blocks; their rows are `blocks` runs of an odd length, so that SIMD
// kernels meet a remainder.
constexpr int kPlainRun = 37;

struct DotCase {
    const KernelSet* set;
    DType type;
    int blocks;
};

// Block counts: 1 and 2 (shorter than any unrolled loop), odd counts that leave remainders
// after 2- and 4-way unrolling, and one long row.
std::vector<DotCase> dot_cases() {
    std::vector<DotCase> cases;
    for (const KernelSet& s : kernel_sets()) {
        for (DType t : kPlainTypes) {
            for (int b : {1, 2, 7, 9}) cases.push_back({&s, t, b});
        }
        for (DType t : kLegacyTypes) {
            for (int b : {1, 2, 3, 7, 9, 33}) cases.push_back({&s, t, b});
        }
        for (DType t : kKTypes) {
            for (int b : {1, 2, 3, 7}) cases.push_back({&s, t, b});
        }
    }
    return cases;
}

// Readable parameters in failure messages instead of gtest's byte dump.
void PrintTo(const DotCase& c, std::ostream* os) {
    *os << c.set->name << " " << dtype_name(c.type) << " x" << c.blocks;
}

std::string dot_case_name(const testing::TestParamInfo<DotCase>& info) {
    return info.param.set->name + "_" + std::string(dtype_name(info.param.type)) + "_" +
           std::to_string(info.param.blocks) + "blocks";
}

int64_t row_elems(const DotCase& c) {
    const int64_t block = dtype_traits(c.type).block_elems;
    return block == 1 ? int64_t{kPlainRun} * c.blocks : block * c.blocks;
}

// q4_1/q5_1 take the offset term as m * s, where the q8_1 block's s = d * sum(q) was rounded
// to fp16 from the unrounded d. Dequantized activations give m * fp16(d) * sum(q) instead, so
// the reference adds the difference, block by block, to compare like with like.
double q8_1_offset_correction(DType weight, const std::vector<uint8_t>& w,
                              const std::vector<uint8_t>& a, int64_t n) {
    if (weight != DType::kQ4_1 && weight != DType::kQ5_1) return 0.0;
    const auto* y = reinterpret_cast<const BlockQ8_1*>(a.data());
    double correction = 0.0;
    for (int64_t b = 0; b < n / kQK; ++b) {
        const uint16_t m_bits = weight == DType::kQ4_1
                                    ? reinterpret_cast<const BlockQ4_1*>(w.data())[b].m
                                    : reinterpret_cast<const BlockQ5_1*>(w.data())[b].m;
        int sum = 0;
        for (int j = 0; j < kQK; ++j) sum += y[b].qs[j];
        const double exact = static_cast<double>(fp16_to_fp32(y[b].d)) * sum;
        correction += fp16_to_fp32(m_bits) * (fp16_to_fp32(y[b].s) - exact);
    }
    return correction;
}

class VecDot : public testing::TestWithParam<DotCase> {};

TEST_P(VecDot, MatchesDequantizedSum) {
    const DotCase& c = GetParam();
    const CpuKernels& k = *c.set->kernels;
    const DType act_type = dtype_traits(c.type).vec_dot_type;
    const int64_t n = row_elems(c);
    std::mt19937 rng(1000u + 16u * static_cast<uint32_t>(c.type) + static_cast<uint32_t>(c.blocks));

    const std::vector<uint8_t> w = make_weights(c.type, n, rng);
    const std::vector<float> x = random_floats(n, rng);
    std::vector<uint8_t> a(row_size(act_type, n));
    ASSERT_NE(k.quantize_act[static_cast<size_t>(act_type)], nullptr);
    ASSERT_NE(k.vec_dot[static_cast<size_t>(c.type)], nullptr);
    k.quantize_act[static_cast<size_t>(act_type)](x.data(), a.data(), n);

    const std::vector<float> wf = dequant(c.type, w.data(), n);
    const std::vector<float> af = dequant(act_type, a.data(), n);
    double expected = q8_1_offset_correction(c.type, w, a, n);
    double magnitude = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        const double p = static_cast<double>(wf[i]) * af[i];
        expected += p;
        magnitude += std::fabs(p);
    }
    // 1e-5 of the magnitude covers f32 accumulation of these rows (at most ~40 terms per lane
    // in any level, each rounding by 2^-24 of the magnitude) with a wide margin.
    const float got = k.vec_dot[static_cast<size_t>(c.type)](n, w.data(), a.data());
    EXPECT_NEAR(got, expected, 1e-5 * magnitude + 1e-6) << "magnitude " << magnitude;
}

// Each level against the scalar reference on the same bytes: the integer sums are the same, so
// the results differ only by float rounding (the reference's own order of accumulation).
TEST_P(VecDot, MatchesScalarReference) {
    const DotCase& c = GetParam();
    const CpuKernels& k = *c.set->kernels;
    const CpuKernels& ref = testing_util::reference_kernels();
    const DType act_type = dtype_traits(c.type).vec_dot_type;
    const int64_t n = row_elems(c);
    std::mt19937 rng(555u + 16u * static_cast<uint32_t>(c.type) + static_cast<uint32_t>(c.blocks));
    const std::vector<uint8_t> w = make_weights(c.type, n, rng);
    const std::vector<float> x = random_floats(n, rng);
    std::vector<uint8_t> a(row_size(act_type, n));
    ref.quantize_act[static_cast<size_t>(act_type)](x.data(), a.data(), n);
    const std::vector<float> wf = dequant(c.type, w.data(), n);
    const std::vector<float> af = dequant(act_type, a.data(), n);
    double magnitude = 0.0;
    for (int64_t i = 0; i < n; ++i) magnitude += std::fabs(static_cast<double>(wf[i]) * af[i]);
    const float want = ref.vec_dot[static_cast<size_t>(c.type)](n, w.data(), a.data());
    const float got = k.vec_dot[static_cast<size_t>(c.type)](n, w.data(), a.data());
    EXPECT_NEAR(got, want, 1e-5 * magnitude + 1e-6) << "magnitude " << magnitude;
}

// A zero activation row quantizes to zero blocks (d = 0, s = 0, bsums = 0): every dot is 0.
TEST_P(VecDot, ZeroActivationGivesZero) {
    const DotCase& c = GetParam();
    const CpuKernels& k = *c.set->kernels;
    const DType act_type = dtype_traits(c.type).vec_dot_type;
    const int64_t n = row_elems(c);
    std::mt19937 rng(77u + static_cast<uint32_t>(c.type));
    const std::vector<uint8_t> w = make_weights(c.type, n, rng);
    const std::vector<float> zeros(static_cast<size_t>(n), 0.0f);
    std::vector<uint8_t> a(row_size(act_type, n));
    k.quantize_act[static_cast<size_t>(act_type)](zeros.data(), a.data(), n);
    EXPECT_EQ(k.vec_dot[static_cast<size_t>(c.type)](n, w.data(), a.data()), 0.0f);
}

INSTANTIATE_TEST_SUITE_P(AllTypes, VecDot, testing::ValuesIn(dot_cases()), dot_case_name);

// Every weight type with a dot product also has the quantizer of its activation type, and
// every level covers every type we can compute with.
TEST(VecDotTable, EveryLevelCoversComputableTypes) {
    for (const KernelSet& set : kernel_sets()) {
        SCOPED_TRACE(set.name);
        const CpuKernels& k = *set.kernels;
        for (uint32_t id = 0; id < kNumDTypes; ++id) {
            const auto t = static_cast<DType>(id);
            if (k.vec_dot[id] == nullptr) continue;
            const DType act = dtype_traits(t).vec_dot_type;
            EXPECT_NE(k.quantize_act[static_cast<size_t>(act)], nullptr) << dtype_name(t);
        }
        const auto has_dot = [&k](DType t) { return k.vec_dot[static_cast<size_t>(t)] != nullptr; };
        for (DType t : kPlainTypes) EXPECT_TRUE(has_dot(t)) << dtype_name(t);
        for (DType t : kLegacyTypes) EXPECT_TRUE(has_dot(t)) << dtype_name(t);
        for (DType t : kKTypes) EXPECT_TRUE(has_dot(t)) << dtype_name(t);
        for (DType act : testing_util::kActTypes) {
            EXPECT_NE(k.quantize_act[static_cast<size_t>(act)], nullptr) << dtype_name(act);
        }
    }
}

// The scale helpers shared by core and the kernels (core/quant_blocks.h), checked at compile
// time against bytes worked out by hand from the layouts.
constexpr uint8_t kK4Scales[12] = {0x41, 0x02, 0x03, 0x3f, 0xc5, 0x06,
                                   0x07, 0x48, 0x9a, 0x0b, 0x0c, 0xfd};
static_assert(k4_scale_min(0, kK4Scales).scale == 1 && k4_scale_min(0, kK4Scales).min == 5);
// j = 4: scale = (0x9a & 0xf) | ((0x41 >> 6) << 4) = 0xa | 0x10; min = (0x9a >> 4) | ((0xc5 >> 6)
// << 4)
static_assert(k4_scale_min(4, kK4Scales).scale == 0x1a && k4_scale_min(4, kK4Scales).min == 0x39);
// j = 7: scale = (0xfd & 0xf) | ((0x3f >> 6) << 4) = 0xd; min = 0xf | ((0x48 >> 6) << 4) = 0x1f
static_assert(k4_scale_min(7, kK4Scales).scale == 0x0d && k4_scale_min(7, kK4Scales).min == 0x1f);
constexpr uint8_t kQ3Scales[12] = {0x21, 0x43, 0x65, 0x87, 0xa9, 0xcb,
                                   0xed, 0x0f, 0xe4, 0x1b, 0x00, 0xff};
// i = 0: low 0x1, high (0xe4 >> 0) & 3 = 0 -> 0x01; i = 4: low 0x9, high (0xe4 >> 2) & 3 = 1
static_assert(q3_k_scale(kQ3Scales, 0) == 0x01 && q3_k_scale(kQ3Scales, 4) == 0x19);
// i = 9: low 0x43 >> 4 = 4, high (0x1b >> 4) & 3 = 1 -> 0x14; i = 15: 0x0f >> 4 = 0, (0xff >> 6) =
// 3
static_assert(q3_k_scale(kQ3Scales, 9) == 0x14 && q3_k_scale(kQ3Scales, 15) == 0x30);

}  // namespace
}  // namespace sobre::kernels
