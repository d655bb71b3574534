// Pieces, whole-sequence decoding and the streaming decoder.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/error.h"
#include "tokenizer/fixtures.h"
#include "tokenizer/tokenizer.h"

namespace sobre::tokenizer {
namespace {

struct Streamed {
    std::vector<std::string> outputs;  // what each push() returned
    std::string text;                  // all of it, flush() included
};

Streamed stream(const Tokenizer& tok, const std::vector<int32_t>& ids, bool render_special) {
    StreamDecoder decoder(tok, render_special);
    Streamed s;
    for (int32_t id : ids) {
        s.outputs.push_back(decoder.push(id));
        s.text += s.outputs.back();
    }
    s.text += decoder.flush();
    return s;
}

std::string raw_pieces(const Tokenizer& tok, const std::vector<int32_t>& ids, bool render_special) {
    std::string out;
    for (int32_t id : ids) out += tok.token_to_piece(id, render_special);
    return out;
}

// Characters that llama-spm has no piece for go out as byte tokens, one UTF-8 byte each, and
// GPT-2's byte-level tokens cut emoji between bytes: the stream holds the partial bytes back.
TEST(StreamDecoder, HoldsIncompleteUtf8UntilItCompletes) {
    const std::string text =
        "Khmer កាន់តែពិសេស and 🦙🚀😶‍🌫️ emoji";
    for (std::string_view name : {"llama-spm", "gpt-2", "deepseek-llm"}) {
        const Tokenizer& tok = testing::vocab(name);
        const std::vector<int32_t> ids = tok.encode(text, false, false);
        const Streamed s = stream(tok, ids, false);
        EXPECT_EQ(s.text, raw_pieces(tok, ids, false)) << name;
        size_t held = 0;
        for (size_t i = 0; i < ids.size(); ++i) {
            EXPECT_TRUE(testing::whole_utf8(s.outputs[i])) << name << " after token " << i;
            if (s.outputs[i].empty() && !tok.token_to_piece(ids[i], false).empty()) ++held;
        }
        if (name != "deepseek-llm") {
            EXPECT_GT(held, 0u) << name << ": no token ended inside a character";
        }
    }
}

TEST(StreamDecoder, ByteTokensDecodeToBytes) {
    const Tokenizer& spm = testing::vocab("llama-spm");
    // <0x0A> is id 13 in the llama vocabulary: byte tokens are ids 3..258.
    EXPECT_EQ(spm.token_to_piece(13, false), "\n");
    EXPECT_EQ(spm.token_to_piece(3 + 0xE2, false), "\xE2");
    StreamDecoder decoder(spm);
    EXPECT_EQ(decoder.push(3 + 0xE2), "");  // first byte of a 3-byte sequence
    EXPECT_EQ(decoder.push(3 + 0x82), "");
    EXPECT_EQ(decoder.pending(), 2u);
    EXPECT_EQ(decoder.push(3 + 0xAC), "\xE2\x82\xAC");  // €
    EXPECT_EQ(decoder.pending(), 0u);
}

TEST(StreamDecoder, BytesThatCannotCompleteAreNotHeldForever) {
    const Tokenizer& spm = testing::vocab("llama-spm");
    StreamDecoder decoder(spm);
    EXPECT_EQ(decoder.push(3 + 0xFF), "\xFF");  // never starts a sequence
    EXPECT_EQ(decoder.push(3 + 0xE2), "");
    const int32_t a = spm.encode("a", false, false).back();
    std::string broken = "\xE2";  // the sequence broke: both go out
    broken += spm.token_to_piece(a, false);
    EXPECT_EQ(decoder.push(a), broken);
    EXPECT_EQ(decoder.push(3 + 0xF0), "");
    EXPECT_EQ(decoder.flush(), "\xF0");  // end of stream: whatever is left
    EXPECT_EQ(decoder.pending(), 0u);
}

TEST(StreamDecoder, SpecialTokensRenderOnlyWhenAsked) {
    const Tokenizer& spm = testing::vocab("llama-spm");
    EXPECT_EQ(stream(spm, {spm.bos(), spm.eos()}, false).text, "");
    EXPECT_EQ(stream(spm, {spm.bos(), spm.eos()}, true).text, "<s></s>");
    EXPECT_EQ(spm.token_to_piece(spm.unk(), false), "");
    EXPECT_EQ(spm.token_to_piece(spm.unk(), true), "<unk>");
    EXPECT_TRUE(spm.is_control(spm.bos()));
    const Tokenizer& gpt2 = testing::vocab("gpt-2");
    EXPECT_EQ(gpt2.token_to_piece(50256, false), "");
    EXPECT_EQ(gpt2.token_to_piece(50256, true), "<|endoftext|>");
}

TEST(Decode, MatchesLlamaCppDetokenize) {
    const Tokenizer& spm = testing::vocab("llama-spm");
    // The space that encode() put in front of the text is removed again.
    EXPECT_EQ(spm.decode(spm.encode("Hello world", false, false), false), "Hello world");
    EXPECT_EQ(spm.decode(spm.encode(" Hello", false, false), false), " Hello");
    // With BOS rendered, the space after it stays (llama.cpp strips only the first token).
    EXPECT_EQ(spm.decode(spm.encode("Hello", true, false), true), "<s> Hello");
    // remove_special drops the BOS / EOS the metadata adds.
    EXPECT_EQ(spm.decode(spm.encode("Hello", true, false), true, true), "Hello");

    // GPT-2 cleans up tokenization spaces like Hugging Face's decode().
    const Tokenizer& gpt2 = testing::vocab("gpt-2");
    auto round = [&](const char* text) {
        return gpt2.decode(gpt2.encode(text, false, false), false);
    };
    EXPECT_EQ(round("Hello , world ! it 's a ' b ' c"), "Hello, world! it's a'b'c");
    EXPECT_EQ(round("I 'm sure they 've gone , we 'll see"), "I'm sure they've gone, we 'll see");
    // The space after a " ' " is used up: it cannot open a second one (as in llama.cpp).
    EXPECT_EQ(round("x ' ' y"), "x'' y");
    // deepseek-coder does not (clean_spaces off for it in llama.cpp).
    const Tokenizer& coder = testing::vocab("deepseek-coder");
    EXPECT_EQ(coder.decode(coder.encode("Hello , world", false, false), false), "Hello , world");
}

TEST(Decode, OutOfRangeIdsAreInvalidArgument) {
    const Tokenizer& spm = testing::vocab("llama-spm");
    for (int32_t id : {-1, spm.n_tokens(), INT32_MAX}) {
        try {
            spm.token_to_piece(id, true);
            FAIL() << "id " << id;
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << e.what();
        }
        EXPECT_THROW(spm.decode(std::vector<int32_t>{1, id}, false), Error);
        StreamDecoder decoder(spm);
        EXPECT_THROW(decoder.push(id), Error);
    }
}

}  // namespace
}  // namespace sobre::tokenizer
