// Text sent to clients: whole characters, U+FFFD for invalid bytes, stop strings cut, and the
// same text however it is split into tokens.
#include "server/text_stream.h"

#include <gtest/gtest.h>

#include "gguf/reader.h"

namespace sobre::server {
namespace {

TEST(SanitizeUtf8, ReplacesEveryInvalidByte) {
    EXPECT_EQ(sanitize_utf8("ok \xC3\xA9"), "ok \xC3\xA9");
    EXPECT_EQ(sanitize_utf8("a\xFF" "b"), "a\xEF\xBF\xBD" "b");
    EXPECT_EQ(sanitize_utf8("\xE2\x82"), "\xEF\xBF\xBD\xEF\xBF\xBD");       // cut short
    EXPECT_EQ(sanitize_utf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // a surrogate
    EXPECT_EQ(sanitize_utf8("\xF0\x9F\x98\x80"), "\xF0\x9F\x98\x80");
}

class TextStreamTest : public ::testing::Test {
   protected:
    // The fixtures' SPM vocabulary: ids 3..258 are the byte tokens <0x00>..<0xFF>.
    void SetUp() override {
        const gguf::File f = gguf::File::open(std::string(SOBRE_FIXTURES_DIR) + "/models/llama-F32.gguf");
        tok_ = tokenizer::Tokenizer::from_gguf(f);
    }
    static int32_t byte(unsigned char b) { return 3 + b; }
    std::string run(const std::vector<int32_t>& ids, std::vector<std::string> stop, bool* stopped = nullptr) {
        TextStream s(*tok_, std::move(stop));
        std::string out;
        for (int32_t id : ids) out += s.push(id);
        out += s.finish();
        if (stopped) *stopped = s.stopped();
        return out;
    }
    std::unique_ptr<tokenizer::Tokenizer> tok_;
};

TEST_F(TextStreamTest, CharacterSplitAcrossByteTokensArrivesWhole) {
    TextStream s(*tok_, {});
    EXPECT_EQ(s.push(byte(0xC3)), "");
    EXPECT_EQ(s.push(byte(0xA9)), "\xC3\xA9");
}

TEST_F(TextStreamTest, MalformedAndCutShortBytesBecomeReplacementCharacters) {
    EXPECT_EQ(run({byte('a'), byte(0xE2), byte(0x82), byte('b')}, {}), "a\xEF\xBF\xBD\xEF\xBF\xBD" "b");
    EXPECT_EQ(run({byte('a'), byte(0xF0), byte(0x9F)}, {}), "a\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST_F(TextStreamTest, StopStringIsCutEvenAcrossTokens) {
    bool stopped = false;
    EXPECT_EQ(run({byte('a'), byte('b'), byte('E'), byte('N'), byte('D'), byte('c')}, {"END"}, &stopped), "ab");
    EXPECT_TRUE(stopped);
    EXPECT_EQ(run({byte('a'), byte('E'), byte('N')}, {"END"}, &stopped), "aEN");  // never completed
    EXPECT_FALSE(stopped);
}

TEST_F(TextStreamTest, HeldTextIsNotSentBeforeItCanBeDecided) {
    TextStream s(*tok_, {"STOP"});
    EXPECT_EQ(s.push(byte('x')), "x");
    EXPECT_EQ(s.push(byte('S')), "");
    EXPECT_EQ(s.push(byte('T')), "");
    EXPECT_EQ(s.push(byte('y')), "STy");
}

}  // namespace
}  // namespace sobre::server
