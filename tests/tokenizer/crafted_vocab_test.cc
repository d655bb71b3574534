// Small vocabularies written on the fly: metadata errors, and behaviour the real fixtures do
// not reach (merges vs. ignore_merges, missing byte tokens, defaults).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "gguf/reader.h"
#include "gguf/value.h"
#include "gguf/writer.h"
#include "tokenizer/tokenizer.h"

namespace sobre::tokenizer {
namespace {

using gguf::Value;

// The 256 GPT-2 byte-level characters, in byte order.
std::vector<std::string> byte_level_alphabet() {
    std::vector<std::string> out;
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
        const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
        const int cp = printable ? b : 256 + extra++;
        std::string s;
        if (cp < 0x80) {
            s += static_cast<char>(cp);
        } else {
            s += static_cast<char>(0xC0 | (cp >> 6));
            s += static_cast<char>(0x80 | (cp & 0x3F));
        }
        out.push_back(s);
    }
    return out;
}

class CraftedVocab : public ::testing::Test {
   protected:
    // Each starts a fresh file.
    // A gpt2 vocabulary: the byte alphabet, then `extra` tokens; merges as given.
    void bpe(const std::string& pre, const std::vector<std::string>& extra,
             const std::vector<std::string>& merges) {
        w_ = gguf::Writer();
        tokens_ = byte_level_alphabet();
        tokens_.insert(tokens_.end(), extra.begin(), extra.end());
        w_.set("tokenizer.ggml.model", Value::of_string("gpt2"));
        if (!pre.empty()) w_.set("tokenizer.ggml.pre", Value::of_string(pre));
        w_.set("tokenizer.ggml.tokens", Value::of_strings(tokens_));
        w_.set("tokenizer.ggml.merges", Value::of_strings(merges));
    }

    // A llama (SPM) vocabulary of the given tokens and scores, types all normal.
    void spm(const std::vector<std::string>& tokens, const std::vector<float>& scores) {
        w_ = gguf::Writer();
        tokens_ = tokens;
        w_.set("tokenizer.ggml.model", Value::of_string("llama"));
        w_.set("tokenizer.ggml.tokens", Value::of_strings(tokens));
        w_.set("tokenizer.ggml.scores", Value::of_f32s(scores));
    }

    std::unique_ptr<Tokenizer> build() {
        // ctest runs each test in its own process, several at once: the name must be unique.
        const std::string path = ::testing::TempDir() + "/crafted_vocab_" + std::to_string(getpid()) + ".gguf";
        w_.write(path);
        const gguf::File file = gguf::File::open(path);
        std::filesystem::remove(path);
        return Tokenizer::from_gguf(file);
    }

    // Builds and expects an Error of `kind` whose message contains `needle`.
    void expect_error(ErrorKind kind, const std::string& needle) {
        try {
            build();
            ADD_FAILURE() << "expected an Error mentioning " << needle;
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), kind) << e.what();
            EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
        }
    }

    int32_t id_of(const std::string& text) const {
        for (size_t i = 0; i < tokens_.size(); ++i) {
            if (tokens_[i] == text) return static_cast<int32_t>(i);
        }
        return -1;
    }

    gguf::Writer w_;
    std::vector<std::string> tokens_;
};

TEST_F(CraftedVocab, MergesByRankAndIgnoreMergesForLlama3) {
    const std::vector<std::string> extra = {"he", "ll", "hell", "hello"};
    const std::vector<std::string> merges = {"h e", "l l", "he ll"};
    bpe("gpt-2", extra, merges);
    auto gpt2 = build();
    // h e l l o -> he l l o -> he ll o -> hell o ("hello" has no merge).
    EXPECT_EQ(gpt2->encode("hello", false, false),
              (std::vector<int32_t>{id_of("hell"), id_of("o")}));
    EXPECT_EQ(gpt2->decode(gpt2->encode("hello", false, false), false), "hello");

    bpe("llama-bpe", extra, merges);
    w_.set("tokenizer.ggml.bos_token_id", Value::of_u32(id_of("he")));
    auto llama3 = build();
    // Llama 3 takes a word that is itself a token whole, merges or not.
    EXPECT_EQ(llama3->encode("hello", false, false), (std::vector<int32_t>{id_of("hello")}));
    EXPECT_TRUE(llama3->add_bos());  // llama-bpe adds BOS unless the metadata says otherwise
    EXPECT_EQ(llama3->encode("hello", true, false).front(), id_of("he"));
}

