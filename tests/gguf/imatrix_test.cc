// The imatrix file format (gguf/imatrix.h) against llama-imatrix's own files in tests/data.
#include "gguf/imatrix.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "core/error.h"
#include "gguf/writer.h"

namespace sobre::gguf {
namespace {

namespace fs = std::filesystem;

const std::string kDir = std::string(SOBRE_TEST_DATA_DIR) + "/imatrix";

std::string read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string scratch(const std::string& name) {
    return (fs::temp_directory_path() / ("sobre_imatrix_test." + std::to_string(getpid()) + "." + name)).string();
}

TEST(ImatrixFile, ReadsLlamaImatrixOutput) {
    const Imatrix m = read_imatrix(kDir + "/qwen3moe-F32.imatrix.gguf");
    ASSERT_EQ(m.datasets.size(), 1u);
    EXPECT_EQ(m.datasets[0], "eval_text.txt");
    EXPECT_EQ(m.chunk_count, 8u);
    EXPECT_EQ(m.chunk_size, 128u);
    // Dense: one count (every token of 8 chunks); experts: one per expert, 2 of 8 chosen per token.
    const ImatrixEntry& q = m.entries.at("blk.0.attn_q.weight");
    EXPECT_EQ(q.n_mat(), 1);
    EXPECT_EQ(q.n_per_row(), 256);
    EXPECT_EQ(q.counts[0], 8 * 128);
    const ImatrixEntry& up = m.entries.at("blk.1.ffn_up_exps.weight");
    EXPECT_EQ(up.n_mat(), 8);
    EXPECT_EQ(up.n_per_row(), 256);
    int64_t routed = 0;
    for (int64_t c : up.counts) routed += c;
    EXPECT_EQ(routed, 2 * 8 * 128);
    EXPECT_EQ(m.entries.at("blk.1.ffn_down_exps.weight").n_per_row(), 64);
}

TEST(ImatrixFile, WritesWhatLlamaImatrixWrites) {
    for (const char* name : {"qwen3-F32", "qwen3moe-F32", "deepseek2-v2lite-F32"}) {
        const std::string in = kDir + "/" + name + ".imatrix.gguf";
        const std::string out = scratch(std::string(name) + ".gguf");
        write_imatrix(out, read_imatrix(in));
        EXPECT_EQ(read_bytes(out), read_bytes(in)) << name;
        fs::remove(out);
    }
}

TEST(ImatrixFile, WeightsAreMeansAndOneWithoutData) {
    ImatrixEntry e{{2, 4, 6, 8, 1, 1, 1, 1}, {2, 0}};
    EXPECT_EQ(imatrix_weights(e), (std::vector<float>{1, 2, 3, 4, 1, 1, 1, 1}));
}

TEST(ImatrixFile, BadFilesAreRefused) {
    const std::string text = scratch("text.dat");
    std::ofstream(text) << "legacy imatrix bytes";
    try {
        read_imatrix(text);
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
        EXPECT_NE(std::string(e.what()).find("legacy .dat"), std::string::npos) << e.what();
    }
    fs::remove(text);
    // A sums tensor without its counts.
    Writer w;
    w.set("imatrix.datasets", Value::of_strings({"t.txt"}));
    w.set("imatrix.chunk_count", Value::of_u32(1));
    w.set("imatrix.chunk_size", Value::of_u32(4));
    w.add_tensor("blk.0.attn_q.weight.in_sum2", DType::kF32, {4}, [](ByteSink& out) {
        const float v[4] = {1, 2, 3, 4};
        out.write(v, sizeof v);
    });
    const std::string lone = scratch("lone.gguf");
    w.write(lone);
    try {
        read_imatrix(lone);
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::kCorrupt);
        EXPECT_NE(std::string(e.what()).find("blk.0.attn_q.weight.counts"), std::string::npos) << e.what();
    }
    fs::remove(lone);
    EXPECT_THROW(read_imatrix(scratch("missing.gguf")), Error);
}

}  // namespace
}  // namespace sobre::gguf
