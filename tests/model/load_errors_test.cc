// A model file that does not fit its architecture fails to load with one line naming the key or
// tensor and the values, never a crash.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <map>

#include "core/error.h"
#include "gguf/writer.h"
#include "model/model.h"

namespace sobre {
namespace {

// A 1-layer llama of zeros; `tweak` edits the keys and tensor shapes/types before writing.
struct TinySpec {
    std::map<std::string, uint32_t> keys = {{"llama.context_length", 64}, {"llama.embedding_length", 32},
                                            {"llama.block_count", 1},     {"llama.feed_forward_length", 64},
                                            {"llama.attention.head_count", 4},
                                            {"llama.attention.head_count_kv", 2}};
    std::map<std::string, std::pair<DType, std::vector<int64_t>>> tensors = {
        {"token_embd.weight", {DType::kF32, {32, 16}}},   {"output_norm.weight", {DType::kF32, {32}}},
        {"blk.0.attn_norm.weight", {DType::kF32, {32}}},  {"blk.0.attn_q.weight", {DType::kF32, {32, 32}}},
        {"blk.0.attn_k.weight", {DType::kF32, {32, 16}}}, {"blk.0.attn_v.weight", {DType::kF32, {32, 16}}},
        {"blk.0.attn_output.weight", {DType::kF32, {32, 32}}}, {"blk.0.ffn_norm.weight", {DType::kF32, {32}}},
        {"blk.0.ffn_gate.weight", {DType::kF32, {32, 64}}}, {"blk.0.ffn_up.weight", {DType::kF32, {32, 64}}},
        {"blk.0.ffn_down.weight", {DType::kF32, {64, 32}}}};
};

class LoadErrors : public ::testing::Test {
   protected:
    void TearDown() override { std::filesystem::remove(path_); }

    // Writes the spec and returns the load error (or "" if it loaded).
    std::string load_error(const TinySpec& spec, ErrorKind* kind = nullptr) {
        gguf::Writer w;
        w.set("general.architecture", gguf::Value::of_string("llama"));
        w.set("llama.attention.layer_norm_rms_epsilon", gguf::Value::of_f32(1e-5f));
        for (const auto& [k, v] : spec.keys) w.set(k, gguf::Value::of_u32(v));
        for (const auto& [name, tensor] : spec.tensors) {
            const auto& [type, shape] = tensor;
            int64_t rows = 1;
            for (size_t d = 1; d < shape.size(); ++d) rows *= shape[d];
            const size_t bytes = static_cast<size_t>(row_bytes(type, shape[0]) * rows);
            w.add_tensor(name, type, shape, [bytes](gguf::ByteSink& s) { s.write(std::vector<uint8_t>(bytes).data(), bytes); });
        }
        w.write(path_);
        try {
            model::load_model(path_);
        } catch (const Error& e) {
            if (kind) *kind = e.kind();
            return e.what();
        }
        return "";
    }

    std::string path_ = (std::filesystem::temp_directory_path() / ("sobre_load_" + std::to_string(getpid()) + ".gguf")).string();
};

TEST_F(LoadErrors, TheUntouchedSpecLoads) { EXPECT_EQ(load_error(TinySpec{}), ""); }

TEST_F(LoadErrors, WrongShapeNamesTensorAndShapes) {
    TinySpec s;
    s.tensors["blk.0.attn_k.weight"].second = {32, 24};
    EXPECT_EQ(load_error(s),
              path_ + ": tensor 'blk.0.attn_k.weight' has shape {32, 24}, but llama expects {32, 16}");
}

TEST_F(LoadErrors, MissingTensorIsNamed) {
    TinySpec s;
    s.tensors.erase("blk.0.ffn_up.weight");
    EXPECT_NE(load_error(s).find("missing tensor 'blk.0.ffn_up.weight'"), std::string::npos);
}

TEST_F(LoadErrors, UncomputableTypeIsNamed) {
    TinySpec s;
    s.keys["llama.embedding_length"] = 256;
    for (auto& [name, t] : s.tensors) {
        for (int64_t& d : t.second) d = d == 32 ? 256 : d;
    }
    s.keys["llama.feed_forward_length"] = 64;
    s.tensors["blk.0.attn_q.weight"] = {DType::kIQ2_XXS, {256, 256}};
    ErrorKind kind{};
    const std::string err = load_error(s, &kind);
    EXPECT_EQ(kind, ErrorKind::kUnsupported) << err;
    EXPECT_NE(err.find("'blk.0.attn_q.weight' has type iq2_xxs"), std::string::npos) << err;
}

TEST_F(LoadErrors, HeadCountsMustDivide) {
    TinySpec s;
    s.keys["llama.attention.head_count_kv"] = 3;
    EXPECT_NE(load_error(s).find("llama.attention.head_count = 4 is not a multiple of llama.attention.head_count_kv = 3"),
              std::string::npos);
}

TEST_F(LoadErrors, MissingKeyIsNamed) {
    TinySpec s;
    s.keys.erase("llama.block_count");
    EXPECT_EQ(load_error(s), path_ + ": missing key llama.block_count");
}

TEST_F(LoadErrors, HostileHyperparametersAreRejectedBeforeAllocating) {
    TinySpec s;
    s.keys["llama.block_count"] = 0xffffffffu;
    EXPECT_NE(load_error(s).find("llama.block_count = 4294967295 is out of range"), std::string::npos);
}

}  // namespace
}  // namespace sobre

