// Evaluating a text chunk by chunk, as llama-perplexity and llama-imatrix do: the text is
// tokenized once, cut into chunks of n_ctx tokens, and each chunk runs from an empty cache with
// its first token replaced by BOS. ref: llama.cpp tools/perplexity/perplexity.cpp (perplexity)
// and tools/imatrix/imatrix.cpp (compute_imatrix).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/thread_pool.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace sobre::eval {

// The text of an evaluation file as llama.cpp's tools read -f: the whole file less one trailing
// newline. Throws Error(kNotFound / kIo) naming the file.
std::string read_eval_text(const std::string& path);

// The token ids of an evaluation text: BOS as the model's metadata asks, text that spells a
// special token kept as text (llama.cpp's common_tokenize(ctx, text, true)). Throws
// Error(kUnsupported) for a tokenizer that appends EOS, which the chunking cannot handle (the
// reference asserts on it).
std::vector<int32_t> tokenize_eval_text(const tokenizer::Tokenizer& tok, std::string_view text);

struct ChunkOptions {
    int64_t n_ctx = 512;    // tokens per chunk (-c)
    // Tokens per forward call (-b): below n_ctx a chunk runs in several calls through the cache;
    // a multiple of n_ctx runs n_batch / n_ctx chunks side by side as separate sequences.
    int64_t n_batch = 2048;
    int64_t first_output = 0;  // logits are kept for positions [first_output, n_ctx) of a chunk
    int32_t bos = -1;          // replaces each chunk's first token; -1 keeps it
};

// Throws Error(kInvalidArgument) naming the option: n_ctx below 4 (nothing left to score),
// n_batch below 1, or n_batch >= n_ctx and not a multiple of it (the reference asserts).
void check_chunk_options(const ChunkOptions& o);

// The chunks a text of n_tokens gives: n_tokens / n_ctx, at most `limit` when it is > 0.
// Throws Error(kInvalidArgument) when the text has fewer than 2 * n_ctx tokens (the reference's
// rule), naming `path`, the count and what is needed.
int64_t count_chunks(int64_t n_tokens, int64_t n_ctx, int64_t limit, std::string_view path);

// Called for each chunk in order with its logits: [n_ctx - first_output][n_vocab].
using ChunkFn = std::function<void(int64_t chunk, const float* logits)>;

// Runs chunks [0, n_chunks) of `tokens` (chunk c is tokens[c * n_ctx, (c + 1) * n_ctx)).
// REQUIRES: check_chunk_options(o) passed; tokens holds n_chunks * n_ctx ids.
void for_each_chunk(model::Model& m, ThreadPool& pool, const ChunkOptions& o, std::span<const int32_t> tokens,
                    int64_t n_chunks, const ChunkFn& on_chunk);

}  // namespace sobre::eval
