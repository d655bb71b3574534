// Routing variants against hand-computed expectations, and the expert grouping checked against
// the routing (calls and bytes) and against a per-token computation.
#include "model/moe.h"

#include <gtest/gtest.h>

#include <cstring>

#include <cmath>
#include <random>

namespace sobre::model {
namespace {

Routing route1(const MoeOptions& o, std::vector<float> logits, const std::vector<float>& bias = {}) {
    Routing r;
    route(o, logits.data(), bias.empty() ? nullptr : bias.data(), 1, r);
    return r;
}

// softmax(0, ln 2, ln 3, ln 4) = (1, 2, 3, 4) / 10
const std::vector<float> kLogits1234 = {0.0f, std::log(2.0f), std::log(3.0f), std::log(4.0f)};

TEST(Route, SoftmaxTopKRenormalised) {
    MoeOptions o{.n_expert = 4, .n_expert_used = 2, .gating = Gating::kSoftmax, .norm_weights = true};
    const Routing r = route1(o, kLogits1234);
    EXPECT_EQ(r.experts, (std::vector<int32_t>{3, 2}));
    EXPECT_NEAR(r.weights[0], 0.4 / 0.7, 1e-6);
    EXPECT_NEAR(r.weights[1], 0.3 / 0.7, 1e-6);
}

TEST(Route, SoftmaxWithoutRenormalisationKeepsProbabilities) {
    MoeOptions o{.n_expert = 4, .n_expert_used = 2, .gating = Gating::kSoftmax};
    const Routing r = route1(o, kLogits1234);
    EXPECT_NEAR(r.weights[0], 0.4, 1e-6);
    EXPECT_NEAR(r.weights[1], 0.3, 1e-6);
}

// Sigmoid(0) = 0.5 everywhere; the bias picks experts 3 and 1 but the weights stay unbiased,
// then renormalise to 0.5 each and scale by 2.5.
TEST(Route, SelectionBiasChoosesButDoesNotWeigh) {
    MoeOptions o{.n_expert = 4, .n_expert_used = 2, .gating = Gating::kSigmoid, .norm_weights = true,
                 .weights_scale = 2.5f};
    const Routing r = route1(o, {0, 0, 0, 0}, {0.0f, 0.1f, -0.1f, 0.2f});
    EXPECT_EQ(r.experts, (std::vector<int32_t>{3, 1}));
    EXPECT_NEAR(r.weights[0], 1.25, 1e-6);
    EXPECT_NEAR(r.weights[1], 1.25, 1e-6);
}

TEST(Route, TiesGoToTheLowerExpert) {
    MoeOptions o{.n_expert = 5, .n_expert_used = 3, .gating = Gating::kSoftmax};
    const Routing r = route1(o, {1, 1, 1, 1, 1});
    EXPECT_EQ(r.experts, (std::vector<int32_t>{0, 1, 2}));
    EXPECT_NEAR(r.weights[0], 0.2, 1e-6);
}

// 8 experts in 4 groups of 2, 2 groups kept. Selection = 0.5 + bias:
//   g0 {0.6, 0.5} sum 1.1 | g1 {0.8, 0.2} sum 1.0 | g2 {0.54, 0.54} sum 1.08 | g3 {0.7, 0.7} sum 1.4
// Groups 3 and 0 survive, so expert 2 (the single best score) is excluded; top-3 = 6, 7, 0.
TEST(Route, GroupLimitedBySumOfTopTwo) {
    MoeOptions o{.n_expert = 8, .n_expert_used = 3, .n_group = 4, .n_group_used = 2, .gating = Gating::kSigmoid,
                 .norm_weights = true};
    const Routing r = route1(o, std::vector<float>(8, 0.0f), {0.1f, 0.0f, 0.3f, -0.3f, 0.04f, 0.04f, 0.2f, 0.2f});
    EXPECT_EQ(r.experts, (std::vector<int32_t>{6, 7, 0}));
    for (float w : r.weights) EXPECT_NEAR(w, 1.0 / 3, 1e-6);
}

TEST(Route, OneGroupIsPlainTopK) {
    MoeOptions o{.n_expert = 8, .n_expert_used = 3, .n_group = 1, .n_group_used = 1, .gating = Gating::kSigmoid};
    const Routing r = route1(o, std::vector<float>(8, 0.0f), {0.1f, 0.0f, 0.3f, -0.3f, 0.04f, 0.04f, 0.2f, 0.2f});
    EXPECT_EQ(r.experts, (std::vector<int32_t>{2, 6, 7}));
}

// sigmoid(-20) = 2.06e-9 each; their sum is below the reference's clamp of 6.1035e-5.
TEST(Route, RenormalisationClampsTinySums) {
    MoeOptions o{.n_expert = 2, .n_expert_used = 2, .gating = Gating::kSigmoid, .norm_weights = true};
    const Routing r = route1(o, {-20, -20});
    const double p = 1.0 / (1.0 + std::exp(20.0));
    EXPECT_NEAR(r.weights[0], p / 6.103515625e-5, 1e-9);
}

// Router = identity, so token t picks the expert its one-hot input names.
struct TinyMoe {
    static constexpr int64_t kEmbd = 4, kFf = 8, kExperts = 4;
    std::vector<float> router, gate, up, down;
    MoeWeights w;
    TinyMoe() {
        std::mt19937 rng(5);
        std::normal_distribution<float> d(0.0f, 0.5f);
        router.assign(kEmbd * kExperts, 0.0f);
        for (int i = 0; i < kExperts; ++i) router[i * kEmbd + i] = 1.0f;
        for (auto* v : {&gate, &up, &down}) {
            v->resize(kEmbd * kFf * kExperts);
            for (float& x : *v) x = d(rng);
        }
        w.gate_inp = view(router.data(), {kEmbd, kExperts, 1});
        w.gate_exps = view(gate.data(), {kEmbd, kFf, kExperts});
        w.up_exps = view(up.data(), {kEmbd, kFf, kExperts});
        w.down_exps = view(down.data(), {kFf, kEmbd, kExperts});
    }
    static TensorView view(const float* p, std::array<int64_t, 3> ne) {
        TensorView v;
        v.type = DType::kF32;
        v.ne[0] = ne[0];
        v.ne[1] = ne[1];
        v.ne[2] = ne[2];
        v.data = reinterpret_cast<const uint8_t*>(p);
        return v;
    }
    // down_e(silu(gate_e x) * up_e x) computed directly in double.
    std::vector<double> expert(int e, const float* x) const {
        std::vector<double> h(kFf), y(kEmbd, 0.0);
        for (int64_t f = 0; f < kFf; ++f) {
            double g = 0, u = 0;
            for (int64_t c = 0; c < kEmbd; ++c) {
                g += gate[(e * kFf + f) * kEmbd + c] * x[c];
                u += up[(e * kFf + f) * kEmbd + c] * x[c];
            }
            h[f] = g / (1 + std::exp(-g)) * u;
        }
        for (int64_t c = 0; c < kEmbd; ++c) {
            for (int64_t f = 0; f < kFf; ++f) y[c] += down[(e * kEmbd + c) * kFf + f] * h[f];
        }
        return y;
    }
};

TEST(MoeFfn, ReadsEachSelectedExpertOncePerBatch) {
    TinyMoe m;
    const std::vector<int> picks = {0, 2, 2, 0, 2};  // experts 0 and 2 only
    std::vector<float> x(picks.size() * TinyMoe::kEmbd, 0.0f);
    for (size_t t = 0; t < picks.size(); ++t) x[t * TinyMoe::kEmbd + picks[t]] = 5.0f;
    MoeOptions o{.n_expert = 4, .n_expert_used = 1, .gating = Gating::kSoftmax, .norm_weights = true};
    std::vector<float> out(x.size());
    ThreadPool pool(2);
    MoeStats stats;
    moe_ffn(o, m.w, x.data(), static_cast<int64_t>(picks.size()), out.data(), pool, &stats);
    EXPECT_EQ(stats.expert_matmuls, 2 * 3);
    EXPECT_EQ(stats.expert_bytes, 2 * 3 * TinyMoe::kEmbd * TinyMoe::kFf * 4);
    for (size_t t = 0; t < picks.size(); ++t) {
        const std::vector<double> want = m.expert(picks[t], &x[t * TinyMoe::kEmbd]);
        for (int64_t c = 0; c < TinyMoe::kEmbd; ++c) EXPECT_NEAR(out[t * TinyMoe::kEmbd + c], want[c], 1e-4);
    }
}

TEST(MoeFfn, SumsWeightedExpertsInSelectionOrder) {
    TinyMoe m;
    // Logits (after the identity router) 3, 2, 1, 0 -> top-2 = experts 0 and 1 with softmax weights.
    const float x[4] = {3, 2, 1, 0};
    MoeOptions o{.n_expert = 4, .n_expert_used = 2, .gating = Gating::kSoftmax};
    float out[4];
    ThreadPool pool(1);
    moe_ffn(o, m.w, x, 1, out, pool);
    const double z = std::exp(3.0) + std::exp(2.0) + std::exp(1.0) + 1.0;
    const std::vector<double> y0 = m.expert(0, x), y1 = m.expert(1, x);
    for (int c = 0; c < 4; ++c) EXPECT_NEAR(out[c], std::exp(3.0) / z * y0[c] + std::exp(2.0) / z * y1[c], 1e-4);
}

// Decode runs one token through kernels::matmul_vectors; the result must be that token's bits in
// a batch (prefix caching and continuous batching compare the two).
TEST(MoeFfn, OneTokenGivesItsBitsInABatch) {
    TinyMoe m;
    std::mt19937 rng(11);
    std::normal_distribution<float> d(0.0f, 1.0f);
    std::vector<float> x(5 * TinyMoe::kEmbd);
    for (float& v : x) v = d(rng);
    MoeOptions o{.n_expert = 4, .n_expert_used = 2, .gating = Gating::kSoftmax, .norm_weights = true};
    ThreadPool pool(2);
    std::vector<float> batch(x.size());
    moe_ffn(o, m.w, x.data(), 5, batch.data(), pool);
    for (int64_t t = 0; t < 5; ++t) {
        float alone[TinyMoe::kEmbd];
        MoeStats stats;
        moe_ffn(o, m.w, &x[t * TinyMoe::kEmbd], 1, alone, pool, &stats);
        EXPECT_EQ(0, std::memcmp(alone, &batch[t * TinyMoe::kEmbd], sizeof alone)) << "token " << t;
        EXPECT_EQ(stats.expert_matmuls, 2 * 3);
    }
}

}  // namespace
}  // namespace sobre::model
