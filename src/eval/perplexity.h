// Perplexity as llama-perplexity computes and prints it: each chunk scores only its second half
// (every token there has at least n_ctx / 2 tokens of context), and the running perplexity is
// printed after each chunk. ref: llama.cpp tools/perplexity/perplexity.cpp (perplexity,
// log_softmax, process_logits).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "core/thread_pool.h"
#include "eval/chunks.h"
#include "model/model.h"

namespace sobre::eval {

class LogProbWriter;

// -log p(token) from a row of logits: float exponentials of (logit - max) summed in double, as
// the reference.
double token_nll(const float* logits, int64_t n_vocab, int32_t token);

// Running sums of the negative log-likelihoods of the scored tokens.
struct NllStats {
    double sum = 0;
    double sum2 = 0;
    int64_t count = 0;

    void add(double nll) {
        sum += nll;
        sum2 += nll * nll;
        ++count;
    }
    double ppl() const;  // exp(mean nll)
};

// The first position a chunk of n_ctx tokens scores: its logits predict the token after it.
inline int64_t first_scored(int64_t n_ctx) { return n_ctx / 2; }

// Scores one chunk: row i of `logits` (position first_scored + i) predicts chunk[first_scored +
// i + 1], for the n_ctx - 1 - first_scored positions that have a next token in the chunk.
// `logits` starts at position first_scored. `nll` computes the score of one row.
template <class NllFn>
void score_chunk(const float* logits, const int32_t* chunk, int64_t n_ctx, int64_t n_vocab, NllFn nll) {
    const int64_t first = first_scored(n_ctx);
    for (int64_t i = 0; i < n_ctx - 1 - first; ++i) nll(i, logits + i * n_vocab, chunk[first + i + 1]);
}

// Called after each chunk (0-based) with the running statistics.
using PplProgress = std::function<void(int64_t chunk, const NllStats& running)>;

// The perplexity of chunks [0, n_chunks) of `tokens`, each scoring positions from
// first_scored(o.n_ctx) (o.first_output must be that position). With `save`, the scored
// positions' compressed log-probabilities are written to it, and each score is computed as
// the reference computes it in that mode (float log-sum-exp).
NllStats measure_perplexity(model::Model& m, ThreadPool& pool, const ChunkOptions& o, std::span<const int32_t> tokens,
                            int64_t n_chunks, LogProbWriter* save = nullptr, const PplProgress& progress = {});

// "[3]12.3456," after chunk `chunk` (0-based) with the running perplexity.
std::string format_chunk_ppl(int64_t chunk, const NllStats& s);
// "Final estimate: PPL = 12.3456 +/- 0.12345" (the error is the standard error of the mean
// nll, carried through exp), or the reference's line for a non-positive variance.
std::string format_final_ppl(const NllStats& s);

}  // namespace sobre::eval
