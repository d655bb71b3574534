// The parts of eval/ that need no model: the scores and their printing, the log-probability
// compression and file, the chunking rules. (Run under ASan with the other unit tests.)
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "core/error.h"
#include "eval/chunks.h"
#include "eval/kld.h"
#include "eval/perplexity.h"
#include "eval_test_util.h"

namespace sobre::eval {
namespace {

using namespace testing;
namespace fs = std::filesystem;

template <class Fn>
std::string error_of(ErrorKind kind, Fn fn) {
    try {
        fn();
    } catch (const Error& e) {
        EXPECT_EQ(static_cast<int>(e.kind()), static_cast<int>(kind)) << e.what();
        return e.what();
    }
    ADD_FAILURE() << "no error";
    return {};
}

std::vector<float> random_logits(int64_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, 3.0f);
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = dist(rng);
    return v;
}

TEST(TokenNll, IsMinusLogSoftmax) {
    const float logits[3] = {0.0f, std::log(3.0f), 0.0f};
    EXPECT_NEAR(token_nll(logits, 3, 1), -std::log(0.6), 1e-7);
    EXPECT_NEAR(token_nll(logits, 3, 0), -std::log(0.2), 1e-7);
    // Shifting every logit changes nothing (the maximum is subtracted first).
    const float shifted[3] = {1000.0f, 1000.0f + std::log(3.0f), 1000.0f};
    EXPECT_NEAR(token_nll(shifted, 3, 1), -std::log(0.6), 1e-4);
}

TEST(PplFormat, IsLlamaPerplexitys) {
    NllStats s;
    s.add(1.0);
    EXPECT_EQ(format_chunk_ppl(0, s), "[1]2.7183,");
    s.add(3.0);
    EXPECT_EQ(format_chunk_ppl(1, s), "[2]7.3891,");
    // mean 2, variance 1: the error is sqrt(1 / (2 - 1)) * e^2.
    EXPECT_EQ(format_final_ppl(s), "Final estimate: PPL = 7.3891 +/- 7.38906");
    NllStats flat;
    flat.add(2.0);
    flat.add(2.0);
    EXPECT_EQ(format_final_ppl(flat), "Unexpected negative standard deviation of log(prob)");
}

TEST(EvalText, DropsOneTrailingNewline) {
    const std::string path = scratch_file("text.txt");
    std::ofstream(path) << "two lines\n\n";
    EXPECT_EQ(read_eval_text(path), "two lines\n");
    std::filesystem::remove(path);
    const std::string msg = error_of(ErrorKind::kNotFound, [&] { read_eval_text(path); });
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
}

TEST(Chunks, NeedsTwoContextsOfText) {
    EXPECT_EQ(count_chunks(1000, 128, -1, "t.txt"), 7);
    EXPECT_EQ(count_chunks(1000, 128, 3, "t.txt"), 3);
    EXPECT_EQ(count_chunks(256, 128, -1, "t.txt"), 2);
    const std::string msg = error_of(ErrorKind::kInvalidArgument, [] { count_chunks(255, 128, -1, "t.txt"); });
    EXPECT_NE(msg.find("t.txt: the text is 255 tokens; a context of 128 needs at least 256"), std::string::npos) << msg;
}

TEST(Chunks, OptionsAreChecked) {
    check_chunk_options({128, 64, 64, 1});
    check_chunk_options({128, 512, 64, 1});
    EXPECT_NE(error_of(ErrorKind::kInvalidArgument, [] { check_chunk_options({128, 200, 64, 1}); }).find("multiple"),
              std::string::npos);
    EXPECT_NE(error_of(ErrorKind::kInvalidArgument, [] { check_chunk_options({3, 8, 1, 1}); }).find("-c 3"),
              std::string::npos);
}

TEST(LogProbs, CompressionKeepsTheTopSixteenNats) {
    const int64_t n = 1001;  // odd: the row is padded
    const std::vector<float> logits = random_logits(n, 1);
    std::vector<uint16_t> row(static_cast<size_t>(log_prob_row_u16s(n)), 0xffff);
    const double nll = compress_log_probs(logits.data(), n, 7, row.data());
    EXPECT_NEAR(nll, token_nll(logits.data(), n, 7), 1e-4);
    EXPECT_EQ(row.back(), 0);  // the padding
    const float max = *std::max_element(logits.begin(), logits.end());
    double sum = 0;
    for (float x : logits) sum += std::exp(x - max);
    const float scale = row_scale(row.data());
    EXPECT_NEAR(scale, 16.0f / 65535.0f, 1e-9);
    for (int64_t i = 0; i < n; ++i) {
        const double exact = logits[i] - max - std::log(sum);
        const double stored = row_min(row.data()) + scale * row[4 + i];
        if (logits[i] > max - 16) {
            EXPECT_NEAR(stored, exact, scale) << i;
        } else {
            EXPECT_EQ(row[4 + i], 0) << i;
        }
    }
}

TEST(KldStats, IdenticalDistributionsDoNotDiverge) {
    const int64_t n = 512;
    KldStats s;
    std::vector<uint16_t> row(static_cast<size_t>(log_prob_row_u16s(n)));
    for (uint32_t t = 0; t < 120; ++t) {
        const std::vector<float> logits = random_logits(n, t);
        compress_log_probs(logits.data(), n, static_cast<int32_t>(t), row.data());
        s.add(logits.data(), row.data(), n, static_cast<int32_t>(t));
    }
    EXPECT_EQ(s.count, 120);
    EXPECT_EQ(s.n_same_top, 120);
    // What is left is the rounding of the stored log-probs (steps of 16 / 65535 nats).
    EXPECT_LT(std::fabs(s.sum_kld / 120), 1e-5);
    EXPECT_LT(s.max_p_diff, 1e-4);
    const std::string report = format_kld_report(s);
    EXPECT_NE(report.find("Same top p: 100.000 ± 0.000 %"), std::string::npos) << report;
    KldStats few;
    few.add(random_logits(n, 1).data(), row.data(), n, 0);
    EXPECT_EQ(format_kld_report(few), "");  // below 100 tokens, as the reference
}

TEST(LogProbFile, RoundTripsAndRefusesBadFiles) {
    const std::string path = scratch_file("base.kld");
    const LogProbHeader h{8, 5, 2, std::vector<int32_t>(16, 3)};
    const int64_t rows_per_chunk = 8 - 1 - 4;
    std::vector<uint16_t> rows(static_cast<size_t>(rows_per_chunk * log_prob_row_u16s(5)));
    for (size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<uint16_t>(i);
    {
        LogProbWriter w(path, h);
        w.write_rows(rows.data(), rows_per_chunk);
        EXPECT_FALSE(fs::exists(path));  // not before commit
    }
    EXPECT_FALSE(fs::exists(path));
    EXPECT_FALSE(fs::exists(path + ".tmp"));
    {
        LogProbWriter w(path, h);
        w.write_rows(rows.data(), rows_per_chunk);
        w.write_rows(rows.data(), rows_per_chunk);
        w.commit();
    }
    LogProbReader r(path);
    EXPECT_EQ(r.header().n_ctx, 8);
    EXPECT_EQ(r.header().n_vocab, 5);
    EXPECT_EQ(r.header().n_chunk, 2);
    EXPECT_EQ(r.header().tokens, h.tokens);
    std::vector<uint16_t> got;
    r.read_chunk(got);
    EXPECT_EQ(got, rows);
    // Truncated: the size no longer matches the header.
    fs::resize_file(path, fs::file_size(path) - 2);
    try {
        LogProbReader bad(path);
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::kCorrupt);
        EXPECT_NE(std::string(e.what()).find("needs"), std::string::npos) << e.what();
    }
    std::ofstream(path) << "not a log-prob file at all";
    try {
        LogProbReader bad(path);
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
        EXPECT_NE(std::string(e.what()).find("not a log-probability file"), std::string::npos) << e.what();
    }
    fs::remove(path);
}

}  // namespace
}  // namespace sobre::eval
