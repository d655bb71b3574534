// Golden ids: every .inp/.out pair of ../shared/fixtures/vocab (Hugging Face tokenizers'
// output, which llama.cpp reproduces) must come out exactly, with add_special = false and
// parse_special = false as in llama.cpp's test-tokenizer-0.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "gguf/reader.h"
#include "tokenizer/fixtures.h"
#include "tokenizer/tokenizer.h"

namespace sobre::tokenizer {
namespace {

using testing::kVocabNames;

std::string ids_to_string(const std::vector<int32_t>& ids) {
    std::string s;
    for (int32_t id : ids) {
        s += ' ';
        s += std::to_string(id);
    }
    return s;
}

class VocabFixture : public ::testing::TestWithParam<std::string_view> {};

TEST_P(VocabFixture, EveryCaseMatchesExactly) {
    const std::string base = testing::vocab_path(GetParam());
    const std::vector<std::string> inputs = testing::read_inp(base + ".inp");
    const std::vector<std::vector<int32_t>> expected = testing::read_out(base + ".out");
    ASSERT_EQ(inputs.size(), 46u);
    ASSERT_EQ(expected.size(), inputs.size());
    const Tokenizer& tok = testing::vocab(GetParam());
    for (size_t i = 0; i < inputs.size(); ++i) {
        EXPECT_EQ(ids_to_string(tok.encode(inputs[i], false, false)), ids_to_string(expected[i]))
            << "case " << i + 1 << ": \"" << inputs[i] << "\"";
    }
}

// decode(encode(x)) == x: the encoders drop nothing. Vocabularies with clean-up of
// tokenization spaces (gpt-2, starcoder) change " ," and " 's" on decode by design, so inputs
// with such a pair are left out for them.
bool cleanup_changes(const std::string& s) {
    for (size_t i = 0; i + 1 < s.size(); ++i) {
        if (s[i] == ' ' && std::string_view("?!.,'").find(s[i + 1]) != std::string_view::npos) {
            return true;
        }
    }
    return false;
}

TEST_P(VocabFixture, DecodeOfEncodeGivesTheTextBack) {
    const Tokenizer& tok = testing::vocab(GetParam());
    const bool cleans = GetParam() == "gpt-2" || GetParam() == "starcoder";
    for (const std::string& text : testing::read_inp(testing::vocab_path(GetParam()) + ".inp")) {
        if (cleans && cleanup_changes(text)) continue;
        EXPECT_EQ(tok.decode(tok.encode(text, false, false), false), text) << "\"" << text << "\"";
        // With BOS / EOS added and removed again.
        EXPECT_EQ(tok.decode(tok.encode(text, true, false), false, true), text)
            << "\"" << text << "\"";
    }
}

INSTANTIATE_TEST_SUITE_P(AllVocabs, VocabFixture, ::testing::ValuesIn(kVocabNames),
                         [](const auto& param_info) {
                             std::string name(param_info.param);
                             for (char& c : name) {
                                 if (c == '-') c = '_';
                             }
                             return name;
                         });

// add_special follows the metadata (README of the vocab fixtures).
TEST(VocabSpecial, BosIsAddedWhereTheMetadataAsks) {
    EXPECT_EQ(testing::vocab("llama-spm").encode("Hello world", true, false),
              (std::vector<int32_t>{1, 15043, 3186}));
    EXPECT_EQ(testing::vocab("deepseek-coder").encode("Hello world", true, false),
              (std::vector<int32_t>{32013, 17535, 1835}));
    const Tokenizer& gpt2 = testing::vocab("gpt-2");
    EXPECT_FALSE(gpt2.add_bos());
    EXPECT_EQ(gpt2.encode("Hello world", true, false), gpt2.encode("Hello world", false, false));
    EXPECT_EQ(testing::vocab("llama-spm").encode("", true, false), (std::vector<int32_t>{1}));
    EXPECT_TRUE(testing::vocab("llama-spm").encode("", false, false).empty());
}

TEST(VocabSpecial, ControlTokensAreTextUnlessParsed) {
    const Tokenizer& spm = testing::vocab("llama-spm");
    // "<s>" parsed is BOS; then the text after it gets its own space prefix.
    const std::vector<int32_t> parsed = spm.encode("<s>Hello", false, true);
    ASSERT_FALSE(parsed.empty());
    EXPECT_EQ(parsed.front(), spm.bos());
    EXPECT_EQ(std::vector<int32_t>(parsed.begin() + 1, parsed.end()),
              spm.encode("Hello", false, false));
    const std::vector<int32_t> plain = spm.encode("<s>Hello", false, false);
    EXPECT_EQ(std::count(plain.begin(), plain.end(), spm.bos()), 0);

    const Tokenizer& gpt2 = testing::vocab("gpt-2");
    EXPECT_EQ(gpt2.encode("a<|endoftext|>b", false, true), (std::vector<int32_t>{64, 50256, 65}));
    EXPECT_GT(gpt2.encode("a<|endoftext|>b", false, false).size(), 3u);
}

TEST(VocabSpecial, MetadataIdsAndEndOfGeneration) {
    const Tokenizer& phi3 = testing::vocab("phi-3");
    EXPECT_EQ(phi3.bos(), 1);
    EXPECT_EQ(phi3.eos(), 32000);
    EXPECT_EQ(phi3.unk(), 0);
    EXPECT_TRUE(phi3.is_eog(32000));
    EXPECT_TRUE(phi3.is_eog(phi3.encode("<|end|>", false, true).at(0)));
    EXPECT_FALSE(phi3.is_eog(1));
    const Tokenizer& starcoder = testing::vocab("starcoder");
    EXPECT_EQ(starcoder.model(), "gpt2");
    EXPECT_EQ(starcoder.pre(), "starcoder");
    EXPECT_TRUE(starcoder.is_eog(0));
}

// User-defined tokens are cut out even without parse_special; phi-3 strips the whitespace
// after its added tokens (llama.cpp's RSTRIP for phi-3).
TEST(VocabSpecial, Phi3AddedTokensStripFollowingSpace) {
    const Tokenizer& phi3 = testing::vocab("phi-3");
    const std::vector<int32_t> ids = phi3.encode("<|user|>\nHi", false, true);
    ASSERT_GE(ids.size(), 2u);
    EXPECT_EQ(phi3.token_text(ids[0]), "<|user|>");
    EXPECT_EQ(std::vector<int32_t>(ids.begin() + 1, ids.end()), phi3.encode("Hi", false, false));
}

// Every model fixture carries a tokenizer (SPM, 512 tokens); each must load and be lossless.
TEST(ModelFixtures, EveryModelTokenizerLoads) {
    int n = 0;
    for (const auto& entry :
         std::filesystem::directory_iterator(testing::fixtures_dir() + "/models")) {
        if (entry.path().extension() != ".gguf") continue;
        ++n;
        const gguf::File file = gguf::File::open(entry.path().string());
        const auto tok = Tokenizer::from_gguf(file);
        const std::string text = "the little girl, 42 times!";
        EXPECT_EQ(tok->decode(tok->encode(text, false, false), false), text) << entry.path();
        EXPECT_EQ(tok->encode(text, true, false).front(), tok->bos()) << entry.path();
    }
    EXPECT_GT(n, 60);
}

// encode() is const and thread-safe: the regex scratch space is per thread.
TEST(Concurrency, EncodeFromManyThreads) {
    const Tokenizer& tok = testing::vocab("deepseek-llm");
    const std::string text =
        "Hello, y'all! How are you 😁 ?我想在apple工作1314151天～ ------=======";
    const std::vector<int32_t> expected = tok.encode(text, true, false);
    std::vector<std::thread> threads;
    std::vector<int> ok(4, 0);
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 200; ++i) {
                ok[static_cast<size_t>(t)] += tok.encode(text, true, false) == expected;
            }
        });
    }
    for (std::thread& th : threads) th.join();
    EXPECT_EQ(ok, std::vector<int>(4, 200));
}

}  // namespace
}  // namespace sobre::tokenizer
