#include "registry/allowlist.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "registry/sha256.h"

namespace sobre::registry {
namespace {

TEST(Sha256, KnownVectors) {
    // FIPS 180-2 examples.
    EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_TRUE(is_sha256_hex(sha256_hex("abc")));
    EXPECT_FALSE(is_sha256_hex(std::string(64, 'A')));
    EXPECT_FALSE(is_sha256_hex(std::string(63, 'a')));
}

class AllowListTest : public ::testing::Test {
   protected:
    std::string write(const std::string& text) {
        std::ofstream(path_, std::ios::binary) << text;
        return path_;
    }
    void TearDown() override { std::filesystem::remove(path_); }
    std::string path_ = (std::filesystem::temp_directory_path() / ("sobre_allow." + std::to_string(::getpid()))).string();
};

const std::string kA = sha256_hex("a");
const std::string kB = sha256_hex("b");
const std::string kC = sha256_hex("c");

TEST_F(AllowListTest, ReadsHashesNamesCommentsAndSha256sumOutput) {
    std::string upper_c = kC;
    for (char& ch : upper_c) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    const AllowList list = AllowList::load(write("# approved weights\n\n" + kA + "  qwen3-0.6b-q8_0.gguf\n" + kB +
                                                 " *binary-mode.gguf\r\n   " + upper_c + "\n"));
    EXPECT_EQ(list.size(), 3u);
    EXPECT_TRUE(list.allows(kA));
    EXPECT_TRUE(list.allows(kB));
    EXPECT_TRUE(list.allows(kC));
    EXPECT_FALSE(list.allows(sha256_hex("d")));
}

TEST_F(AllowListTest, ABadLineIsNamedByPathAndNumber) {
    try {
        AllowList::load(write(kA + "\nnot-a-hash model.gguf\n"));
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
        EXPECT_EQ(std::string(e.what()), path_ + ":2: expected a sha256 (64 hex digits) first, got 'not-a-hash'");
    }
    EXPECT_THROW(AllowList::load(write(kA.substr(1) + "\n")), Error);
}

TEST_F(AllowListTest, AnEmptyListOrMissingFileIsAnError) {
    try {
        AllowList::load(write("# nothing yet\n\n"));
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
        EXPECT_NE(std::string(e.what()).find("lists no sha256"), std::string::npos);
    }
    try {
        AllowList::load("/no/such/allowlist");
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
    }
}

}  // namespace
}  // namespace sobre::registry
