// Our logits against llama.cpp's for every fixture model of a supported architecture, in one
// batch and one token at a time, with the tolerance bands of ../shared/fixtures/models/README.md.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "model/fixtures.h"
#include "model/model.h"
#include "runtime/kv_cache.h"
#include "runtime/sampler.h"

namespace sobre {
namespace {

using testing::models_dir;

// README "Suggested acceptance thresholds". F32 and F16 weights get the strict band (the README
// measured F16 inside it); every other type the quantized band, except the newer architectures,
// whose quantized files get the README's measured per-family bands ("Newer architectures").
struct Band {
    bool strict;
    double max_all;          // per-position max |diff| allowed everywhere
    double pos_bound;        // per-position max |diff| that `pos_share` of positions must meet
    double pos_share;
    double mean_max;         // mean |diff| over the file
    double argmax_gap;       // strict: argmax must match where the reference top-1 gap exceeds this
    double argmax_share;     // quantized: share of positions whose argmax must match
};

Band band_for(const std::string& name) {
    const bool strict = name.ends_with("-F32") || name.ends_with("-F16");
    if (strict) return {true, 0.002, 0.002, 1.0, 0.0003, 0.004, 0.0};
    // MLA + lightning-indexer sparse attention: a flipped top-k decision moves a row by up to ~0.5.
    if (name.starts_with("deepseek32-") || name.starts_with("glm-dsa-")) {
        return {false, 0.8, 0.3, 0.75, 0.06, 0.0, 0.65};
    }
    if (name.starts_with("deepseek4-")) return {false, 0.3, 0.05, 0.85, 0.02, 0.0, 0.85};
    // Gated-DeltaNet hybrids: the per-head gated RMSNorm amplifies activation rounding.
    if (name.starts_with("qwen35") || name.starts_with("qwen3next-")) return {false, 0.3, 0.1, 0.8, 0.03, 0.0, 0.8};
    return {false, 0.5, 0.03, 0.97, 0.02, 0.0, 0.85};  // 34 of 40
}

struct RowStats {
    double max_diff = 0, sum_diff = 0;
    int ref_top = 0, our_top = 0;
    double ref_gap = 0;  // reference top-1 minus top-2
};

RowStats compare_row(const float* ref, const float* ours, int64_t n) {
    RowStats s;
    for (int64_t i = 0; i < n; ++i) {
        const double d = std::fabs(static_cast<double>(ref[i]) - ours[i]);
        s.max_diff = std::max(s.max_diff, d);
        s.sum_diff += d;
    }
    s.ref_top = runtime::argmax(ref, n);
    s.our_top = runtime::argmax(ours, n);
    double second = -INFINITY;
    for (int64_t i = 0; i < n; ++i) {
        if (i != s.ref_top) second = std::max(second, static_cast<double>(ref[i]));
    }
    s.ref_gap = ref[s.ref_top] - second;
    return s;
}

void expect_within_band(const std::string& what, const Band& band, const std::vector<float>& ref,
                        const std::vector<float>& ours, int64_t n_vocab) {
    ASSERT_EQ(ref.size(), ours.size()) << what;
    const int64_t n_rows = static_cast<int64_t>(ref.size()) / n_vocab;
    int within = 0, kept = 0;
    double sum = 0;
    for (int64_t r = 0; r < n_rows; ++r) {
        const RowStats s = compare_row(&ref[r * n_vocab], &ours[r * n_vocab], n_vocab);
        sum += s.sum_diff;
        within += s.max_diff <= band.pos_bound;
        kept += s.ref_top == s.our_top;
        EXPECT_LE(s.max_diff, band.max_all) << what << " position " << r;
        const double gap_needed = band.strict ? band.argmax_gap : 2 * s.max_diff;
        if (s.ref_gap > gap_needed) {
            EXPECT_EQ(s.our_top, s.ref_top) << what << " argmax at position " << r << " (reference gap " << s.ref_gap
                                            << ", max |diff| " << s.max_diff << ")";
        }
    }
    EXPECT_GE(within, static_cast<int>(std::ceil(band.pos_share * static_cast<double>(n_rows))))
        << what << ": positions within " << band.pos_bound;
    EXPECT_LE(sum / static_cast<double>(ref.size()), band.mean_max) << what << ": mean |diff|";
    EXPECT_GE(kept, static_cast<int>(std::ceil(band.argmax_share * static_cast<double>(n_rows))))
        << what << ": positions with the reference argmax";
}

class GoldenLogits : public ::testing::TestWithParam<std::string> {
   protected:
    void SetUp() override {
        const std::string base = models_dir() + "/" + GetParam();
        model_ = model::load_model(base + ".gguf");
        prompt_ = testing::read_ids(base + ".tokens");
        ref_ = testing::read_f32(base + ".logits.f32");
        greedy_ = testing::read_ids(base + ".greedy");
        ASSERT_FALSE(prompt_.empty());
    }

