#include "eval/perplexity.h"

#include <cmath>

#include <fmt/format.h>

namespace sobre::eval {

double token_nll(const float* logits, int64_t n_vocab, int32_t token) {
    float max_logit = logits[0];
    for (int64_t i = 1; i < n_vocab; ++i) max_logit = std::max(max_logit, logits[i]);
    double sum_exp = 0.0;
    for (int64_t i = 0; i < n_vocab; ++i) sum_exp += std::exp(logits[i] - max_logit);
    return -(logits[token] - max_logit - std::log(sum_exp));
}

double NllStats::ppl() const { return std::exp(sum / static_cast<double>(count)); }

std::string format_chunk_ppl(int64_t chunk, const NllStats& s) { return fmt::format("[{}]{:.4f},", chunk + 1, s.ppl()); }

std::string format_final_ppl(const NllStats& s) {
    const auto n = static_cast<double>(s.count);
    const double mean = s.sum / n;
    const double var = s.sum2 / n - mean * mean;
    if (!(var > 0)) return "Unexpected negative standard deviation of log(prob)";
    const double ppl = std::exp(mean);
    return fmt::format("Final estimate: PPL = {:.4f} +/- {:.5f}", ppl, std::sqrt(var / (n - 1)) * ppl);
}

}  // namespace sobre::eval
