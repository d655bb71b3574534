// Gated DeltaNet: the chunked prefill form against the token-by-token recurrence on the same
// inputs, the conv state, the hybrid models' state handling across calls and sequences, and
// the load errors of bad hybrid files.
#include "model/deltanet.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <random>
#include <set>

#include "core/error.h"
#include "gguf/writer.h"
#include "model/fixtures.h"
#include "model/model.h"
#include "runtime/kv_cache.h"

namespace sobre {
namespace {

using model::DeltaRuleInput;

// Random delta-rule inputs for one head: L2-normalised q/k, decays from none to strong.
struct HeadData {
    int64_t n = 0;
    int d = 0;
    std::vector<float> q, k, v, g, beta, state;

    HeadData(int64_t n_tokens, int dim, uint32_t seed) : n(n_tokens), d(dim) {
        std::mt19937 rng(seed);
        std::normal_distribution<float> normal(0.0f, 1.0f);
        std::uniform_real_distribution<float> uni(0.0f, 1.0f);
        q.resize(static_cast<size_t>(n * d));
        k.resize(q.size());
        v.resize(q.size());
        for (float& x : v) x = normal(rng);
        for (auto* m : {&q, &k}) {
            for (int64_t t = 0; t < n; ++t) {
                double ss = 0;
                for (int i = 0; i < d; ++i) ss += std::pow((*m)[t * d + i] = normal(rng), 2);
                for (int i = 0; i < d; ++i) (*m)[t * d + i] /= static_cast<float>(std::sqrt(ss));
            }
        }
        for (int64_t t = 0; t < n; ++t) {
            const float r = uni(rng);
            g.push_back(t % 17 == 5 ? -30.0f : -3.0f * r * r);  // includes a near-total reset
            beta.push_back(uni(rng));
        }
        state.resize(static_cast<size_t>(d * d));
        for (float& x : state) x = 0.3f * normal(rng);  // a state carried from an earlier call
    }

