// The importance-weighted quantizers (llama-quantize --imatrix). Their bytes are checked against
// llama-quantize end to end (tests/cli/eval_test.sh); here, that each one does what the weights
// are for: columns that matter more come back closer.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace sobre {
namespace {

constexpr int64_t kRow = 512;
constexpr int kRows = 32;

struct Errors {
    double weighted = 0;    // with the importance-weighted quantizer
    double unweighted = 0;  // with the reference one
};

// Sum over rows of sum_i importance_i * (x_i - q_i)^2 for both quantizers.
Errors weighted_errors(DType t, const std::vector<float>& importance, uint32_t seed) {
    const DTypeTraits& tr = dtype_traits(t);
    const FromFloatWeightedFn weighted = from_float_weighted(t);
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> x(kRow), back(kRow);
    std::vector<uint8_t> q(static_cast<size_t>(row_bytes(t, kRow)));
    Errors e;
    for (int r = 0; r < kRows; ++r) {
        for (float& v : x) v = dist(rng);
        for (int pass = 0; pass < 2; ++pass) {
            if (pass == 0) {
                weighted(x.data(), q.data(), kRow, importance.data());
            } else {
                tr.from_float(x.data(), q.data(), kRow);
            }
            tr.to_float(q.data(), back.data(), kRow);
            double err = 0;
            for (int64_t i = 0; i < kRow; ++i) err += importance[i] * (x[i] - back[i]) * (x[i] - back[i]);
            (pass == 0 ? e.weighted : e.unweighted) += err;
        }
    }
    return e;
}

class WeightedQuant : public ::testing::TestWithParam<DType> {};

TEST_P(WeightedQuant, FavoursTheImportantColumns) {
    // Importance spread over two orders of magnitude, as an imatrix's typically is.
    std::mt19937 rng(11);
    std::normal_distribution<float> dist(0.0f, 1.5f);
    std::vector<float> importance(kRow);
    for (float& w : importance) w = std::exp(dist(rng));
    const Errors e = weighted_errors(GetParam(), importance, 5);
    EXPECT_LT(e.weighted, 0.95 * e.unweighted) << dtype_name(GetParam());
}

TEST_P(WeightedQuant, StaysAQuantizationWithFlatImportance) {
    const std::vector<float> flat(kRow, 1.0f);
    const Errors e = weighted_errors(GetParam(), flat, 9);
    // Within 10% of the reference's error either way: same format, another fit.
    EXPECT_LT(e.weighted, 1.1 * e.unweighted) << dtype_name(GetParam());
    EXPECT_GT(e.weighted, 0.0);
}

TEST(WeightedQuant, OnlyTypesWhoseFitUsesTheWeights) {
    for (DType t : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0}) EXPECT_EQ(from_float_weighted(t), nullptr);
}

INSTANTIATE_TEST_SUITE_P(Types, WeightedQuant,
                         ::testing::Values(DType::kQ4_0, DType::kQ4_1, DType::kQ5_0, DType::kQ5_1, DType::kQ2_K,
                                           DType::kQ3_K, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K),
                         [](const ::testing::TestParamInfo<DType>& i) { return std::string(dtype_name(i.param)); });

}  // namespace
}  // namespace sobre
