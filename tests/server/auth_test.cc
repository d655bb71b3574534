#include "server/auth.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "registry/sha256.h"

namespace sobre::server {
namespace {

TEST(ApiKeys, AcceptsOnlyKnownBearerKeys) {
    ApiKeys keys;
    EXPECT_FALSE(keys.enabled());
    keys.add_key("s3cret");
    EXPECT_TRUE(keys.enabled());
    const auto id = keys.check("Bearer s3cret");
    ASSERT_TRUE(id.has_value());
    EXPECT_EQ(*id, "key-" + registry::sha256_hex("s3cret").substr(0, 12));
    EXPECT_FALSE(keys.check("Bearer wrong").has_value());
    EXPECT_FALSE(keys.check("s3cret").has_value());
    EXPECT_FALSE(keys.check("").has_value());
}

TEST(ApiKeys, FileHoldsPlainAndHashedKeys) {
    const std::string path = (std::filesystem::temp_directory_path() / ("sobre_keys_" + std::to_string(getpid()))).string();
    {
        std::ofstream out(path);
        out << "# team keys\n\nplain-key\nsha256:" << registry::sha256_hex("hashed-key") << "\n";
    }
    ApiKeys keys;
    keys.add_file(path);
    EXPECT_TRUE(keys.check("Bearer plain-key").has_value());
    EXPECT_TRUE(keys.check("Bearer hashed-key").has_value());
    EXPECT_FALSE(keys.check("Bearer sha256:" + registry::sha256_hex("hashed-key")).has_value());
    {
        std::ofstream out(path);
        out << "sha256:nothex\n";
    }
    ApiKeys bad;
    EXPECT_THROW(bad.add_file(path), Error);
    std::filesystem::remove(path);
}

}  // namespace
}  // namespace sobre::server
