// Reading real fixture files and round-tripping every metadata type through the writer.
#include "gguf/reader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "gguf/writer.h"

namespace sobre::gguf {
namespace {

const std::string kModels = std::string(SOBRE_FIXTURES_DIR) + "/models";

TEST(Reader, ReadsAFixtureModel) {
    const File f = File::open(kModels + "/llama-Q4_K_M.gguf");
    EXPECT_EQ(f.version(), 3u);
    EXPECT_EQ(f.get_string("general.architecture"), "llama");
    EXPECT_EQ(f.get_u32("llama.block_count"), 2u);
    const Value* tokens = f.get_array("tokenizer.ggml.tokens");
    ASSERT_NE(tokens, nullptr);
    EXPECT_EQ(tokens->elem_type, ValueType::kString);
    EXPECT_EQ(tokens->size(), 512u);
    EXPECT_EQ(tokens->strings[1], "<s>");
    EXPECT_EQ(tokens->strings[3], "<0x00>");
    const TensorInfo* embd = f.find_tensor("token_embd.weight");
    ASSERT_NE(embd, nullptr);
    EXPECT_EQ(embd->ne[0], 256);
    EXPECT_EQ(embd->ne[1], 512);
    // Zero-copy: tensor bytes point into the mapping, after the aligned data offset.
    for (const TensorInfo& t : f.tensors()) {
        EXPECT_EQ(t.offset % f.alignment(), 0u) << t.name;
        EXPECT_LE(f.data_offset() + t.offset + t.n_bytes, f.file_size()) << t.name;
        EXPECT_EQ(t.n_bytes, static_cast<uint64_t>(t.row_bytes() * t.n_rows())) << t.name;
    }
}

TEST(Reader, TypedGettersRejectTheWrongKind) {
    const File f = File::open(kModels + "/qwen3-F32.gguf");
    EXPECT_THROW(f.get_u32("general.architecture"), Error);
    EXPECT_THROW(f.get_string("qwen3.block_count"), Error);
    EXPECT_FALSE(f.get_u32("no.such.key").has_value());
    EXPECT_NEAR(*f.get_f32("qwen3.rope.freq_base"), 1e6f, 1.0f);
}

TEST(Reader, MissingFileIsNotFound) {
    try {
        File::open("/nonexistent/model.gguf");
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
        EXPECT_NE(std::string(e.what()).find("/nonexistent/model.gguf"), std::string::npos);
    }
}

class TempDir {
   public:
    TempDir() : path_(std::filesystem::temp_directory_path() / ("sobre_gguf_" + std::to_string(getpid()))) {
        std::filesystem::create_directories(path_);
    }
    ~TempDir() { std::filesystem::remove_all(path_); }
    std::string file(const std::string& name) const { return (path_ / name).string(); }

   private:
    std::filesystem::path path_;
};

TEST(Writer, RoundTripsEveryValueTypeAndTensorData) {
    TempDir dir;
    Writer w;
    w.set("general.alignment", Value::of_u32(64));
    Value u8;
    u8.type = ValueType::kU8;
    u8.u = 200;
    w.set("t.u8", u8);
    Value i16;
    i16.type = ValueType::kI16;
    i16.i = -1234;
    w.set("t.i16", i16);
    w.set("t.u32", Value::of_u32(4000000000u));
    w.set("t.i32", Value::of_i32(-7));
    w.set("t.u64", Value::of_u64(1ull << 40));
    w.set("t.f32", Value::of_f32(0.25f));
    Value f64;
    f64.type = ValueType::kF64;
    f64.f = -1.5e300;
    w.set("t.f64", f64);
    w.set("t.bool", Value::of_bool(true));
    w.set("t.str", Value::of_string("héllo"));
    w.set("t.strs", Value::of_strings({"a", "", "ccc"}));
    w.set("t.f32s", Value::of_f32s({1.f, 2.f}));
    Value nested = Value::of_strings({});
    nested.elem_type = ValueType::kArray;
    nested.arrays = {Value::of_i32s({1, 2, 3}), Value::of_strings({"x"})};
    w.set("t.nested", nested);
    const float data[3] = {1.5f, -2.f, 3.f};
    w.add_tensor("a", DType::kF32, {3}, [&](ByteSink& s) { s.write(data, sizeof data); });
    w.add_tensor("b", DType::kF32, {1, 1}, [&](ByteSink& s) { s.write(data, 4); });
    const std::string path = dir.file("rt.gguf");
    w.write(path);
    EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));

    const File f = File::open(path);
    EXPECT_EQ(f.alignment(), 64u);
    EXPECT_EQ(f.find("t.u8")->u, 200u);
    EXPECT_EQ(f.find("t.i16")->i, -1234);
    EXPECT_EQ(f.get_u32("t.u32"), 4000000000u);
    EXPECT_EQ(f.find("t.i32")->i, -7);
    EXPECT_EQ(f.get_u64("t.u64"), 1ull << 40);
    EXPECT_EQ(f.get_f32("t.f32"), 0.25f);
    EXPECT_EQ(f.find("t.f64")->f, -1.5e300);
    EXPECT_EQ(f.get_bool("t.bool"), true);
    EXPECT_EQ(f.get_string("t.str"), "héllo");
    EXPECT_EQ(f.get_array("t.strs")->strings, (std::vector<std::string>{"a", "", "ccc"}));
    EXPECT_EQ(f.get_array("t.f32s")->at(1).f, 2.0);
    const Value* n = f.get_array("t.nested");
    ASSERT_EQ(n->size(), 2u);
    EXPECT_EQ(n->arrays[0].at(2).i, 3);
    EXPECT_EQ(n->arrays[1].strings[0], "x");
    const TensorInfo* a = f.find_tensor("a");
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(std::memcmp(a->data, data, sizeof data), 0);
    EXPECT_EQ(f.find_tensor("b")->offset, 64u);
}

TEST(Writer, FailedProducerLeavesNoFile) {
    TempDir dir;
    Writer w;
    w.add_tensor("a", DType::kF32, {4}, [](ByteSink& s) {
        const float x = 1;
        s.write(&x, sizeof x);  // 4 bytes of 16
    });
    const std::string path = dir.file("bad.gguf");
    EXPECT_THROW(w.write(path), Error);
    EXPECT_FALSE(std::filesystem::exists(path));
    EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

}  // namespace
}  // namespace sobre::gguf
