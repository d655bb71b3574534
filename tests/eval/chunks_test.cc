// Reading, tokenizing and chunking the evaluation text as llama.cpp's tools do.
#include "eval/chunks.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "eval/kld.h"
#include "eval_test_util.h"
#include "runtime/kv_cache.h"

namespace sobre::eval {
namespace {

using namespace testing;

template <class Fn>
std::string error_of(ErrorKind kind, Fn fn) {
    try {
        fn();
    } catch (const Error& e) {
        EXPECT_EQ(static_cast<int>(e.kind()), static_cast<int>(kind)) << e.what();
        return e.what();
    }
    ADD_FAILURE() << "no error";
    return {};
}

TEST(EvalText, DropsOneTrailingNewline) {
    const std::string path = scratch_file("text.txt");
    std::ofstream(path) << "two lines\n\n";
    EXPECT_EQ(read_eval_text(path), "two lines\n");
    std::filesystem::remove(path);
    const std::string msg = error_of(ErrorKind::kNotFound, [&] { read_eval_text(path); });
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
}

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

TEST(Chunks, NeedsTwoContextsOfText) {
    EXPECT_EQ(count_chunks(1000, 128, -1, "t.txt"), 7);
    EXPECT_EQ(count_chunks(1000, 128, 3, "t.txt"), 3);
    EXPECT_EQ(count_chunks(256, 128, -1, "t.txt"), 2);
    const std::string msg = error_of(ErrorKind::kInvalidArgument, [] { count_chunks(255, 128, -1, "t.txt"); });
    EXPECT_NE(msg.find("t.txt: the text is 255 tokens; a context of 128 needs at least 256"), std::string::npos) << msg;
}

TEST(Chunks, OptionsAreChecked) {
    check_chunk_options({128, 64, 64, 1});
    check_chunk_options({128, 512, 64, 1});
    EXPECT_NE(error_of(ErrorKind::kInvalidArgument, [] { check_chunk_options({128, 200, 64, 1}); }).find("multiple"),
              std::string::npos);
    EXPECT_NE(error_of(ErrorKind::kInvalidArgument, [] { check_chunk_options({3, 8, 1, 1}); }).find("-c 3"),
              std::string::npos);
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
