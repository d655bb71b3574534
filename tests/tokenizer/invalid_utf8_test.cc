// Hostile text: invalid UTF-8 and random bytes are tokenized as bytes, never rejected, never a
// crash; ids stay in range and, where the vocabulary is lossless, decode gives the bytes back.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "tokenizer/fixtures.h"
#include "tokenizer/tokenizer.h"

namespace sobre::tokenizer {
namespace {

using testing::kVocabNames;

const std::vector<std::string>& invalid_inputs() {
    static const std::vector<std::string> inputs = {
        "\xFF",
        "\x80",
        "abc\xC3",
        "\xE2\x82",
        "\xF0\x9F\xA6",
        "\xC0\x80",
        "\xED\xA0\x80",
        "\xF5\x80\x80\x80",
        "\xF4\x90\x80\x80",
        "\xFE\xFF hello",
        "caf\xE9 cr\xE8me",
        "\xE2\x96",
        " \x81\x81 \n\xC3\x28",
        "x\xF0\x9F\x98",
        "\xF8\x88\x80\x80\x80",
    };
    return inputs;
}

// Vocabularies whose decode() is the exact inverse of encode() on text without U+2581 (SPM
// reads it as a space) and without the pairs their space clean-up rewrites.
bool lossless(std::string_view name, const std::string& text) {
    if (text.find("\xE2\x96\x81") != std::string::npos) return false;
    if (name == "gpt-2" || name == "starcoder") {
        for (size_t i = 0; i + 1 < text.size(); ++i) {
            if (text[i] == ' ' &&
                std::string_view("?!.,'").find(text[i + 1]) != std::string_view::npos)
                return false;
        }
    }
    // phi-3's user-defined "</s>" eats the whitespace after it.
    if (name == "phi-3" && text.find("</s>") != std::string::npos) return false;
    // Invalid bytes become U+FFFD where the vocabulary has no normal token for them: StarCoder
    // lacks C0, C1, F1, F5..FF, DeepSeek typed C0, C1, F5..FF user-defined.
    if (name == "deepseek-llm" || name == "deepseek-coder" || name == "starcoder") {
        return testing::whole_utf8(text);
    }
    return true;
}

void check(std::string_view name, const Tokenizer& tok, const std::string& text) {
    for (bool add_special : {false, true}) {
        for (bool parse_special : {false, true}) {
            const std::vector<int32_t> ids = tok.encode(text, add_special, parse_special);
            for (int32_t id : ids) {
                ASSERT_TRUE(id >= 0 && id < tok.n_tokens()) << name << " id " << id;
            }
            StreamDecoder decoder(tok, true);
            std::string streamed;
            for (int32_t id : ids) streamed += decoder.push(id);
            streamed += decoder.flush();
            std::string pieces;
            for (int32_t id : ids) pieces += tok.token_to_piece(id, true);
            EXPECT_EQ(streamed, pieces) << name;
        }
    }
    if (lossless(name, text)) {
        EXPECT_EQ(tok.decode(tok.encode(text, false, false), false), text) << name;
    }
}

class InvalidUtf8 : public ::testing::TestWithParam<std::string_view> {};

TEST_P(InvalidUtf8, IsTokenizedAsBytes) {
    const Tokenizer& tok = testing::vocab(GetParam());
    for (const std::string& text : invalid_inputs()) check(GetParam(), tok, text);
}

// Short strings mixing bytes, UTF-8 fragments, whitespace and special-token spellings, from a
// fixed seed: a deterministic slice of what the libFuzzer target explores.
TEST_P(InvalidUtf8, RandomBytes) {
    const Tokenizer& tok = testing::vocab(GetParam());
    static const std::vector<std::string> atoms = {"a",
                                                   "Z",
                                                   " ",
                                                   "  ",
                                                   "\n",
                                                   "\t",
                                                   "'s",
                                                   "1",
                                                   "42",
                                                   "\xC3\xA9",
                                                   "\xE2\x82",
                                                   "\xAC",
                                                   "\xF0\x9F",
                                                   "\x98\x81",
                                                   "\xFF",
                                                   "\x80",
                                                   "<s>",
                                                   "</s>",
                                                   "<|endoftext|>",
                                                   "<|user|>",
                                                   "\xE4\xBD\xA0",
                                                   "!",
                                                   ".",
                                                   "\r\n",
                                                   "\xE2\x96\x81",
                                                   "<0x41>",
                                                   "\xC0"};
    std::mt19937 rng(1234);
    for (int iter = 0; iter < 300; ++iter) {
        std::string text;
        const int n = static_cast<int>(rng() % 12);
        for (int k = 0; k < n; ++k) {
            if (rng() % 4 == 0) {
                text += static_cast<char>(rng() % 256);
            } else {
                text += atoms[rng() % atoms.size()];
            }
        }
        check(GetParam(), tok, text);
        if (::testing::Test::HasFailure()) {
            ADD_FAILURE() << "input #" << iter << " (" << text.size() << " bytes)";
            return;
        }
    }
}

INSTANTIATE_TEST_SUITE_P(AllVocabs, InvalidUtf8, ::testing::ValuesIn(kVocabNames),
                         [](const auto& param_info) {
                             std::string name(param_info.param);
                             for (char& c : name) {
                                 if (c == '-') c = '_';
                             }
                             return name;
                         });

// SPM: an invalid byte falls back to its byte token, as in llama.cpp.
TEST(InvalidUtf8Spm, SameIdsAsLlamaCpp) {
    const Tokenizer& spm = testing::vocab("llama-spm");
    EXPECT_EQ(spm.encode("\xFF", false, false), (std::vector<int32_t>{29871, 3 + 0xFF}));
    EXPECT_EQ(spm.encode("\xC3", false, false), (std::vector<int32_t>{29871, 3 + 0xC3}));
}

// Byte-level BPE keeps an invalid byte as its byte token where the vocabulary has one;
// otherwise (and always in llama.cpp) it is U+FFFD.
TEST(InvalidUtf8Bpe, BytesWhereTheVocabularyHasThem) {
    const Tokenizer& gpt2 = testing::vocab("gpt-2");
    EXPECT_EQ(gpt2.decode(gpt2.encode("a\xFF\x80", false, false), false), "a\xFF\x80");
    const Tokenizer& starcoder = testing::vocab("starcoder");
    EXPECT_EQ(starcoder.encode("\xFF", false, false),
              starcoder.encode("\xEF\xBF\xBD", false, false));
    EXPECT_EQ(starcoder.decode(starcoder.encode("a\xFF\x80", false, false), false),
              "a\xEF\xBF\xBD\x80");
    const Tokenizer& coder = testing::vocab("deepseek-coder");
    EXPECT_EQ(coder.encode("\xFF", false, false), coder.encode("\xEF\xBF\xBD", false, false));
}

}  // namespace
}  // namespace sobre::tokenizer
