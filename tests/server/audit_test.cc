#include "server/audit.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "registry/sha256.h"

namespace sobre::server {
namespace {

class AuditTest : public ::testing::Test {
   protected:
    void TearDown() override { std::filesystem::remove(path_); }
    std::vector<std::string> lines() const {
        std::ifstream in(path_);
        std::vector<std::string> out;
        std::string l;
        while (std::getline(in, l)) out.push_back(l);
        return out;
    }
    void write_lines(const std::vector<std::string>& ls) const {
        std::ofstream out(path_, std::ios::trunc);
        for (const auto& l : ls) out << l << "\n";
    }
    std::string path_ = (std::filesystem::temp_directory_path() / ("sobre_audit_" + std::to_string(getpid()))).string();
};

TEST_F(AuditTest, EachLineChainsToThePreviousAndSurvivesReopening) {
    {
        AuditLog log(path_);
        log.append({{"n", 1}});
        log.append({{"n", 2}});
    }
    {
        AuditLog log(path_);  // continues the chain from the file
        log.append({{"n", 3}});
    }
    const auto ls = lines();
    ASSERT_EQ(ls.size(), 3u);
    EXPECT_EQ(nlohmann::json::parse(ls[0])["prev"], kAuditGenesis);
    EXPECT_EQ(nlohmann::json::parse(ls[1])["prev"], registry::sha256_hex(ls[0]));
    EXPECT_EQ(nlohmann::json::parse(ls[2])["prev"], registry::sha256_hex(ls[1]));
    EXPECT_EQ(AuditLog::verify(path_), "");
}

TEST_F(AuditTest, VerifyNamesTheEditedLine) {
    {
        AuditLog log(path_);
        for (int i = 0; i < 4; ++i) log.append({{"n", i}, {"completion_tokens", 10}});
    }
    auto ls = lines();
    const size_t at = ls[1].find("10");
    ls[1].replace(at, 2, "99");
    write_lines(ls);
    EXPECT_EQ(AuditLog::verify(path_), "line 2: edited, removed or reordered (line 3 records another hash for it)");
}

TEST_F(AuditTest, VerifyNamesARemovedLine) {
    {
        AuditLog log(path_);
        for (int i = 0; i < 3; ++i) log.append({{"n", i}});
    }
    auto ls = lines();
    ls.erase(ls.begin() + 1);
    write_lines(ls);
    EXPECT_NE(AuditLog::verify(path_).find("line 1: edited, removed or reordered"), std::string::npos);
}

TEST_F(AuditTest, VerifyRejectsGarbage) {
    write_lines({"not json"});
    EXPECT_EQ(AuditLog::verify(path_), "line 1: not an audit entry");
}

}  // namespace
}  // namespace sobre::server
