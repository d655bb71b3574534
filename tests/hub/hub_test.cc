// The hub client's offline parts: repository specs, hub URLs, and which file a quant tag picks.
#include "hub/hub.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace sobre::hub {
namespace {

ErrorKind kind_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.kind();
    }
    ADD_FAILURE() << "no Error thrown";
    return ErrorKind::kIo;
}

TEST(RepoRef, SplitsRepoAndQuant) {
    RepoRef r = parse_repo_ref("Qwen/Qwen3-0.6B-GGUF:Q8_0");
    EXPECT_EQ(r.repo, "Qwen/Qwen3-0.6B-GGUF");
    EXPECT_EQ(r.quant, "Q8_0");
    r = parse_repo_ref("unsloth/gpt-oss-20b-GGUF");
    EXPECT_EQ(r.repo, "unsloth/gpt-oss-20b-GGUF");
    EXPECT_EQ(r.quant, "");
    EXPECT_EQ(parse_repo_ref("unsloth/Qwen3-8B-GGUF:UD-Q4_K_XL").quant, "UD-Q4_K_XL");
}

TEST(RepoRef, RejectsWhatIsNotAnOwnerAndName) {
    for (const char* bad : {"", "noslash", "a/b/c", "/name", "owner/", "owner/na me", "owner/..", "owner/a..b",
                            "owner/a--b", "owner/-lead", "owner/name:", "owner/name:Q4/K", "../etc:Q4"}) {
        EXPECT_EQ(kind_of([&] { parse_repo_ref(bad); }), ErrorKind::kInvalidArgument) << bad;
    }
}

TEST(HubUrl, NeedsHttpAndDropsTrailingSlashes) {
    EXPECT_EQ(check_hub_url("https://huggingface.co/"), "https://huggingface.co");
    EXPECT_EQ(check_hub_url("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
    for (const char* bad : {"", "huggingface.co", "ftp://x", "http://", "http://a b", "https://x/?q=1"}) {
        EXPECT_EQ(kind_of([&] { check_hub_url(bad); }), ErrorKind::kInvalidArgument) << bad;
    }
}

TEST(HubConfig, RefusesHeaderInjectionAndOddRevisions) {
    HubConfig c;
    c.token = "hf_abc\r\nX-Evil: 1";
    EXPECT_EQ(kind_of([&] { check_config(c); }), ErrorKind::kInvalidArgument);
    c.token = "hf_abc";
    c.revision = "../main";
    EXPECT_EQ(kind_of([&] { check_config(c); }), ErrorKind::kInvalidArgument);
    c.revision = "refs/pr/1";
    check_config(c);
    EXPECT_EQ(file_url(c, "o/n", "dir/a b.gguf"), "https://huggingface.co/o/n/resolve/refs%2Fpr%2F1/dir/a%20b.gguf");
    EXPECT_EQ(auth_headers(c), std::vector<std::string>{"Authorization: Bearer hf_abc"});
}

std::vector<HubFile> files(std::initializer_list<const char*> paths) {
    std::vector<HubFile> out;
    for (const char* p : paths) out.push_back({p, 1, std::string(64, 'a')});
    return out;
}

TEST(PickGguf, ContainsCaseInsensitivelyAndPrefersTheExactTag) {
    const auto fs = files({"README.md", "m-Q4_0.gguf", "m-Q4_0_4_4.gguf", "m-Q4_K_M.gguf", "m-Q4_K_S.gguf",
                           "mmproj-m-Q4_0.gguf", "m.Q8_0.gguf"});
    EXPECT_EQ(pick_gguf(fs, "o/m", "q4_k_m").path, "m-Q4_K_M.gguf");
    EXPECT_EQ(pick_gguf(fs, "o/m", "Q4_0").path, "m-Q4_0.gguf");      // not Q4_0_4_4, not the projector
    EXPECT_EQ(pick_gguf(fs, "o/m", "q8_0").path, "m.Q8_0.gguf");      // a '.' before the tag counts too
    EXPECT_EQ(kind_of([&] { pick_gguf(fs, "o/m", "Q4_K"); }), ErrorKind::kInvalidArgument);  // _M or _S?
    EXPECT_EQ(kind_of([&] { pick_gguf(fs, "o/m", "Q3_K"); }), ErrorKind::kNotFound);
    EXPECT_EQ(kind_of([&] { pick_gguf(fs, "o/m", ""); }), ErrorKind::kInvalidArgument);
    EXPECT_EQ(pick_gguf(files({"a.txt", "only-F16.gguf"}), "o/m", "").path, "only-F16.gguf");
    EXPECT_EQ(kind_of([&] { pick_gguf(files({"a.txt"}), "o/m", ""); }), ErrorKind::kNotFound);
}

TEST(PickGguf, SplitFilesAreRefusedClearly) {
    const auto fs = files({"big-Q8_0-00001-of-00003.gguf", "big-Q8_0-00002-of-00003.gguf", "big-Q8_0-00003-of-00003.gguf",
                           "big-Q2_K.gguf"});
    try {
        pick_gguf(fs, "o/big", "Q8_0");
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
        EXPECT_STREQ(e.what(),
                     "o/big: big-Q8_0.gguf is split in 3 parts (big-Q8_0-00001-of-00003.gguf); split GGUF files are not "
                     "supported yet");
    }
    EXPECT_EQ(pick_gguf(fs, "o/big", "Q2_K").path, "big-Q2_K.gguf");
}

TEST(PickGguf, UnsafePathsFromTheHubAreRefused) {
    for (const char* p : {"../evil-Q8_0.gguf", "/abs-Q8_0.gguf", "a//b-Q8_0.gguf", "a/./b-Q8_0.gguf", "a\\b-Q8_0.gguf"}) {
        EXPECT_EQ(kind_of([&] { pick_gguf(files({p}), "o/m", "Q8_0"); }), ErrorKind::kCorrupt) << p;
    }
}

}  // namespace
}  // namespace sobre::hub
