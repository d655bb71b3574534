// KL divergence of a model against a base model's token distributions, as llama-perplexity's
// --kl-divergence-base / --kl-divergence compute them, and the file that carries the base
// distributions between the two runs (the same format, so files interchange with llama.cpp).
// ref: llama.cpp tools/perplexity/perplexity.cpp (log_softmax with log_prob, kl_divergence).
//
// File layout (little-endian): "_logits_", n_ctx (i32), n_vocab (i32), n_chunk (i32), the
// evaluated tokens (n_chunk * n_ctx i32, as in the text: before BOS replacement), then for each
// chunk the n_ctx - 1 - n_ctx/2 scored positions, one row each of log_prob_row_u16s(n_vocab)
// uint16: scale (f32), min (f32), then a code per token, log p ~= min + scale * code (codes of
// tokens more than 16 below the best logit are 0; an odd vocabulary is padded with one 0).
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/thread_pool.h"
#include "model/model.h"

namespace sobre::eval {

inline int64_t log_prob_row_u16s(int64_t n_vocab) { return 2 * ((n_vocab + 1) / 2) + 4; }

// Fills one row with the compressed log-probabilities of `logits` and returns -log p(token) as
// the reference computes it alongside (in float).
double compress_log_probs(const float* logits, int64_t n_vocab, int32_t token, uint16_t* row);

struct LogProbHeader {
    int32_t n_ctx = 0;
    int32_t n_vocab = 0;
    int32_t n_chunk = 0;
    std::vector<int32_t> tokens;  // n_chunk * n_ctx
};

// Writes a log-prob file through PATH.tmp, renamed into place by commit(); destroyed without
// commit() it removes the temporary file. Throws Error(kIo) naming the file.
class LogProbWriter {
   public:
    LogProbWriter(std::string path, const LogProbHeader& h);
    ~LogProbWriter();
    LogProbWriter(const LogProbWriter&) = delete;
    LogProbWriter& operator=(const LogProbWriter&) = delete;

    void write_rows(const uint16_t* rows, int64_t n_rows);
    void commit();

   private:
    void write(const void* data, size_t n);
    std::string path_;
    std::string tmp_;
    std::FILE* f_ = nullptr;
    int64_t row_u16s_ = 0;
};

// Reads a log-prob file: the header at construction (checked against the file size), then the
// rows of one chunk at a time. Throws Error naming the file and what is wrong.
class LogProbReader {
   public:
    explicit LogProbReader(std::string path);
    ~LogProbReader();
    LogProbReader(const LogProbReader&) = delete;
    LogProbReader& operator=(const LogProbReader&) = delete;

    const LogProbHeader& header() const { return h_; }
    // The next chunk's rows: [n_ctx - 1 - n_ctx/2][log_prob_row_u16s(n_vocab)].
    void read_chunk(std::vector<uint16_t>& rows);

   private:
    std::string path_;
    std::FILE* f_ = nullptr;
    LogProbHeader h_;
    int64_t chunks_read_ = 0;
};

// The statistics llama-perplexity --kl-divergence reports, accumulated token by token.
struct KldStats {
    double sum_nll = 0, sum_nll2 = 0;
    double sum_nll_base = 0, sum_nll_base2 = 0, sum_nll_nll_base = 0;
    double sum_kld = 0, sum_kld2 = 0;
    double sum_p_diff = 0, sum_p_diff2 = 0, sum_p_diff4 = 0;
    float max_p_diff = 0;
    int64_t n_same_top = 0;
    int64_t count = 0;
    std::vector<float> kld_values;     // per token
    std::vector<float> p_diff_values;  // per token: p(token) - p_base(token)

    // Adds one scored position: the model's logits against the base row, for the true token.
    void add(const float* logits, const uint16_t* base_row, int64_t n_vocab, int32_t token);
};

// Called after each chunk (0-based) with the running statistics.
using KldProgress = std::function<void(int64_t chunk, const KldStats& running)>;

// The KL divergence of `m` from the base distributions in `base`, over the base file's chunks
// and tokens (its n_ctx is the chunk size). n_batch and bos as in ChunkOptions; a batch of
// n_ctx or more is rounded down to whole chunks. Throws Error(kInvalidArgument) when the base
// covers another vocabulary size than the model's.
KldStats measure_kld(model::Model& m, ThreadPool& pool, LogProbReader& base, int64_t n_batch, int32_t bos,
                     const KldProgress& progress = {});

// The column titles printed before the first chunk line.
std::string kld_table_header();
// One line per chunk (1-based number): PPL, ln(PPL(Q)/PPL(base)), KLD, RMS dp, same top p.
std::string format_kld_chunk(int64_t chunk, const KldStats& s);
// The closing statistics (perplexity, KL divergence percentiles, token probability
// differences); empty below 100 tokens, where the reference prints none.
std::string format_kld_report(const KldStats& s);

}  // namespace sobre::eval
