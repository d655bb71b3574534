// MLA keeps the compressed latent in the cache: per token and layer kv_lora_rank + rope values.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "gguf/writer.h"
#include "model/fixtures.h"
#include "model/mla.h"
#include "model/model.h"

namespace sobre::model {
namespace {

TEST(Mla, FixtureCacheHoldsOnlyTheLatent) {
    const auto m = load_model(testing::models_dir() + "/deepseek2-v3-Q8_0.gguf");
    // kv_lora_rank 128 + qk_rope 32; no V rows (V is read from the latent).
    EXPECT_EQ(m->info().kv.k_width, 160);
    EXPECT_EQ(m->info().kv.v_width, 0);
    // 4 heads x (qk_nope 32 + qk_rope 32 + v_head_dim 32) for an uncompressed cache.
    EXPECT_EQ(m->info().kv_mha_values_per_token, 4 * 96);
}

// DeepSeek-V3's published shape (config.json): 128 heads, q_lora 1536, kv_lora 512,
// qk_nope 128, qk_rope 64, v_head_dim 128, YaRN factor 40, mscale_all_dim 1.
TEST(Mla, DeepSeekV3LatentIsUnderOneFifteenthOfFullKv) {
    const std::string path = (std::filesystem::temp_directory_path() / ("sobre_dsv3_" + std::to_string(getpid()))).string();
    gguf::Writer w;
    auto u32 = [&](const char* k, uint32_t v) { w.set(std::string("deepseek2.") + k, gguf::Value::of_u32(v)); };
    u32("context_length", 163840);
    u32("embedding_length", 7168);
    u32("block_count", 61);
    u32("feed_forward_length", 18432);
    u32("attention.head_count", 128);
    u32("attention.head_count_kv", 1);
    u32("attention.key_length", 576);
    u32("attention.value_length", 512);
    u32("attention.key_length_mla", 192);
    u32("attention.value_length_mla", 128);
    u32("attention.q_lora_rank", 1536);
    u32("attention.kv_lora_rank", 512);
    u32("rope.dimension_count", 64);
    w.set("deepseek2.attention.layer_norm_rms_epsilon", gguf::Value::of_f32(1e-6f));
    w.set("deepseek2.rope.scaling.type", gguf::Value::of_string("yarn"));
    w.set("deepseek2.rope.scaling.factor", gguf::Value::of_f32(40.0f));
    u32("rope.scaling.original_context_length", 4096);
    w.set("deepseek2.rope.scaling.yarn_log_multiplier", gguf::Value::of_f32(0.1f));
    w.write(path);
    const gguf::File f = gguf::File::open(path);
    std::filesystem::remove(path);
    const KeyReader keys(f, "deepseek2");
    const TransformerHparams hp = read_transformer_hparams(keys, kernels::RopeStyle::kNorm);
    const MlaHparams mp = read_mla_hparams(keys, hp);
    EXPECT_EQ(mp.cache_width(), 576);
    const int64_t full = int64_t{mp.n_head} * (mp.qk_nope + mp.qk_rope + mp.v_head_dim);  // 40960
    EXPECT_LE(mp.cache_width() * 15, full);
    // kq_scale = mscale^2 / sqrt(192) with mscale = 1 + 0.1 * ln 40 (ARCHITECTURES.md §6.3).
    const double mscale = 1 + 0.1 * std::log(40.0);
    EXPECT_NEAR(mp.kq_scale, mscale * mscale / std::sqrt(192.0), 1e-6);
    EXPECT_NEAR(mp.rope.attn_factor * (1 + 0.1 * std::log(40.0)), 1.0, 1e-6);
}

}  // namespace
}  // namespace sobre::model
