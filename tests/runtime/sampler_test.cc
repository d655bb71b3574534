#include "runtime/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

namespace sobre::runtime {
namespace {

TEST(Sampler, GreedyTakesTheLowestIdOnTies) {
    const float logits[4] = {1, 3, 3, 2};
    EXPECT_EQ(argmax(logits, 4), 1);
    Sampler s(SamplerOptions{.temperature = 0});
    EXPECT_EQ(s.sample(logits, 4), 1);
}

TEST(Sampler, SameSeedSameDraws) {
    const float logits[5] = {0.1f, 0.2f, 0.3f, 0.2f, 0.1f};
    SamplerOptions o{.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .min_p = 0.0f, .seed = 42};
    Sampler a(o), b(o);
    for (int i = 0; i < 50; ++i) EXPECT_EQ(a.sample(logits, 5), b.sample(logits, 5));
}

TEST(Sampler, TopKKeepsOnlyTheBest) {
    const float logits[4] = {5, 4, -1, -2};
    Sampler s(SamplerOptions{.temperature = 2.0f, .top_k = 2, .top_p = 1.0f, .min_p = 0.0f, .seed = 1});
    for (int i = 0; i < 200; ++i) EXPECT_LT(s.sample(logits, 4), 2);
}

// softmax(ln 6, ln 3, ln 1) = 0.6, 0.3, 0.1: top-p 0.8 keeps the first two.
TEST(Sampler, TopPCutsTheTail) {
    const float logits[3] = {std::log(6.0f), std::log(3.0f), 0.0f};
    Sampler s(SamplerOptions{.temperature = 1.0f, .top_k = 0, .top_p = 0.8f, .min_p = 0.0f, .seed = 3});
    std::map<int, int> seen;
    for (int i = 0; i < 3000; ++i) seen[s.sample(logits, 3)]++;
    EXPECT_EQ(seen.count(2), 0u);
    EXPECT_NEAR(seen[0] / 3000.0, 2.0 / 3, 0.05);  // 0.6 / 0.9 after renormalising
}

// min-p 0.2 of p_max 0.6 drops tokens below 0.12: the 0.1 one goes.
TEST(Sampler, MinPDropsTokensFarBelowTheBest) {
    const float logits[3] = {std::log(6.0f), std::log(3.0f), 0.0f};
    Sampler s(SamplerOptions{.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .min_p = 0.2f, .seed = 4});
    for (int i = 0; i < 1000; ++i) EXPECT_NE(s.sample(logits, 3), 2);
}

}  // namespace
}  // namespace sobre::runtime