    DeltaRuleInput input(int64_t first = 0, int64_t count = -1) const {
        DeltaRuleInput in;
        in.n_tokens = count < 0 ? n - first : count;
        in.dk = in.dv = d;
        in.q = q.data() + first * d;
        in.k = k.data() + first * d;
        in.qk_stride = d;
        in.v = v.data() + first * d;
        in.v_stride = d;
        in.g = g.data() + first;
        in.beta = beta.data() + first;
        in.gb_stride = 1;
        return in;
    }
};

// The recurrence in double: the ground truth both float forms are held to.
std::vector<double> reference(const HeadData& h, std::vector<double>& S) {
    const int d = h.d;
    std::vector<double> out(static_cast<size_t>(h.n * d)), u(d);
    for (int64_t t = 0; t < h.n; ++t) {
        const float* q = &h.q[t * d];
        const float* k = &h.k[t * d];
        std::fill(u.begin(), u.end(), 0.0);
        for (int i = 0; i < d; ++i) {
            for (int c = 0; c < d; ++c) u[c] += k[i] * (S[i * d + c] *= std::exp(double{h.g[t]}));
        }
        for (int i = 0; i < d; ++i) {
            for (int c = 0; c < d; ++c) {
                S[i * d + c] += k[i] * h.beta[t] * (h.v[t * d + c] - u[c]);
                out[t * d + c] += q[i] * S[i * d + c] / std::sqrt(double(d));
            }
        }
    }
    return out;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<double>& b) {
    double m = 0;
    for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
    return m;
}

TEST(DeltaRule, ReadOutFollowsDecayThenDeltaThenUpdate) {
    // One dim, q = k = 1: S1 = b0 v0; S2 = e^g1 S1 + b1 (v1 - e^g1 S1); outputs read the updated S.
    const float q[2] = {1, 1}, k[2] = {1, 1}, v[2] = {2, 5}, g[2] = {-0.5f, -1.0f},
                beta[2] = {0.5f, 0.25f};
    DeltaRuleInput in{2, 1, 1, q, k, 1, v, 1, g, beta, 1};
    float S = 0, out[2];
    model::delta_rule_recurrent(in, &S, out, 1);
    const float s1 = 0.5f * 2, decayed = std::exp(-1.0f) * s1, s2 = decayed + 0.25f * (5 - decayed);
    EXPECT_FLOAT_EQ(out[0], s1);
    EXPECT_FLOAT_EQ(out[1], s2);
    EXPECT_FLOAT_EQ(S, s2);
}

// Chunk sizes that divide the prompt, leave a remainder, degenerate to one token, or cover it
// all; a carried-in state; decays from none to a near-total reset.
TEST(DeltaRule, ChunkedEqualsRecurrenceOnTheSameInputs) {
    for (int d : {16, 32, 128}) {
        const HeadData h(150, d, 7u + static_cast<uint32_t>(d));
        std::vector<double> S_ref(h.state.begin(), h.state.end());
        const std::vector<double> ref = reference(h, S_ref);
        std::vector<float> S_rec = h.state, out_rec(h.q.size());
        model::delta_rule_recurrent(h.input(), S_rec.data(), out_rec.data(), d);
        const double rec_err = max_abs_diff(out_rec, ref);
        EXPECT_LT(rec_err, 2e-5) << "recurrence vs float64, d=" << d;
        double worst_out = 0, worst_state = 0, worst_ref = 0;
        for (int chunk : {64, 16, 7, 1, 150, 1000}) {
            std::vector<float> S_ch = h.state, out_ch(h.q.size());
            model::delta_rule_chunked(h.input(), chunk, S_ch.data(), out_ch.data(), d);
            for (size_t i = 0; i < out_ch.size(); ++i) {
                worst_out = std::max(worst_out, double(std::fabs(out_ch[i] - out_rec[i])));
            }
            for (size_t i = 0; i < S_ch.size(); ++i) {
                worst_state = std::max(worst_state, double(std::fabs(S_ch[i] - S_rec[i])));
            }
            worst_ref = std::max(worst_ref, max_abs_diff(out_ch, ref));
        }
        std::printf(
            "  d=%d, 150 tokens, chunks 64/16/7/1/150/1000: max |chunked - recurrent| "
            "output %.1e state %.1e; vs float64: chunked %.1e, recurrent %.1e\n",
            d, worst_out, worst_state, worst_ref, rec_err);
        EXPECT_LT(worst_out, 2e-5) << "d=" << d;
        EXPECT_LT(worst_state, 2e-5) << "d=" << d;
    }
}

TEST(DeltaRule, StateCarriesAcrossCalls) {
    const int d = 32;
    const HeadData h(100, d, 99);
    std::vector<float> S_all = h.state, out_all(h.q.size());
    model::delta_rule_recurrent(h.input(), S_all.data(), out_all.data(), d);
    // Recurrence split anywhere: bit-identical (same operations in the same order).
    std::vector<float> S = h.state, out(h.q.size());
    model::delta_rule_recurrent(h.input(0, 37), S.data(), out.data(), d);
    model::delta_rule_recurrent(h.input(37), S.data(), out.data() + 37 * d, d);
    EXPECT_EQ(out, out_all);
    EXPECT_EQ(S, S_all);
    // Chunked prefill, then recurrent decode, like a prompt followed by generation.
    std::vector<float> S2 = h.state, out2(h.q.size());
    model::delta_rule_chunked(h.input(0, 90), 16, S2.data(), out2.data(), d);
    model::delta_rule_recurrent(h.input(90), S2.data(), out2.data() + 90 * d, d);
    for (size_t i = 0; i < out2.size(); ++i) ASSERT_NEAR(out2[i], out_all[i], 1e-4) << i;
}

TEST(CausalConv, OneByOneEqualsBatchAndStateHoldsTheLastInputs) {
    const int64_t n = 9, c = 5;
    const int d_conv = 4;
    std::mt19937 rng(3);
    std::normal_distribution<float> normal;
    std::vector<float> x(n * c), w(c * d_conv), st0((d_conv - 1) * c);
    for (auto* v : {&x, &w, &st0}) {
        for (float& f : *v) f = normal(rng);
    }
    std::vector<float> st_batch = st0, out_batch(n * c);
    model::causal_conv_silu(x.data(), n, c, w.data(), d_conv, st_batch.data(), out_batch.data());
    std::vector<float> st = st0, out(n * c);
    for (int64_t t = 0; t < n; ++t)
        model::causal_conv_silu(&x[t * c], 1, c, w.data(), d_conv, st.data(), &out[t * c]);
    EXPECT_EQ(out, out_batch);
    EXPECT_EQ(st, st_batch);
    EXPECT_EQ(st, std::vector<float>(x.end() - (d_conv - 1) * c, x.end()));
    // Token 0 sees the old state: tap j < 3 on state rows, tap 3 on x[0].
    float acc = 0;
    for (int j = 0; j < 3; ++j) acc += w[1 * d_conv + j] * st0[j * c + 1];
    acc += w[1 * d_conv + 3] * x[1];
    EXPECT_NEAR(out[1], acc / (1 + std::exp(-acc)), 1e-6);
}

// ---- Hybrid models: state across calls and sequences -----------------------------------------

class HybridState : public ::testing::Test {
   protected:
    void load(const std::string& name) {
        const std::string base = testing::models_dir() + "/" + name;
        model_ = model::load_model(base + ".gguf");
        prompt_ = testing::read_ids(base + ".tokens");
    }

