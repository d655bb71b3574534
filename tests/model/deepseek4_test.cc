// DeepSeek-V4: the hyper-connection mixers against their definition, RoPE and its inverse, the
// compressed-attention state carried across calls and sequences, the compact cache, and clear
// errors for files the model cannot run.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/error.h"
#include "model/dsv4_blocks.h"
#include "model/fixture_tools.h"
#include "model/fixtures.h"
#include "model/hyper_connections.h"
#include "model/model.h"
#include "runtime/kv_cache.h"

namespace sobre::model {
namespace {

using testing::max_abs_diff;
using testing::Metadata;
using testing::set_u32;

std::vector<float> random_values(size_t n, uint32_t seed, float scale = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, scale);
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng);
    return v;
}

TensorView f32_view(const std::vector<float>& v, int64_t ne0, int64_t ne1 = 1) {
    TensorView t;
    t.type = DType::kF32;
    t.ne[0] = ne0;
    t.ne[1] = ne1;
    t.data = reinterpret_cast<const uint8_t*>(v.data());
    return t;
}

constexpr int64_t kEmbd = 8;
const HcOptions kHc{4, 20, 1e-6f, 1e-6f};

TEST(HyperConnections, SinkhornMixIsDoublyStochastic) {
    const std::vector<float> fn = random_values(4 * kEmbd * 24, 1, 0.5f),
                             base = random_values(24, 2);
    const std::vector<float> scale = {1.0f, 0.7f, 1.3f}, streams = random_values(2 * 4 * kEmbd, 3);
    HcMix mix;
    ThreadPool pool(1);
    hc_weights(kHc, {f32_view(fn, 4 * kEmbd, 24), f32_view(base, 24), f32_view(scale, 3)},
               streams.data(), 2, kEmbd, false, mix, pool);
    for (int t = 0; t < 2; ++t) {
        for (int i = 0; i < 4; ++i) {
            EXPECT_GT(mix.pre[t * 4 + i], 0.0f);
            EXPECT_LT(mix.pre[t * 4 + i], 1.0f + 1e-5f);
            EXPECT_GT(mix.post[t * 4 + i], 0.0f);
            EXPECT_LT(mix.post[t * 4 + i], 2.0f);
            float row = 0, col = 0;
            for (int j = 0; j < 4; ++j) {
                row += mix.comb[t * 16 + i * 4 + j];
                col += mix.comb[t * 16 + j * 4 + i];
            }
            EXPECT_NEAR(row, 1.0f, 1e-4f);  // Sinkhorn ends normalising each destination
            EXPECT_NEAR(col, 1.0f, 1e-2f);  // and has nearly converged over sources
        }
    }
}

TEST(HyperConnections, CollapseAndExpandFollowTheirFormulas) {
    HcMix mix;
    mix.pre = {0.5f, 0.25f, 0.0f, 1.0f};
    mix.post = {2.0f, 0.0f, 1.0f, 0.5f};
    mix.comb.assign(16, 0.0f);
    for (int d = 0; d < 4; ++d)
        mix.comb[d * 4 + (d + 1) % 4] = 1.0f;  // destination d takes stream d + 1
    std::vector<float> streams = random_values(4 * kEmbd, 4);
    const std::vector<float> before = streams, y = random_values(kEmbd, 5);
    std::vector<float> x(kEmbd);
    hc_collapse(kHc, mix, streams.data(), 1, kEmbd, x.data());
    hc_expand(kHc, mix, y.data(), 1, kEmbd, streams.data());
    for (int e = 0; e < kEmbd; ++e) {
        EXPECT_NEAR(x[e], 0.5f * before[e] + 0.25f * before[kEmbd + e] + before[3 * kEmbd + e],
                    1e-6f);
        for (int d = 0; d < 4; ++d) {
            EXPECT_NEAR(streams[d * kEmbd + e],
                        mix.post[d] * y[e] + before[(d + 1) % 4 * kEmbd + e], 1e-6f);
        }
    }
}

TEST(Dsv4, InverseRopeUndoesRopeOnTheLastDims) {
    kernels::RopeParams p;
    p.n_dims = 16;
    p.freq_base = 160000.0f;
    p.freq_scale = 1.0f / 16;
    p.ext_factor = 1.0f;
    p.n_ctx_orig = 65536;
    p.attn_factor = 1.0f / (1.0f + 0.1f * std::log(16.0f));
    const std::vector<float> x = random_values(2 * 32, 6);
    std::vector<float> y = x;
    rope_last(p, 1234, 16, y.data(), 2, 32);
    for (int h = 0; h < 2; ++h) {
        for (int i = 0; i < 16; ++i)
            EXPECT_EQ(y[h * 32 + i], x[h * 32 + i]);  // first dims untouched
    }
    EXPECT_GT(max_abs_diff(x, y), 1e-2);
    rope_last(p, 1234, 16, y.data(), 2, 32, true);
    EXPECT_LE(max_abs_diff(x, y), 1e-5);
}

// Per token and layer only packed compressed blocks stay in the cache: (D + d_I) / 4 for the
// ratio-4 layer; the window and the unfinished blocks are fixed per-sequence state.
TEST(Dsv4, CacheHoldsOnlyPackedBlocks) {
    const auto m = load_model(testing::models_dir() + "/deepseek4-Q8_0.gguf");
    EXPECT_EQ(m->info().kv.k_width, (32 + 64) / 4);
    EXPECT_EQ(m->info().kv.v_width, 0);
    // Window ring 16 x 32, plus the ratio-128 ring of 128 tokens x (32 values + 32 scores).
    EXPECT_EQ(m->info().kv.state_width, 16 * 32 + 128 * 2 * 32);
}

