#include "eval/perplexity.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <fmt/format.h>

#include "core/error.h"
#include "eval/kld.h"

namespace sobre::eval {

double token_nll(const float* logits, int64_t n_vocab, int32_t token) {
    float max_logit = logits[0];
    for (int64_t i = 1; i < n_vocab; ++i) max_logit = std::max(max_logit, logits[i]);
    double sum_exp = 0.0;
    for (int64_t i = 0; i < n_vocab; ++i) sum_exp += std::exp(logits[i] - max_logit);
    return -(logits[token] - max_logit - std::log(sum_exp));
}

NllStats measure_perplexity(model::Model& m, ThreadPool& pool, const ChunkOptions& o, std::span<const int32_t> tokens,
                            int64_t n_chunks, LogProbWriter* save, const PplProgress& progress) {
    SOBRE_CHECK(o.first_output == first_scored(o.n_ctx));
    const int64_t n_vocab = m.info().n_vocab;
    const int64_t row_u16s = log_prob_row_u16s(n_vocab);
    const int64_t n_scored = o.n_ctx - 1 - first_scored(o.n_ctx);
    std::vector<uint16_t> rows(save != nullptr ? static_cast<size_t>(n_scored * row_u16s) : 0);
    NllStats stats;
    for_each_chunk(m, pool, o, tokens, n_chunks, [&](int64_t c, const float* logits) {
        score_chunk(logits, tokens.data() + c * o.n_ctx, o.n_ctx, n_vocab, [&](int64_t i, const float* row, int32_t next) {
            stats.add(save != nullptr ? compress_log_probs(row, n_vocab, next, &rows[i * row_u16s])
                                      : token_nll(row, n_vocab, next));
        });
        if (save != nullptr) save->write_rows(rows.data(), n_scored);
        if (progress) progress(c, stats);
    });
    return stats;
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