    // Logits of every prompt token, fed in calls of `step` tokens, as sequence `seq` of `kv`.
    std::vector<float> run(runtime::KvCache& kv, int seq, int64_t step) {
        const int64_t n = static_cast<int64_t>(prompt_.size()), nv = model_->info().n_vocab;
        std::vector<float> out(static_cast<size_t>(n * nv));
        for (int64_t t0 = 0; t0 < n; t0 += step) {
            model::Batch b;
            for (int64_t t = t0; t < std::min(n, t0 + step); ++t)
                b.add(prompt_[t], static_cast<int32_t>(t), seq, true);
            model_->forward(b, kv, pool_, &out[t0 * nv]);
        }
        return out;
    }

    static double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
        double m = 0;
        for (size_t i = 0; i < a.size(); ++i) m = std::max(m, double(std::fabs(a[i] - b[i])));
        return m;
    }

    std::unique_ptr<model::Model> model_;
    std::vector<int32_t> prompt_;
    ThreadPool pool_{2};
};

TEST_F(HybridState, CacheHoldsKvOnlyForAttentionLayersAndStateOnlyForDeltaNet) {
    load("qwen35-F32");  // RRRA: 3 DeltaNet layers (conv 4, 2 key / 4 value heads of 32), 1
                         // attention
    const model::KvLayout& kv = model_->info().kv;
    EXPECT_EQ(kv.n_layer, 1);
    EXPECT_EQ(kv.k_width, 2 * 32);
    EXPECT_EQ(kv.v_width, 2 * 32);
    EXPECT_EQ(kv.state_width, 3 * (1 + 3 * (2 * 2 * 32 + 4 * 32) + 4 * 32 * 32));
    load("qwen3next-F32");  // RRA
    EXPECT_EQ(model_->info().kv.n_layer, 1);
    EXPECT_EQ(model_->info().kv.state_width, 2 * (1 + 3 * 256 + 4 * 32 * 32));
}

TEST_F(HybridState, MicroBatchesEqualOneBatch) {
    for (const char* name : {"qwen35-F32", "qwen35moe-F32", "qwen3next-F32"}) {
        load(name);
        const int64_t n = static_cast<int64_t>(prompt_.size());
        runtime::KvCache a(model_->info().kv, n), b(model_->info().kv, n);
        const double d = max_diff(run(a, 0, n), run(b, 0, 7));
        std::printf("  %s: micro-batches of 7 vs one batch: max |diff| %.2e\n", name, d);
        EXPECT_LT(d, 1e-4) << name;
    }
}

TEST_F(HybridState, SequencesInOneBatchKeepSeparateStates) {
    load("qwen3next-F32");
    const int64_t n = static_cast<int64_t>(prompt_.size()), nv = model_->info().n_vocab;
    runtime::KvCache solo(model_->info().kv, n);
    const std::vector<float> alone = run(solo, 0, n);
    // Sequence 1 gets the prompt; sequence 0 a different one; tokens interleaved in one batch.
    runtime::KvCache kv(model_->info().kv, runtime::KvCacheOptions{8, 16, 2});
    ASSERT_TRUE(kv.reserve(0, n));
    ASSERT_TRUE(kv.reserve(1, n));
    model::Batch b;
    for (int64_t t = 0; t < n; ++t) {
        b.add(prompt_[n - 1 - t], static_cast<int32_t>(t), 0, false);
        b.add(prompt_[t], static_cast<int32_t>(t), 1, true);
    }
    std::vector<float> out(static_cast<size_t>(n * nv));
    model_->forward(b, kv, pool_, out.data());
    EXPECT_LT(max_diff(out, alone), 1e-4);
}

TEST_F(HybridState, GapsAreRejectedAndPositionZeroRestarts) {
    load("qwen35-F32");
    const int64_t n = static_cast<int64_t>(prompt_.size());
    runtime::KvCache kv(model_->info().kv, n);
    const std::vector<float> first = run(kv, 0, n);
    std::vector<float> logits(static_cast<size_t>(model_->info().n_vocab));
    model::Batch b;
    b.add(prompt_[0], 5, 0, true);  // the state holds 40 tokens
    try {
        model_->forward(b, kv, pool_, logits.data());
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
        EXPECT_NE(std::string(e.what()).find(
                      "continues at position 5, but its recurrent state holds 40 tokens"),
                  std::string::npos)
            << e.what();
    }
    b.clear();
    b.add(prompt_[0], 0, 0, true);
    b.add(prompt_[1], 2, 0, true);
    EXPECT_THROW(model_->forward(b, kv, pool_, logits.data()), Error);
    // Starting again at position 0 resets the state: the same logits as the first run.
    EXPECT_EQ(run(kv, 0, n), first);
}

// ---- Bad files ---------------------------------------------------------------------------------

class BadHybridFile : public ::testing::Test {
   protected:
    void TearDown() override { std::filesystem::remove(path_); }