// The window, the compressor rings and the packed blocks carry over between calls and stay apart
// per sequence (llama.cpp: micro-batches of 7 are bit-exact with one batch on the F32 file).
TEST(Dsv4, MicroBatchesAndInterleavedSequencesMatchOneBatch) {
    const auto m = load_model(testing::models_dir() + "/deepseek4-F32.gguf");
    const std::vector<int32_t> prompt =
        testing::read_ids(testing::models_dir() + "/deepseek4-F32.tokens");
    const auto n = static_cast<int64_t>(prompt.size());
    const std::vector<float> one = testing::logits_in_chunks(*m, prompt, n);
    EXPECT_LE(max_abs_diff(testing::logits_in_chunks(*m, prompt, 7), one), 1e-5);
    EXPECT_LE(max_abs_diff(testing::logits_in_chunks(*m, prompt, 1), one), 1e-5);
    std::vector<int32_t> other = prompt;
    std::reverse(other.begin() + 1, other.end());
    const auto [a, b] = testing::logits_interleaved(*m, prompt, other);
    EXPECT_LE(max_abs_diff(a, one), 1e-5);
    EXPECT_LE(max_abs_diff(b, testing::logits_in_chunks(*m, other, n)), 1e-5);
}

TEST(Dsv4, PositionsMustBeConsecutivePerSequence) {
    const auto m = load_model(testing::models_dir() + "/deepseek4-F32.gguf");
    runtime::KvCache kv(m->info().kv, 8);
    Batch b;
    b.add(1, 0, 0, true);
    b.add(5, 2, 0, true);
    std::vector<float> out(static_cast<size_t>(2 * m->info().n_vocab));
    ThreadPool pool(1);
    try {
        m->forward(b, kv, pool, out.data());
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
        EXPECT_NE(std::string(e.what()).find("position 2 after 0"), std::string::npos) << e.what();
    }
}

class Dsv4Files : public ::testing::Test {
   protected:
    std::string error(const testing::KeyEdit& edit, const std::set<std::string>& drop = {}) {
        return files_.load_error("deepseek4-F32", edit, drop, &kind_);
    }
    testing::FixtureRewriter files_{"dsv4"};
    ErrorKind kind_{};
};

TEST_F(Dsv4Files, MoreThanOneKvHeadIsRejected) {
    const std::string e =
        error([](Metadata& k) { set_u32(k, "deepseek4.attention.head_count_kv", 2); });
    EXPECT_NE(e.find("deepseek4.attention.head_count_kv = 2, but deepseek4 has one K = V head"),
              std::string::npos)
        << e;
}

TEST_F(Dsv4Files, UnknownCompressRatioIsRejected) {
    const std::string e = error([](Metadata& keys) {
        for (auto& [k, v] : keys) {
            if (k == "deepseek4.attention.compress_ratios") v = gguf::Value::of_i32s({0, 8, 128});
        }
    });
    EXPECT_EQ(kind_, ErrorKind::kUnsupported);
    EXPECT_NE(e.find("supported ratios are 0, 4 and 128"), std::string::npos) << e;
}

TEST_F(Dsv4Files, CompressRatiosNeedOnePerLayer) {
    const std::string e = error([](Metadata& keys) {
        for (auto& [k, v] : keys) {
            if (k == "deepseek4.attention.compress_ratios") v = gguf::Value::of_i32s({0, 4});
        }
    });
    EXPECT_NE(e.find("deepseek4.attention.compress_ratios must hold a number per layer (3 layers)"),
              std::string::npos)
        << e;
}

TEST_F(Dsv4Files, OnlyFourStreamsAreSupported) {
    const std::string e =
        error([](Metadata& k) { set_u32(k, "deepseek4.hyper_connection.count", 3); });
    EXPECT_EQ(kind_, ErrorKind::kUnsupported);
    EXPECT_NE(e.find("deepseek4.hyper_connection.count = 3"), std::string::npos) << e;
}

TEST_F(Dsv4Files, GatingMustBeSqrtSoftplus) {
    const std::string e = error([](Metadata& k) { set_u32(k, "deepseek4.expert_gating_func", 2); });
    EXPECT_NE(e.find("deepseek4.expert_gating_func must be 4"), std::string::npos) << e;
}

TEST_F(Dsv4Files, TopKOfZeroIsAClearError) {
    const std::string e =
        error([](Metadata& k) { set_u32(k, "deepseek4.attention.indexer.top_k", 0); });
    EXPECT_NE(e.find("deepseek4.attention.indexer.top_k = 0"), std::string::npos) << e;
}

TEST_F(Dsv4Files, MissingStateTensorsAreNamed) {
    EXPECT_NE(error([](Metadata&) {}, {"blk.0.ffn_gate_tid2eid.weight"})
                  .find("missing tensor 'blk.0.ffn_gate_tid2eid.weight'"),
              std::string::npos);
    EXPECT_NE(error([](Metadata&) {}, {"blk.2.attn_compressor_ape.weight"})
                  .find("missing tensor 'blk.2.attn_compressor_ape.weight'"),
              std::string::npos);
    EXPECT_NE(error([](Metadata&) {}, {"blk.1.indexer_compressor_norm.weight"})
                  .find("missing tensor 'blk.1.indexer_compressor_norm.weight'"),
              std::string::npos);
    EXPECT_NE(error([](Metadata&) {}, {"blk.1.hc_ffn_fn.weight"})
                  .find("missing tensor 'blk.1.hc_ffn_fn.weight'"),
              std::string::npos);
}

}  // namespace
}  // namespace sobre::model
