// Row operations against values computed by hand (not by our own code).
#include "kernels/cpu/ops.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace sobre::kernels {
namespace {

TEST(RmsNorm, HandComputed) {
    // mean(x^2) = (9 + 16) / 2 = 12.5; scale = 1 / sqrt(12.5 + 0.5) = 1 / sqrt(13)
    const float x[2] = {3, -4};
    const float w[2] = {2, 0.5f};
    float y[2];
    rms_norm(x, w, y, 2, 0.5f);
    EXPECT_NEAR(y[0], 3 * 2 / std::sqrt(13.0), 1e-6);
    EXPECT_NEAR(y[1], -4 * 0.5 / std::sqrt(13.0), 1e-6);
}

TEST(Softmax, HandComputedWithScale) {
    // scale 2: logits {0, ln 2, ln 3} -> weights 1 : 2 : 3
    float x[3] = {0, std::log(2.0f) / 2, std::log(3.0f) / 2};
    softmax(x, 3, 2.0f);
    EXPECT_NEAR(x[0], 1.0 / 6, 1e-6);
    EXPECT_NEAR(x[1], 2.0 / 6, 1e-6);
    EXPECT_NEAR(x[2], 3.0 / 6, 1e-6);
}

TEST(Swiglu, HandComputed) {
    const float g[2] = {0, 2};
    const float u[2] = {5, 3};
    float o[2];
    swiglu(g, u, o, 2);
    EXPECT_NEAR(o[0], 0, 1e-7);
    EXPECT_NEAR(o[1], 2 / (1 + std::exp(-2.0)) * 3, 1e-6);
}

// Position 1, base 10000, 4 rotated dims: theta_0 = 1, theta_1 = 10000^(-1/2) = 0.01.
TEST(Rope, NormStyleRotatesAdjacentPairs) {
    RopeParams p;
    p.style = RopeStyle::kNorm;
    p.n_dims = 4;
    std::vector<float> cs(4);
    rope_cache(p, 1, cs.data());
    float x[6] = {1, 0, 0, 1, 7, 8};  // dims 4, 5 pass through (partial rotary)
    rope_apply(p, cs.data(), x, 1, 6);
    EXPECT_NEAR(x[0], std::cos(1.0), 1e-6);
    EXPECT_NEAR(x[1], std::sin(1.0), 1e-6);
    EXPECT_NEAR(x[2], -std::sin(0.01), 1e-6);
    EXPECT_NEAR(x[3], std::cos(0.01), 1e-6);
    EXPECT_EQ(x[4], 7);
    EXPECT_EQ(x[5], 8);
}

TEST(Rope, NeoxStyleRotatesHalves) {
    RopeParams p;
    p.style = RopeStyle::kNeox;
    p.n_dims = 4;
    std::vector<float> cs(4);
    rope_cache(p, 2, cs.data());
    float x[4] = {1, 1, 0, 0};  // pairs (x0, x2) with theta 2 and (x1, x3) with theta 0.02
    rope_apply(p, cs.data(), x, 1, 4);
    EXPECT_NEAR(x[0], std::cos(2.0), 1e-6);
    EXPECT_NEAR(x[2], std::sin(2.0), 1e-6);
    EXPECT_NEAR(x[1], std::cos(0.02), 1e-6);
    EXPECT_NEAR(x[3], std::sin(0.02), 1e-6);
}

TEST(Rope, LinearScalingAndFreqFactorsDivideTheta) {
    RopeParams p;
    p.style = RopeStyle::kNorm;
    p.n_dims = 2;
    p.freq_scale = 0.5f;
    const float factors[1] = {4.0f};
    p.freq_factors = factors;
    std::vector<float> cs(2);
    rope_cache(p, 8, cs.data());  // theta = 8 / 4 * 0.5 = 1
    EXPECT_NEAR(cs[0], std::cos(1.0), 1e-6);
    EXPECT_NEAR(cs[1], std::sin(1.0), 1e-6);
}

}  // namespace
}  // namespace sobre::kernels
