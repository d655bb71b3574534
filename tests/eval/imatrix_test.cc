// Importance-matrix collection against llama-imatrix's own files (tests/data/imatrix; the
// commands that made them are in quantize_sha256.tsv there).
#include "eval/imatrix.h"

#include <gtest/gtest.h>

#include <cmath>

#include "eval_test_util.h"
#include "gguf/imatrix.h"

namespace sobre::eval {
namespace {

using namespace testing;

gguf::Imatrix collect(const std::string& name, int64_t batch, bool process_output = false, NllStats* ppl = nullptr,
                      int64_t chunks = 8) {
    const Loaded l = load(name);
    ThreadPool pool(2);
    const int64_t n_chunk = count_chunks(static_cast<int64_t>(l.tokens.size()), 128, chunks, kText);
    return collect_imatrix(*l.model, pool, {128, batch, 0, l.bos()}, l.tokens, n_chunk, process_output,
                           {"eval_text.txt"}, ppl);
}

class ImatrixGolden : public ::testing::TestWithParam<std::string> {};

// The same tensors, shapes, metadata and counts (the routing of every token included), and the
// same sums to float tolerance: activations agree to ~1e-5 between the engines, and the sums of
// the last layers' small activations (expert down projections) pick up a few 1e-4 of that.
TEST_P(ImatrixGolden, MatchesLlamaImatrix) {
    const gguf::Imatrix want = gguf::read_imatrix(kData + "/imatrix/" + GetParam() + ".imatrix.gguf");
    const gguf::Imatrix got = collect(GetParam(), 128);
    EXPECT_EQ(got.datasets, want.datasets);
    EXPECT_EQ(got.chunk_count, want.chunk_count);
    EXPECT_EQ(got.chunk_size, want.chunk_size);
    ASSERT_EQ(got.entries.size(), want.entries.size());
    for (const auto& [name, w] : want.entries) {
        ASSERT_TRUE(got.entries.contains(name)) << name;
        const gguf::ImatrixEntry& g = got.entries.at(name);
        ASSERT_EQ(g.counts, w.counts) << name;
        ASSERT_EQ(g.sums.size(), w.sums.size()) << name;
        double total_w = 0, total_g = 0;
        for (size_t i = 0; i < w.sums.size(); ++i) {
            ASSERT_NEAR(g.sums[i], w.sums[i], 5e-3 * w.sums[i] + 1e-7) << name << "[" << i << "]";
            total_w += w.sums[i];
            total_g += g.sums[i];
        }
        EXPECT_NEAR(total_g, total_w, 2e-4 * total_w) << name;
    }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ImatrixGolden,
                         ::testing::Values("qwen3-F32", "qwen3moe-F32", "deepseek2-v2lite-F32"),
                         [](const ::testing::TestParamInfo<std::string>& i) {
                             std::string n = i.param;
                             for (char& ch : n) ch = std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
                             return n;
                         });

TEST(Imatrix, ChunksSideBySideCollectTheSame) {
    // 16 chunks of 128 per call (n_seq 16, capped at the 8 chunks) against one per call.
    const gguf::Imatrix one = collect("qwen3moe-F32", 128);
    NllStats ppl;
    const gguf::Imatrix stacked = collect("qwen3moe-F32", 2048, false, &ppl);
    ASSERT_EQ(one.entries.size(), stacked.entries.size());
    for (const auto& [name, e] : one.entries) {
        const gguf::ImatrixEntry& s = stacked.entries.at(name);
        EXPECT_EQ(s.counts, e.counts) << name;
        for (size_t i = 0; i < e.sums.size(); ++i) ASSERT_NEAR(s.sums[i], e.sums[i], 1e-4 * e.sums[i] + 1e-7) << name;
    }
    // The perplexity measured along the way is llama-imatrix's (= llama-perplexity's) 555.53.
    EXPECT_EQ(ppl.count, 8 * 63);
}

// What llama-imatrix collected for the hybrids and DeepSeek-V4 (its files, made as those in
// tests/data/imatrix but with --chunks 4, are too large to keep; these are their facts): the
// shared-expert gate, a {256, 1} matrix stored 1-D, and V4's grouped output projection, a 2-D
// tensor multiplied in 2 row blocks (one entry of 2 x 64 columns, one count).
TEST(Imatrix, CollectsWhatLlamaImatrixCollects) {
    const struct {
        const char* model;
        size_t entries;
        const char* name;
        size_t sums;
    } cases[] = {{"qwen35moe-F32", 51, "blk.0.ffn_gate_inp_shexp.weight", 256},
                 {"qwen3next-F32", 36, "blk.2.ffn_gate_inp_shexp.weight", 256},
                 {"deepseek4-F32", 50, "blk.1.attn_output_a.weight", 128}};
    for (const auto& c : cases) {
        const gguf::Imatrix m = collect(c.model, 2048, false, nullptr, 4);
        EXPECT_EQ(m.entries.size(), c.entries) << c.model;
        ASSERT_TRUE(m.entries.contains(c.name)) << c.model;
        EXPECT_EQ(m.entries.at(c.name).sums.size(), c.sums) << c.model;
        EXPECT_EQ(m.entries.at(c.name).counts, std::vector<int64_t>{4 * 128}) << c.model;
    }
}

TEST(Imatrix, ProcessOutputAddsTheOutputHead) {
    const gguf::Imatrix m = collect("qwen3-F32", 2048, true);
    ASSERT_TRUE(m.entries.contains("output.weight"));
    EXPECT_EQ(m.entries.at("output.weight").counts, std::vector<int64_t>{8 * 128});
    EXPECT_FALSE(collect("qwen3-F32", 2048).entries.contains("output.weight"));
}

}  // namespace
}  // namespace sobre::eval
