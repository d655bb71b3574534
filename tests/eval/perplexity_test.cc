// Perplexity against llama-perplexity's numbers on the fixture models (tests/data/eval/
// perplexity_llama.tsv, which has the commands that made them).
#include "eval/perplexity.h"

#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "eval_test_util.h"

namespace sobre::eval {
namespace {

using namespace testing;

struct PplCase {
    std::string model;
    int64_t ctx, batch, chunks;
    double ppl, ppl_err;
    std::vector<double> chunk_ppl;
};

std::ostream& operator<<(std::ostream& os, const PplCase& c) {
    return os << c.model << " -c " << c.ctx << " -b " << c.batch << " --chunks " << c.chunks;
}

std::vector<PplCase> ppl_cases() {
    std::vector<PplCase> cases;
    for (const auto& r : read_table(kData + "/eval/perplexity_llama.tsv")) {
        PplCase c{r.at(0), std::stoll(r.at(1)), std::stoll(r.at(2)), std::stoll(r.at(3)), std::stod(r.at(4)),
                  std::stod(r.at(5)), {}};
        std::istringstream ss(r.at(6));
        for (std::string v; std::getline(ss, v, ',');) c.chunk_ppl.push_back(std::stod(v));
        cases.push_back(c);
    }
    return cases;
}

class PerplexityGolden : public ::testing::TestWithParam<PplCase> {};

// Within 0.1% of llama-perplexity after every chunk. The engines sum in different orders (and
// llama.cpp repacks some quantized weights), so logits agree to about 1e-5, not bit for bit.
TEST_P(PerplexityGolden, MatchesLlamaPerplexity) {
    const PplCase& c = GetParam();
    const Loaded l = load(c.model);
    const ChunkOptions o{c.ctx, c.batch, first_scored(c.ctx), l.bos()};
    const int64_t n_chunk = count_chunks(static_cast<int64_t>(l.tokens.size()), c.ctx, c.chunks, kText);
    ASSERT_EQ(n_chunk, static_cast<int64_t>(c.chunk_ppl.size()));
    ThreadPool pool(2);
    std::vector<double> ours;
    const NllStats s = measure_perplexity(*l.model, pool, o, l.tokens, n_chunk, nullptr,
                                          [&](int64_t, const NllStats& run) { ours.push_back(run.ppl()); });
    ASSERT_EQ(ours.size(), c.chunk_ppl.size());
    for (size_t i = 0; i < ours.size(); ++i) EXPECT_NEAR(ours[i], c.chunk_ppl[i], 1e-3 * c.chunk_ppl[i]) << "chunk " << i + 1;
    EXPECT_NEAR(s.ppl(), c.ppl, 1e-3 * c.ppl);
    EXPECT_EQ(s.count, n_chunk * (c.ctx - 1 - first_scored(c.ctx)));
    // The printed error, parsed back from our own line.
    const std::string line = format_final_ppl(s);
    const double err = std::stod(line.substr(line.find("+/- ") + 4));
    EXPECT_NEAR(err, c.ppl_err, 1e-2 * c.ppl_err) << line;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, PerplexityGolden, ::testing::ValuesIn(ppl_cases()),
                         [](const ::testing::TestParamInfo<PplCase>& i) {
                             std::string n = i.param.model + "_c" + std::to_string(i.param.ctx) + "_b" +
                                             std::to_string(i.param.batch);
                             for (char& ch : n) ch = std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
                             return n;
                         });

}  // namespace
}  // namespace sobre::eval
