// Reading, tokenizing and chunking the evaluation text as llama.cpp's tools do.
#include "eval/chunks.h"

#include <gtest/gtest.h>

#include <cmath>

#include "eval/kld.h"
#include "eval_test_util.h"
#include "runtime/kv_cache.h"

namespace sobre::eval {
namespace {

using namespace testing;

TEST(EvalText, TokenizesAsLlamaPerplexity) {
    // The tokens llama-perplexity stored in its log-prob file: the first 2 chunks of 16.
    const LogProbReader llama(kData + "/eval/qwen3-F32.c16.kld");
    const Loaded l = load("qwen3-F32");
    ASSERT_GE(l.tokens.size(), llama.header().tokens.size());
    EXPECT_EQ(std::vector<int32_t>(l.tokens.begin(), l.tokens.begin() + 32), llama.header().tokens);
    EXPECT_EQ(l.tokens[0], l.tok->bos());
    // llama-perplexity -c 128 reports 29 chunks for this text.
    EXPECT_EQ(static_cast<int64_t>(l.tokens.size()) / 128, 29);
}

// Logits of chunks 0..n-1 for one batch setting.
std::vector<float> chunk_logits(const Loaded& l, int64_t n_ctx, int64_t n_batch, int64_t n_chunks) {
    ThreadPool pool(2);
    const ChunkOptions o{n_ctx, n_batch, n_ctx / 2, l.bos()};
    const int64_t per = (n_ctx - n_ctx / 2) * l.model->info().n_vocab;
    std::vector<float> all(static_cast<size_t>(n_chunks * per));
    int64_t next = 0;
    for_each_chunk(*l.model, pool, o, l.tokens, n_chunks, [&](int64_t c, const float* logits) {
        EXPECT_EQ(c, next++);
        std::copy(logits, logits + per, all.begin() + c * per);
    });
    EXPECT_EQ(next, n_chunks);
    return all;
}

TEST(Chunks, BatchesSplitOrStackChunksWithTheSameResult) {
    const Loaded l = load("qwen3moe-F32");
    const std::vector<float> one = chunk_logits(l, 32, 32, 3);     // a chunk per call
    const std::vector<float> split = chunk_logits(l, 32, 12, 3);   // 12 + 12 + 8 through the cache
    const std::vector<float> stack = chunk_logits(l, 32, 64, 3);   // two chunks side by side, then one
    ASSERT_EQ(one.size(), split.size());
    ASSERT_EQ(one.size(), stack.size());
    for (size_t i = 0; i < one.size(); ++i) {
        ASSERT_NEAR(split[i], one[i], 1e-4f * (1 + std::fabs(one[i]))) << i;
        ASSERT_NEAR(stack[i], one[i], 1e-4f * (1 + std::fabs(one[i]))) << i;
    }
    // Chunk 1 is its 32 tokens from an empty cache, the first replaced by BOS.
    model::Batch b;
    for (int p = 0; p < 32; ++p) b.add(p == 0 ? l.tok->bos() : l.tokens[32 + p], p, 0, p >= 16);
    runtime::KvCache kv(l.model->info().kv, 32);
    ThreadPool pool(2);
    std::vector<float> direct(static_cast<size_t>(16 * l.model->info().n_vocab));
    l.model->forward(b, kv, pool, direct.data());
    const float* chunk1 = one.data() + direct.size();
    for (size_t i = 0; i < direct.size(); ++i) ASSERT_NEAR(chunk1[i], direct[i], 1e-4f * (1 + std::fabs(direct[i]))) << i;
}

}  // namespace
}  // namespace sobre::eval
