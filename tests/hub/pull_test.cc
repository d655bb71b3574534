// `pull` end to end against the local fake hub: the listing, the redirect, Range resumes, broken
// and corrupted transfers, and a hub that answers garbage. Expected hashes, sizes and types come
// from ../shared/fixtures/models/MANIFEST.tsv (llama.cpp's tools), never from sobre.
#include "hub/pull.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/clock.h"
#include "core/error.h"
#include "hub/fake_hub.h"
#include "registry/sha256.h"

namespace sobre::hub {
namespace {

namespace fs = std::filesystem;
using testing::CdnMode;
using testing::FakeFile;
using testing::FakeHub;
using testing::ListingMode;
using testing::manifest_row;

constexpr const char* kRepo = "fixture/llama-GGUF";

FakeFile fixture_file(const std::string& name, const std::string& dir = "") {
    return {dir + name + ".gguf", testing::read_binary(testing::fixture_model_path(name)), manifest_row(name).gguf_sha256};
}

// A split model's parts carry bytes that are never downloaded; their hashes just have to be hashes.
FakeFile split_part(int i) {
    const std::string data = "part " + std::to_string(i);
    return {"llama-Q2_K-0000" + std::to_string(i) + "-of-00002.gguf", data, registry::sha256_hex(data)};
}

class PullTest : public ::testing::Test {
   protected:
    void SetUp() override {
        // The fake hub is on 127.0.0.1: a proxy from the environment must not sit in between.
        for (const char* var : {"http_proxy", "all_proxy", "ALL_PROXY"}) ::unsetenv(var);
        dir_ = (fs::temp_directory_path() / ("sobre_pull_test." + std::to_string(::getpid()) + "." +
                                              ::testing::UnitTest::GetInstance()->current_test_info()->name()))
                   .string();
        fs::remove_all(dir_);
        store_ = std::make_unique<registry::Store>(dir_);
        hub_ = std::make_unique<FakeHub>(
            kRepo, std::vector<FakeFile>{fixture_file("llama-Q8_0"), fixture_file("llama-Q4_K_M"), fixture_file("llama-Q4_0"),
                                         {"README.md", "# fixture\n", ""}, split_part(1), split_part(2),
                                         fixture_file("llama-Q5_K_M", "more/")});
        options_.hub.base_url = hub_->url();
        options_.retry_delay = std::chrono::milliseconds(0);
    }
    void TearDown() override { fs::remove_all(dir_); }

    std::string dest(const std::string& file) const { return dir_ + "/models/" + kRepo + "/" + file; }

    // Runs pull and returns the Error it throws (fails the test when it succeeds).
    Error pull_error(const std::string& spec) {
        try {
            pull(*store_, spec, options_);
        } catch (const Error& e) {
            return e;
        }
        ADD_FAILURE() << "pull " << spec << " succeeded";
        return Error(ErrorKind::kIo, "");
    }