    // Copies a fixture with keys replaced and tensors dropped; returns the load error ("" if none).
    std::string load_error(const std::string& fixture,
                           const std::map<std::string, gguf::Value>& overrides,
                           const std::set<std::string>& drop = {}, ErrorKind* kind = nullptr) {
        const gguf::File src = gguf::File::open(testing::models_dir() + "/" + fixture + ".gguf");
        gguf::Writer w;
        for (const auto& [k, v] : src.metadata()) w.set(k, v);
        for (const auto& [k, v] : overrides) w.set(k, v);
        for (const gguf::TensorInfo& t : src.tensors()) {
            if (drop.count(t.name)) continue;
            std::vector<int64_t> shape(t.ne, t.ne + t.n_dims);
            w.add_tensor(t.name, t.type, shape,
                         [&t](gguf::ByteSink& s) { s.write(t.data, t.n_bytes); });
        }
        w.write(path_);
        try {
            model::load_model(path_);
        } catch (const Error& e) {
            if (kind) *kind = e.kind();
            return e.what();
        }
        return "";
    }

    std::string path_ = (std::filesystem::temp_directory_path() /
                         ("sobre_hybrid_" + std::to_string(getpid()) + ".gguf"))
                            .string();
};

using gguf::Value;

TEST_F(BadHybridFile, UnchangedCopiesLoad) {
    EXPECT_EQ(load_error("qwen35-Q4_K_M", {}), "");
    EXPECT_EQ(load_error("qwen3next-F32", {}), "");
}

TEST_F(BadHybridFile, MissingStateTensorsAreNamed) {
    EXPECT_NE(load_error("qwen35-F32", {}, {"blk.1.ssm_a"})
                  .find("missing tensor 'blk.1.ssm_a' (required by qwen35)"),
              std::string::npos);
    EXPECT_NE(load_error("qwen35moe-F32", {}, {"blk.0.ssm_conv1d.weight"})
                  .find("missing tensor 'blk.0.ssm_conv1d.weight' (required by qwen35moe)"),
              std::string::npos);
    EXPECT_NE(load_error("qwen3next-F32", {}, {"blk.1.ssm_dt.bias"})
                  .find("missing tensor 'blk.1.ssm_dt.bias'"),
              std::string::npos);
}

TEST_F(BadHybridFile, HeadCountsMustAgree) {
    const std::string e1 =
        load_error("qwen35-F32", {{"qwen35.ssm.time_step_rank", Value::of_u32(3)}});
    EXPECT_NE(e1.find("qwen35.ssm.time_step_rank = 3 (value heads) is not a multiple of "
                      "qwen35.ssm.group_count = 2 "
                      "(key heads)"),
              std::string::npos)
        << e1;
    const std::string e2 = load_error("qwen35-F32", {{"qwen35.ssm.inner_size", Value::of_u32(96)}});
    EXPECT_NE(e2.find("qwen35.ssm.inner_size = 96 disagrees with qwen35.ssm.time_step_rank x "
                      "qwen35.ssm.state_size = 4 x 32 = 128"),
              std::string::npos)
        << e2;
    // Consistent keys for 8 value heads, but the file's tensors were made for 4.
    const std::string e3 =
        load_error("qwen3next-F32", {{"qwen3next.ssm.time_step_rank", Value::of_u32(8)},
                                     {"qwen3next.ssm.inner_size", Value::of_u32(256)}});
    EXPECT_NE(
        e3.find(
            "'blk.0.attn_qkv.weight' has shape {256, 256}, but qwen3next expects {256, 384} from "
            "ssm.group_count = 2, ssm.time_step_rank = 8, ssm.state_size = 32"),
        std::string::npos)
        << e3;
    const std::string e4 =
        load_error("qwen35-F32", {{"qwen35.attention.value_length", Value::of_u32(16)}});
    EXPECT_NE(e4.find("qwen35.attention.key_length = 32 and qwen35.attention.value_length = 16 "
                      "must be equal"),
              std::string::npos)
        << e4;
}

TEST_F(BadHybridFile, LayerPatternAndRopeSectionsAreChecked) {
    // Interval 2 makes layer 1 a full-attention layer, which the file does not have.
    const std::string e1 =
        load_error("qwen35-F32", {{"qwen35.full_attention_interval", Value::of_u32(2)}});
    EXPECT_NE(e1.find("missing tensor 'blk.1.attn_q.weight'"), std::string::npos) << e1;
    const Value short_list = Value::of_i32s({1, 1});
    const std::string e2 =
        load_error("qwen35moe-F32", {{"qwen35moe.attention.recurrent_layers", short_list}});
    EXPECT_NE(e2.find("qwen35moe.attention.recurrent_layers must hold one bool per block"),
              std::string::npos)
        << e2;
    const std::string e3 = load_error(
        "qwen35-F32", {{"qwen35.rope.dimension_sections", Value::of_i32s({0, 0, 0, 0})}});
    EXPECT_NE(e3.find("qwen35.rope.dimension_sections = "), std::string::npos) << e3;
    EXPECT_NE(e3.find("must be 4 non-negative integers"), std::string::npos) << e3;
}

TEST_F(BadHybridFile, MoeArchsNeedExperts) {
    ErrorKind kind{};
    const std::string err =
        load_error("qwen3next-F32", {{"qwen3next.expert_count", Value::of_u32(0)}}, {}, &kind);
    EXPECT_EQ(kind, ErrorKind::kCorrupt);
    EXPECT_NE(err.find("qwen3next.expert_count = 0, but qwen3next needs routed experts"),
              std::string::npos)
        << err;
}

}  // namespace
}  // namespace sobre