TEST_F(CraftedVocab, MissingPreTokenizerMeansDefault) {
    bpe("", {}, {});
    auto tok = build();
    EXPECT_EQ(tok->pre(), "");
    EXPECT_EQ(tok->decode(tok->encode("a1234, b!", false, false), false), "a1234, b!");
}

TEST_F(CraftedVocab, UnknownPreTokenizerIsNamed) {
    bpe("my-fancy-split", {}, {});
    expect_error(ErrorKind::kUnsupported, "'my-fancy-split'");
}

TEST_F(CraftedVocab, UnsupportedModelIsNamed) {
    w_.set("tokenizer.ggml.model", Value::of_string("t5"));
    w_.set("tokenizer.ggml.tokens", Value::of_strings({"a"}));
    expect_error(ErrorKind::kUnsupported, "'t5'");
}

TEST_F(CraftedVocab, MissingKeys) {
    expect_error(ErrorKind::kNotFound, "tokenizer.ggml.model");
    w_.set("tokenizer.ggml.model", Value::of_string("llama"));
    expect_error(ErrorKind::kNotFound, "tokenizer.ggml.tokens");
    w_.set("tokenizer.ggml.model", Value::of_string("gpt2"));
    w_.set("tokenizer.ggml.tokens", Value::of_strings({"a", "b"}));
    expect_error(ErrorKind::kNotFound, "tokenizer.ggml.merges");
}

TEST_F(CraftedVocab, BadArrays) {
    spm({"<unk>", "<s>", "</s>", "a"}, {0, 0, 0});
    expect_error(ErrorKind::kCorrupt, "tokenizer.ggml.scores");
    spm({"<unk>", "<s>", "</s>", "a"}, {0, 0, 0, 0});
    w_.set("tokenizer.ggml.token_type", Value::of_strings({"1", "1", "1", "1"}));
    expect_error(ErrorKind::kCorrupt, "tokenizer.ggml.token_type");
    spm({"<unk>", "<s>", "</s>", "a", "a"}, {0, 0, 0, 0, 0});
    expect_error(ErrorKind::kCorrupt, "duplicate token");
    w_.set("tokenizer.ggml.tokens", Value::of_i32s({1, 2, 3}));
    expect_error(ErrorKind::kCorrupt, "tokenizer.ggml.tokens");
}

TEST_F(CraftedVocab, AddBosWithoutBosIsCorrupt) {
    bpe("glm4", {}, {});  // GLM-4 has no default BOS
    w_.set("tokenizer.ggml.add_bos_token", Value::of_bool(true));
    expect_error(ErrorKind::kCorrupt, "bos_token_id");
}

TEST_F(CraftedVocab, OutOfRangeSpecialIdsKeepTheDefault) {
    spm({"<unk>", "<s>", "</s>",
         "\xE2\x96\x81"
         "a"},
        {0, 0, 0, -1});
    w_.set("tokenizer.ggml.bos_token_id", Value::of_u32(999));
    w_.set("tokenizer.ggml.eos_token_id", Value::of_i32(-5));
    auto tok = build();
    EXPECT_EQ(tok->bos(), 1);
    EXPECT_EQ(tok->eos(), 2);
}

TEST_F(CraftedVocab, SpmWithoutByteTokensFallsBackToUnknown) {
    spm({"<unk>", "<s>", "</s>", "\xE2\x96\x81", "a",
         "\xE2\x96\x81"
         "a"},
        {0, 0, 0, -3, -2, -1});
    auto tok = build();
    EXPECT_EQ(tok->encode("a", false, false), (std::vector<int32_t>{5}));
    EXPECT_EQ(tok->encode("ab", false, false), (std::vector<int32_t>{5, 0}));
    EXPECT_EQ(tok->encode("\xFF"
                          "a",
                          false, false),
              (std::vector<int32_t>{3, 0, 4}));
}

TEST_F(CraftedVocab, SpmHigherScoreMergesFirst) {
    // "abc": "ab" (-1) and "bc" (-0.5) compete; the higher score wins.
    spm({"<unk>", "<s>", "</s>", "a", "b", "c", "ab", "bc"}, {0, 0, 0, -9, -9, -9, -1, -0.5f});
    w_.set("tokenizer.ggml.add_space_prefix", Value::of_bool(false));
    auto tok = build();
    EXPECT_EQ(tok->encode("abc", false, false), (std::vector<int32_t>{3, 7}));
}

}  // namespace
}  // namespace sobre::tokenizer