namespace sobre {
namespace {

// Copies a fixture model with some metadata keys replaced, so one key can disagree with the
// tensors that follow from it.
class RewrittenFixture : public ::testing::Test {
   protected:
    void TearDown() override { std::filesystem::remove(path_); }

    std::string load_error(const std::string& fixture, const std::map<std::string, gguf::Value>& overrides) {
        const gguf::File src = gguf::File::open(std::string(SOBRE_FIXTURES_DIR) + "/models/" + fixture + ".gguf");
        gguf::Writer w;
        for (const auto& [k, v] : src.metadata()) w.set(k, overrides.count(k) ? overrides.at(k) : v);
        for (const auto& [k, v] : overrides) w.set(k, v);
        for (const gguf::TensorInfo& t : src.tensors()) {
            std::vector<int64_t> shape(t.ne, t.ne + t.n_dims);
            w.add_tensor(t.name, t.type, shape, [&t](gguf::ByteSink& s) { s.write(t.data, t.n_bytes); });
        }
        w.write(path_);
        try {
            model::load_model(path_);
        } catch (const Error& e) {
            return e.what();
        }
        return "";
    }

    std::string path_ =
        (std::filesystem::temp_directory_path() / ("sobre_rewrite_" + std::to_string(getpid()) + ".gguf")).string();
};

using gguf::Value;

TEST_F(RewrittenFixture, UnchangedCopiesLoad) {
    EXPECT_EQ(load_error("qwen3moe-F32", {}), "");
    EXPECT_EQ(load_error("deepseek2-v3-Q4_K_M", {}), "");
}

TEST_F(RewrittenFixture, ExpertTensorsMustMatchExpertCount) {
    const std::string err = load_error("qwen3moe-F32", {{"qwen3moe.expert_count", Value::of_u32(16)}});
    EXPECT_NE(err.find("tensor 'blk.0.ffn_gate_inp.weight' has shape {256, 8}, but qwen3moe expects {256, 16} "
                       "from expert_count = 16"),
              std::string::npos)
        << err;
}

TEST_F(RewrittenFixture, ExpertUsedCountMustBeInRange) {
    for (uint32_t used : {0u, 9u}) {
        const std::string err = load_error("qwen3moe-F32", {{"qwen3moe.expert_used_count", Value::of_u32(used)}});
        EXPECT_NE(err.find(fmt::format("qwen3moe.expert_used_count = {} is out of range [1, 8]", used)),
                  std::string::npos)
            << err;
    }
}

TEST_F(RewrittenFixture, GroupCountMustDivideExpertCount) {
    const std::string err = load_error("deepseek2-v3-F32", {{"deepseek2.expert_group_count", Value::of_u32(3)},
                                                            {"deepseek2.expert_group_used_count", Value::of_u32(2)}});
    EXPECT_NE(err.find("deepseek2.expert_group_count = 3 does not divide deepseek2.expert_count = 8"),
              std::string::npos)
        << err;
}

TEST_F(RewrittenFixture, MlaRanksMustMatchTensorShapes) {
    // Consistent keys for a latent of 64, but the file's tensors were made for 128.
    const std::string err = load_error("deepseek2-v3-F32", {{"deepseek2.attention.kv_lora_rank", Value::of_u32(64)},
                                                            {"deepseek2.attention.key_length", Value::of_u32(96)},
                                                            {"deepseek2.attention.value_length", Value::of_u32(64)}});
    EXPECT_NE(err.find("'blk.0.attn_kv_a_mqa.weight' has shape {256, 160}, but deepseek2 expects {256, 96} "
                       "from kv_lora_rank = 64"),
              std::string::npos)
        << err;
}

TEST_F(RewrittenFixture, MlaKeysMustAgree) {
    const std::string err = load_error("deepseek2-v2lite-F32", {{"deepseek2.attention.key_length", Value::of_u32(100)}});
    EXPECT_NE(err.find("MLA keys disagree: deepseek2.attention.head_count_kv = 1, deepseek2.attention.key_length = 100"),
              std::string::npos)
        << err;
}

}  // namespace
}  // namespace sobre
