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

namespace sobre::kernels {
namespace {

struct KernelSet {
    std::string name;
    const CpuKernels* kernels;
};

// The tables under test. Only the scalar reference is built here for now; once the dispatch
// (kernel_table.cc, isa.cc) is in, this becomes one entry per supported_isas() level through
// cpu_kernels(isa), and every case below runs on each.
const std::vector<KernelSet>& kernel_sets() {
    static const CpuKernels ref_table = [] {
        CpuKernels k;
        ref::fill(k);
        return k;
    }();
    static const std::vector<KernelSet> sets = {{"ref", &ref_table}};
    return sets;
}

constexpr DType kPlainTypes[] = {DType::kF32, DType::kF16, DType::kBF16};
constexpr DType kLegacyTypes[] = {DType::kQ4_0, DType::kQ4_1, DType::kQ5_0, DType::kQ5_1,
                                  DType::kQ8_0};
constexpr DType kKTypes[] = {DType::kQ2_K, DType::kQ3_K, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K};

// Plain types have no blocks; their rows are `blocks` runs of an odd length, so that SIMD
// kernels meet a remainder.
constexpr int kPlainRun = 37;

struct DotCase {
    const KernelSet* set;
    DType type;
    int blocks;
};

std::vector<DotCase> dot_cases() {
    std::vector<DotCase> cases;
    for (const KernelSet& s : kernel_sets()) {
        for (DType t : kPlainTypes) {
            for (int b : {1, 2, 7, 9}) cases.push_back({&s, t, b});
        }
        for (DType t : kLegacyTypes) {
            for (int b : {1, 2, 7, 9}) cases.push_back({&s, t, b});
        }
        for (DType t : kKTypes) {
            for (int b : {1, 2, 7}) cases.push_back({&s, t, b});
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

size_t row_size(DType t, int64_t n) {
    const DTypeTraits& tr = dtype_traits(t);
    return static_cast<size_t>(n / tr.block_elems * tr.block_bytes);
}

// Random floats in [-1, 1], each 32-element group scaled by its own factor in [0.1, 10] so
// blocks of one row get different scales.
std::vector<float> random_floats(int64_t n, std::mt19937& rng) {
    std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
    std::vector<float> x(static_cast<size_t>(n));
    float scale = 1.0f;
    for (int64_t i = 0; i < n; ++i) {
        if (i % kQK == 0) scale = std::pow(10.0f, unit(rng));
        x[i] = unit(rng) * scale;
    }
    return x;
}

// K-quant rows have no reference quantizer here: random bytes for codes and packed scales,
// then small random super-block scales so the values stay in a realistic range.
template <class Block>
void randomize_k_blocks(std::vector<uint8_t>& row, std::mt19937& rng) {
    std::uniform_int_distribution<int> byte(0, 255);
    for (uint8_t& v : row) v = static_cast<uint8_t>(byte(rng));
    std::uniform_real_distribution<float> mag(1e-3f, 1e-2f);
    auto* blocks = reinterpret_cast<Block*>(row.data());
    for (size_t b = 0; b < row.size() / sizeof(Block); ++b) {
        const float sign = byte(rng) & 1 ? -1.0f : 1.0f;
        blocks[b].d = fp32_to_fp16(sign * mag(rng));
        if constexpr (requires { blocks[b].dmin; }) blocks[b].dmin = fp32_to_fp16(mag(rng));
    }
}

std::vector<uint8_t> make_weights(DType t, int64_t n, std::mt19937& rng) {
    std::vector<uint8_t> row(row_size(t, n));
    switch (t) {
        case DType::kQ2_K:
            randomize_k_blocks<BlockQ2_K>(row, rng);
            break;
        case DType::kQ3_K:
            randomize_k_blocks<BlockQ3_K>(row, rng);
            break;
        case DType::kQ4_K:
            randomize_k_blocks<BlockQ4_K>(row, rng);
            break;
        case DType::kQ5_K:
            randomize_k_blocks<BlockQ5_K>(row, rng);
            break;
        case DType::kQ6_K:
            randomize_k_blocks<BlockQ6_K>(row, rng);
            break;
        default: {
            const std::vector<float> x = random_floats(n, rng);
            dtype_traits(t).from_float(x.data(), row.data(), n);
        }
    }
    return row;
}

std::vector<float> dequant(DType t, const std::vector<uint8_t>& row, int64_t n) {
    std::vector<float> y(static_cast<size_t>(n));
    dtype_traits(t).to_float(row.data(), y.data(), n);
    return y;
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

    const std::vector<float> wf = dequant(c.type, w, n);
    const std::vector<float> af = dequant(act_type, a, n);
    double expected = q8_1_offset_correction(c.type, w, a, n);
    double magnitude = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        const double p = static_cast<double>(wf[i]) * af[i];
        expected += p;
        magnitude += std::fabs(p);
    }
    const float got = k.vec_dot[static_cast<size_t>(c.type)](n, w.data(), a.data());
    EXPECT_NEAR(got, expected, 1e-5 * magnitude + 1e-6) << "magnitude " << magnitude;
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
// the reference covers every type we can compute with.
TEST(VecDotTable, ReferenceCoversComputableTypes) {
    const CpuKernels& k = *kernel_sets().front().kernels;
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
    for (DType act :
         {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ8_1, DType::kQ8_K}) {
        EXPECT_NE(k.quantize_act[static_cast<size_t>(act)], nullptr) << dtype_name(act);
    }
}

}  // namespace
}  // namespace sobre::kernels
