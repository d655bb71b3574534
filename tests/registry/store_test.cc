// The model store: what is recorded about a file (checked against MANIFEST.tsv, made by
// llama.cpp's tools), the index round trip and its failure modes, and verification.
#include "registry/store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "registry/fixture_manifest.h"
#include "registry/quantization.h"

namespace sobre::registry {
namespace {

namespace fs = std::filesystem;
using sobre::testing::fixture_model_path;
using sobre::testing::manifest_row;

class StoreTest : public ::testing::Test {
   protected:
    void SetUp() override {
        dir_ = (fs::temp_directory_path() / ("sobre_store_test." + std::to_string(::getpid()))).string();
        fs::remove_all(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }

    Entry local(const std::string& fixture, const std::string& name) {
        Entry e = describe_file(fixture_model_path(fixture));
        e.name = name;
        e.source.path = e.file;
        e.added = "2025-01-01T00:00:00Z";
        return e;
    }
    void write_index(const std::string& text) {
        fs::create_directories(dir_);
        std::ofstream(dir_ + "/index.json") << text;
    }
    ErrorKind error_of(const std::function<void()>& f, std::string* message = nullptr) {
        try {
            f();
        } catch (const Error& e) {
            if (message) *message = e.what();
            return e.kind();
        }
        ADD_FAILURE() << "no Error thrown";
        return ErrorKind::kIo;
    }

    std::string dir_;
};

const auto kNever = [](const Entry&) { return false; };
const auto kAlways = [](const Entry&) { return true; };

TEST(Quantization, NamesAreLlamaCppFileTypes) {
    // Values from llama.cpp include/llama.h (enum llama_ftype).
    EXPECT_EQ(file_type_name(0), "F32");
    EXPECT_EQ(file_type_name(7), "Q8_0");
    EXPECT_EQ(file_type_name(15), "Q4_K_M");
    EXPECT_EQ(file_type_name(30), "IQ4_XS");
    EXPECT_EQ(file_type_name(32), "BF16");
    EXPECT_EQ(file_type_name(5), "ftype 5");  // retired Q4_2
}

TEST_F(StoreTest, DescribeMatchesTheManifest) {
    for (const char* name : {"llama-F16", "llama-BF16", "llama-Q8_0", "llama-Q4_0", "llama-Q4_K_M", "llama-Q2_K",
                             "llama-Q3_K_M", "llama-Q5_K_M", "llama-Q6_K"}) {
        const Entry e = describe_file(fixture_model_path(name));
        const sobre::testing::ManifestRow want = manifest_row(name);
        EXPECT_EQ(e.sha256, want.gguf_sha256) << name;
        EXPECT_EQ(e.size, want.gguf_bytes) << name;
        EXPECT_EQ(e.quantization, want.weight_type) << name;
        EXPECT_EQ(e.file, fixture_model_path(name));
    }
}

TEST_F(StoreTest, DescribeRefusesWhatIsNotGguf) {
    fs::create_directories(dir_);
    std::ofstream(dir_ + "/text.gguf") << "not a model";
    EXPECT_EQ(error_of([&] { describe_file(dir_ + "/text.gguf"); }), ErrorKind::kCorrupt);
    EXPECT_EQ(error_of([&] { describe_file(dir_ + "/missing.gguf"); }), ErrorKind::kNotFound);
}

TEST_F(StoreTest, EntriesRoundTripThroughTheIndex) {
    Store store(dir_);
    EXPECT_TRUE(store.entries().empty());
    EXPECT_FALSE(fs::exists(dir_)) << "reading creates nothing";
    store.put(local("llama-Q8_0", "a"), kNever);
    Entry hub = local("llama-Q4_0", "b");
    fs::create_directories(dir_ + "/models/o/n");
    fs::copy_file(fixture_model_path("llama-Q4_0"), store.hub_path("o/n", "llama-Q4_0.gguf"));
    hub.file = store.hub_path("o/n", "llama-Q4_0.gguf");
    hub.source = {"https://huggingface.co", "o/n", "main", "llama-Q4_0.gguf", ""};
    store.put(hub, kNever);

    const Store again(dir_);
    const std::vector<Entry> all = again.entries();
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[0].name, "a");
    EXPECT_FALSE(again.owns(all[0]));
    EXPECT_EQ(again.path_of(all[0]), fixture_model_path("llama-Q8_0"));
    EXPECT_EQ(all[1].file, "models/o/n/llama-Q4_0.gguf") << "owned files are recorded relative to the store";
    EXPECT_TRUE(again.owns(all[1]));
    EXPECT_EQ(all[1].source.repo, "o/n");
    EXPECT_EQ(all[1].sha256, manifest_row("llama-Q4_0").gguf_sha256);
    EXPECT_EQ(all[1].quantization, "Q4_0");
    for (const auto& f : fs::directory_iterator(dir_)) {
        EXPECT_EQ(f.path().string().find(".tmp"), std::string::npos) << "left behind: " << f.path();
    }