    std::string dir_;
    std::unique_ptr<registry::Store> store_;
    std::unique_ptr<FakeHub> hub_;
    PullOptions options_;
};

TEST_F(PullTest, DownloadsVerifiesAndRegisters) {
    options_.hub.token = "hf_secret";
    hub_->require_token("hf_secret");
    const PullResult r = pull(*store_, std::string(kRepo) + ":q8_0", options_);
    const testing::ManifestRow want = manifest_row("llama-Q8_0");
    EXPECT_TRUE(r.downloaded);
    EXPECT_EQ(r.entry.name, "llama-Q8_0");
    EXPECT_EQ(r.entry.sha256, want.gguf_sha256);
    EXPECT_EQ(r.entry.size, want.gguf_bytes);
    EXPECT_EQ(r.entry.quantization, want.weight_type);
    EXPECT_EQ(testing::read_binary(dest("llama-Q8_0.gguf")), testing::read_binary(testing::fixture_model_path("llama-Q8_0")));
    EXPECT_FALSE(fs::exists(dest("llama-Q8_0.gguf.part")));

    const registry::Entry stored = store_->get("llama-Q8_0");
    EXPECT_EQ(store_->path_of(stored), dest("llama-Q8_0.gguf"));
    EXPECT_TRUE(store_->owns(stored));
    EXPECT_EQ(stored.source.hub, hub_->url());
    EXPECT_EQ(stored.source.repo, kRepo);
    EXPECT_EQ(stored.source.revision, "main");
    EXPECT_EQ(stored.source.file, "llama-Q8_0.gguf");
    EXPECT_EQ(stored.sha256, want.gguf_sha256);

    const testing::Seen seen = hub_->seen();
    EXPECT_EQ(seen.listing_pages, 4);  // 7 files and a directory, 2 a page: the Link header was followed
    EXPECT_EQ(seen.file_requests, 1);
    for (const std::string& a : seen.hub_auth) EXPECT_EQ(a, "Bearer hf_secret");
    ASSERT_EQ(seen.cdn_auth.size(), 1u);
    EXPECT_EQ(seen.cdn_auth[0], "") << "the token must not follow the redirect to another host";
}

TEST_F(PullTest, PaginationStaysOnTheHubItWasGiven) {
    options_.hub.token = "hf_secret";
    hub_->set_listing_mode(ListingMode::kForeignLinks);
    EXPECT_EQ(pull(*store_, std::string(kRepo) + ":Q8_0", options_).entry.sha256, manifest_row("llama-Q8_0").gguf_sha256);
    EXPECT_EQ(hub_->seen().listing_pages, 4);
}

TEST_F(PullTest, FileInASubdirectory) {
    const PullResult r = pull(*store_, std::string(kRepo) + ":Q5_K_M", options_);
    EXPECT_EQ(r.entry.sha256, manifest_row("llama-Q5_K_M").gguf_sha256);
    EXPECT_EQ(store_->path_of(r.entry), dest("more/llama-Q5_K_M.gguf"));
}

TEST_F(PullTest, ResumesWithARangeAfterTheConnectionBreaks) {
    hub_->set_cdn_mode(CdnMode::kCutOnce, 300000);
    const PullResult r = pull(*store_, std::string(kRepo) + ":Q8_0", options_);
    EXPECT_EQ(r.entry.sha256, manifest_row("llama-Q8_0").gguf_sha256);
    const testing::Seen seen = hub_->seen();
    EXPECT_EQ(seen.file_requests, 2);
    EXPECT_EQ(seen.ranges, std::vector<std::string>{"bytes=300000-"});
    EXPECT_EQ(registry::sha256_file_hex(dest("llama-Q8_0.gguf")), manifest_row("llama-Q8_0").gguf_sha256);
}

TEST_F(PullTest, ResumesAPartialFileLeftOnDisk) {
    const std::string data = testing::read_binary(testing::fixture_model_path("llama-Q8_0"));
    fs::create_directories(fs::path(dest("x")).parent_path());
    std::ofstream(dest("llama-Q8_0.gguf.part"), std::ios::binary) << data.substr(0, 123457);
    const PullResult r = pull(*store_, std::string(kRepo) + ":Q8_0", options_);
    EXPECT_EQ(r.resumed_from, 123457u);
    EXPECT_EQ(hub_->seen().ranges, std::vector<std::string>{"bytes=123457-"});
    EXPECT_EQ(testing::read_binary(dest("llama-Q8_0.gguf")), data);
}

TEST_F(PullTest, AnInterruptedPullKeepsThePartAndTheNextOneFinishesIt) {
    hub_->set_cdn_mode(CdnMode::kCutAlways, 100000);
    options_.attempts = 2;
    const Error e = pull_error(std::string(kRepo) + ":Q8_0");
    EXPECT_EQ(e.kind(), ErrorKind::kIo);
    EXPECT_NE(std::string(e.what()).find("200000 of 923328 bytes are kept"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("run the same pull again to resume"), std::string::npos) << e.what();
    EXPECT_EQ(fs::file_size(dest("llama-Q8_0.gguf.part")), 200000u);
    EXPECT_FALSE(fs::exists(dest("llama-Q8_0.gguf")));
    EXPECT_FALSE(store_->find("llama-Q8_0").has_value());

    hub_->set_cdn_mode(CdnMode::kNormal);
    const PullResult r = pull(*store_, std::string(kRepo) + ":Q8_0", options_);
    EXPECT_EQ(r.resumed_from, 200000u);
    EXPECT_EQ(hub_->seen().ranges.back(), "bytes=200000-");
    EXPECT_EQ(registry::sha256_file_hex(dest("llama-Q8_0.gguf")), manifest_row("llama-Q8_0").gguf_sha256);
}

TEST_F(PullTest, ACorruptedDownloadIsDetectedAndDeleted) {
    hub_->set_cdn_mode(CdnMode::kCorrupt);
    const Error e = pull_error(std::string(kRepo) + ":Q8_0");
    EXPECT_EQ(e.kind(), ErrorKind::kCorrupt);
    const std::string msg = e.what();
    EXPECT_NE(msg.find("sha256 mismatch: the hub publishes " + manifest_row("llama-Q8_0").gguf_sha256), std::string::npos) << msg;
    EXPECT_NE(msg.find("deleted " + dest("llama-Q8_0.gguf.part")), std::string::npos) << msg;
    EXPECT_FALSE(fs::exists(dest("llama-Q8_0.gguf.part")));
    EXPECT_FALSE(fs::exists(dest("llama-Q8_0.gguf")));
    EXPECT_TRUE(store_->entries().empty());
}

TEST_F(PullTest, AStalePartWithWrongBytesIsCaughtByTheHash) {
    fs::create_directories(fs::path(dest("x")).parent_path());
    std::ofstream(dest("llama-Q8_0.gguf.part"), std::ios::binary) << std::string(5000, 'x');
    EXPECT_EQ(pull_error(std::string(kRepo) + ":Q8_0").kind(), ErrorKind::kCorrupt);
    EXPECT_FALSE(fs::exists(dest("llama-Q8_0.gguf.part")));
    // The next pull starts from zero and succeeds.
    EXPECT_EQ(pull(*store_, std::string(kRepo) + ":Q8_0", options_).resumed_from, 0u);
}

TEST_F(PullTest, AServerThatIgnoresRangesRestartsThePart) {
    hub_->set_cdn_mode(CdnMode::kIgnoreRange);
    fs::create_directories(fs::path(dest("x")).parent_path());
    std::ofstream(dest("llama-Q8_0.gguf.part"), std::ios::binary) << std::string(5000, 'x');
    const PullResult r = pull(*store_, std::string(kRepo) + ":Q8_0", options_);
    EXPECT_EQ(hub_->seen().ranges, std::vector<std::string>{"bytes=5000-"});
    EXPECT_EQ(r.entry.sha256, manifest_row("llama-Q8_0").gguf_sha256);
    EXPECT_EQ(registry::sha256_file_hex(dest("llama-Q8_0.gguf")), manifest_row("llama-Q8_0").gguf_sha256);
}

TEST_F(PullTest, PullingAgainDownloadsNothing) {
    pull(*store_, std::string(kRepo) + ":Q8_0", options_);
    const PullResult again = pull(*store_, std::string(kRepo) + ":Q8_0", options_);
    EXPECT_FALSE(again.downloaded);
    EXPECT_EQ(hub_->seen().file_requests, 1);
    // A second name for the same file shares it: removing one keeps the file for the other.
    options_.name = "second";
    EXPECT_FALSE(pull(*store_, std::string(kRepo) + ":Q8_0", options_).downloaded);
    store_->remove("llama-Q8_0");
    EXPECT_TRUE(fs::exists(dest("llama-Q8_0.gguf")));
    store_->remove("second");
    EXPECT_FALSE(fs::exists(dest("llama-Q8_0.gguf")));
}

TEST_F(PullTest, ATakenNameIsRefusedBeforeDownloading) {
    registry::Entry local = registry::describe_file(testing::fixture_model_path("llama-Q4_0"));
    local.name = "llama-Q8_0";
    local.source.path = local.file;
    local.added = utc_timestamp();
    store_->put(local, [](const registry::Entry&) { return false; });
    const Error e = pull_error(std::string(kRepo) + ":Q8_0");
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("the name 'llama-Q8_0' is taken"), std::string::npos) << e.what();
    EXPECT_EQ(hub_->seen().file_requests, 0);
}

TEST_F(PullTest, GarbageFromTheHubIsAClearError) {
    hub_->set_listing_mode(ListingMode::kGarbage);
    Error e = pull_error(std::string(kRepo) + ":Q8_0");
    EXPECT_EQ(e.kind(), ErrorKind::kCorrupt);
    EXPECT_NE(std::string(e.what()).find("is not a file listing (a JSON array); it starts with '<html><body><h1>502"),
              std::string::npos)
        << e.what();
    hub_->set_listing_mode(ListingMode::kBadEntries);
    e = pull_error(std::string(kRepo) + ":Q8_0");
    EXPECT_EQ(e.kind(), ErrorKind::kCorrupt);
    EXPECT_NE(std::string(e.what()).find("unexpected shape"), std::string::npos) << e.what();
    EXPECT_TRUE(store_->entries().empty());
}

TEST_F(PullTest, UnknownRepositoryAndMissingToken) {
    Error e = pull_error("fixture/nope:Q8_0");
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
    EXPECT_NE(std::string(e.what()).find("HTTP 404: Repository not found"), std::string::npos) << e.what();
    hub_->require_token("hf_secret");
    e = pull_error(std::string(kRepo) + ":Q8_0");
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
    EXPECT_NE(std::string(e.what()).find("HTTP 401: Invalid username or password. (a private or gated repository needs a "
                                         "token: --token or HF_TOKEN)"),
              std::string::npos)
        << e.what();
}

TEST_F(PullTest, QuantSelectionErrorsListTheCandidates) {
    Error e = pull_error(std::string(kRepo) + ":Q4");
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("'Q4' matches several GGUF files: llama-Q4_K_M.gguf, llama-Q4_0.gguf"),
              std::string::npos)
        << e.what();
    e = pull_error(std::string(kRepo) + ":IQ9_Z");
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
    EXPECT_NE(std::string(e.what()).find("no GGUF file matching 'IQ9_Z' (files: llama-Q8_0.gguf, llama-Q4_K_M.gguf, "
                                         "llama-Q4_0.gguf, llama-Q2_K-*.gguf, more/llama-Q5_K_M.gguf)"),
              std::string::npos)
        << e.what();
    e = pull_error(std::string(kRepo) + ":Q2_K");
    EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("llama-Q2_K.gguf is split in 2 parts"), std::string::npos) << e.what();
    e = pull_error(kRepo);
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("there are several GGUF files"), std::string::npos) << e.what();
    EXPECT_EQ(hub_->seen().file_requests, 0);
}

TEST_F(PullTest, AnUnreachableHubIsAClearError) {
    options_.hub.base_url = "http://127.0.0.1:1";
    const Error e = pull_error(std::string(kRepo) + ":Q8_0");
    EXPECT_EQ(e.kind(), ErrorKind::kIo);
    EXPECT_NE(std::string(e.what()).find("GET http://127.0.0.1:1/api/models/fixture/llama-GGUF/tree/main"), std::string::npos)
        << e.what();
}

}  // namespace
}  // namespace sobre::hub