    std::vector<float> run(bool one_by_one) {
        const int64_t n = static_cast<int64_t>(prompt_.size()), n_vocab = model_->info().n_vocab;
        runtime::KvCache kv(model_->info().kv, n);
        std::vector<float> out(static_cast<size_t>(n * n_vocab));
        model::Batch b;
        for (int64_t t = 0; t < n; ++t) {
            if (one_by_one) b.clear();
            b.add(prompt_[t], static_cast<int32_t>(t), 0, true);
            if (one_by_one) model_->forward(b, kv, pool_, &out[t * n_vocab]);
        }
        if (!one_by_one) model_->forward(b, kv, pool_, out.data());
        return out;
    }

    std::unique_ptr<model::Model> model_;
    std::vector<int32_t> prompt_, greedy_;
    std::vector<float> ref_;
    ThreadPool pool_{2};
};

TEST_P(GoldenLogits, OneBatchMatchesReference) {
    expect_within_band(GetParam() + " batch", band_for(GetParam()), ref_, run(false), model_->info().n_vocab);
}

TEST_P(GoldenLogits, OneByOneMatchesReference) {
    expect_within_band(GetParam() + " one-by-one", band_for(GetParam()), ref_, run(true), model_->info().n_vocab);
}

// The README: greedy ids must be identical for F32 files; quantized runs part ways after the
// first near-tie (or MoE routing flip), so there the first id (the argmax of the last prompt
// row) is required only where that row's reference top-1 gap exceeds twice our max |diff| there.
TEST_P(GoldenLogits, GreedyContinuation) {
    const int64_t n_vocab = model_->info().n_vocab;
    const int64_t n_prompt = static_cast<int64_t>(prompt_.size());
    runtime::KvCache kv(model_->info().kv, n_prompt + static_cast<int64_t>(greedy_.size()));
    std::vector<float> logits(static_cast<size_t>(n_vocab));
    model::Batch b;
    for (int64_t t = 0; t < n_prompt; ++t) b.add(prompt_[t], static_cast<int32_t>(t), 0, t + 1 == n_prompt);
    std::vector<int32_t> ours;
    for (size_t i = 0; i < greedy_.size(); ++i) {
        model_->forward(b, kv, pool_, logits.data());
        ours.push_back(runtime::argmax(logits.data(), n_vocab));
        b.clear();
        b.add(ours.back(), static_cast<int32_t>(n_prompt + static_cast<int64_t>(i)), 0, true);
    }
    if (GetParam().ends_with("-F32")) {
        EXPECT_EQ(ours, greedy_);
        return;
    }
    const std::vector<float> batch = run(false);
    const int64_t last = (n_prompt - 1) * n_vocab;
    const RowStats s = compare_row(&ref_[last], &batch[last], n_vocab);
    if (s.ref_gap > 2 * s.max_diff) {
        EXPECT_EQ(ours.front(), greedy_.front());
    }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GoldenLogits, ::testing::ValuesIn(testing::supported_fixture_models()),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                             std::string n = p.param;
                             std::replace(n.begin(), n.end(), '-', '_');
                             std::replace(n.begin(), n.end(), '.', '_');
                             return n;
                         });

}  // namespace
}  // namespace sobre