    std::string msg;
    EXPECT_EQ(error_of([&] { again.get("c"); }, &msg), ErrorKind::kNotFound);
    EXPECT_EQ(msg, "no model named 'c' in the store " + dir_ + " (models: a, b)");

    Store writable(dir_);
    EXPECT_EQ(writable.remove("b").name, "b");
    EXPECT_FALSE(fs::exists(store.hub_path("o/n", "llama-Q4_0.gguf"))) << "an owned file is deleted";
    EXPECT_EQ(writable.remove("a").name, "a");
    EXPECT_TRUE(fs::exists(fixture_model_path("llama-Q8_0"))) << "a file registered in place is kept";
    EXPECT_TRUE(writable.entries().empty());
    EXPECT_EQ(error_of([&] { writable.remove("a"); }), ErrorKind::kNotFound);
}

TEST_F(StoreTest, ATakenNameIsReplacedOnlyWhenAllowed) {
    Store store(dir_);
    store.put(local("llama-Q8_0", "m"), kNever);
    std::string msg;
    EXPECT_EQ(error_of([&] { store.put(local("llama-Q4_0", "m"), kNever); }, &msg), ErrorKind::kInvalidArgument);
    EXPECT_NE(msg.find("the name 'm' is taken by " + fixture_model_path("llama-Q8_0")), std::string::npos) << msg;
    EXPECT_EQ(error_of([&] { store.check_name_free("m", kNever); }), ErrorKind::kInvalidArgument);
    store.check_name_free("other", kNever);
    store.put(local("llama-Q4_0", "m"), kAlways);
    ASSERT_EQ(store.entries().size(), 1u);
    EXPECT_EQ(store.get("m").quantization, "Q4_0");
}

TEST_F(StoreTest, ABrokenIndexIsNamed) {
    const Store store(dir_);
    std::string msg;
    write_index("{not json");
    EXPECT_EQ(error_of([&] { store.entries(); }, &msg), ErrorKind::kCorrupt);
    EXPECT_EQ(msg, dir_ + "/index.json: not valid JSON");
    write_index(R"({"version": 9, "models": []})");
    EXPECT_EQ(error_of([&] { store.entries(); }), ErrorKind::kCorrupt);
    write_index(R"({"version": 1, "models": [{"name": "x", "file": "f", "size": 1, "sha256": "abc",
                    "quantization": "Q8_0", "added": "now", "source": {}}]})");
    EXPECT_EQ(error_of([&] { store.entries(); }, &msg), ErrorKind::kCorrupt);
    EXPECT_NE(msg.find("model #1: 'sha256' is not 64 lowercase hex digits"), std::string::npos) << msg;
    write_index(R"({"version": 1, "models": [{"name": 7}]})");
    EXPECT_EQ(error_of([&] { store.entries(); }, &msg), ErrorKind::kCorrupt);
    EXPECT_NE(msg.find("'name' is missing or not a string"), std::string::npos) << msg;
}

TEST_F(StoreTest, VerifyNoticesEveryChange) {
    Store store(dir_);
    fs::create_directories(dir_ + "/models/local");
    const std::string copy = store.local_copy_path("m.gguf");
    fs::copy_file(fixture_model_path("llama-Q4_0"), copy);
    Entry e = local("llama-Q4_0", "m");
    e.file = copy;
    store.put(e, kNever);
    e = store.get("m");
    EXPECT_EQ(verify(store, e).status, Check::kOk);
    {
        std::fstream f(copy, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(100000);
        f.put('\x42');
    }
    const Check changed = verify(store, e);
    EXPECT_EQ(changed.status, Check::kHashMismatch);
    EXPECT_NE(changed.sha256, e.sha256);
    fs::resize_file(copy, 1000);
    EXPECT_EQ(verify(store, e).status, Check::kSizeMismatch);
    EXPECT_EQ(verify(store, e).size, 1000u);
    fs::remove(copy);
    EXPECT_EQ(verify(store, e).status, Check::kMissing);
}

TEST(ModelName, ReadsUnambiguously) {
    for (const char* ok : {"llama-Q8_0", "Qwen3-0.6B:Q8_0", "a", "model@v2+fix"}) check_model_name(ok);
    for (const char* bad : {"", "-flag", "has space", "a/b", "tab\tname", ".hidden"}) {
        EXPECT_THROW(check_model_name(bad), Error) << bad;
    }
    EXPECT_THROW(check_model_name(std::string(129, 'a')), Error);
}

TEST(StoreDir, FollowsTheEnvironment) {
    ::setenv("SOBRE_HOME", "/srv/sobre", 1);
    ::setenv("XDG_CACHE_HOME", "/xdg", 1);
    EXPECT_EQ(default_store_dir(), "/srv/sobre");
    ::unsetenv("SOBRE_HOME");
    EXPECT_EQ(default_store_dir(), "/xdg/sobre");
    ::unsetenv("XDG_CACHE_HOME");
    ::setenv("HOME", "/home/u", 1);
    EXPECT_EQ(default_store_dir(), "/home/u/.cache/sobre");
    ::unsetenv("HOME");
    EXPECT_THROW(default_store_dir(), Error);
}

}  // namespace
}  // namespace sobre::registry
