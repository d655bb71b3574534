#include "eval/chunks.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "runtime/kv_cache.h"

namespace sobre::eval {
namespace {

constexpr int64_t kMinCtx = 4;  // keeps at least one scored token per chunk

// Sequences evaluated side by side.
int64_t sequences_per_call(const ChunkOptions& o) { return o.n_batch >= o.n_ctx ? o.n_batch / o.n_ctx : 1; }

runtime::KvCache make_cache(const model::Model& m, const ChunkOptions& o, int64_t n_seq) {
    constexpr int64_t kBlock = 16;
    const int64_t blocks_per_seq = (o.n_ctx + kBlock - 1) / kBlock;
    return runtime::KvCache(m.info().kv, runtime::KvCacheOptions{n_seq * blocks_per_seq, kBlock, static_cast<int>(n_seq)});
}

}  // namespace

std::string read_eval_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(errno == ENOENT ? ErrorKind::kNotFound : ErrorKind::kIo, "{}: cannot open: {}", path, std::strerror(errno));
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) fail(ErrorKind::kIo, "{}: read failed", path);
    std::string text = ss.str();
    if (!text.empty() && text.back() == '\n') text.pop_back();
    return text;
}

std::vector<int32_t> tokenize_eval_text(const tokenizer::Tokenizer& tok, std::string_view text) {
    if (tok.add_eos()) {
        fail(ErrorKind::kUnsupported, "the model's tokenizer appends EOS (add_eos_token), which chunked evaluation "
             "does not support");
    }
    return tok.encode(text, /*add_special=*/true, /*parse_special=*/false);
}

void check_chunk_options(const ChunkOptions& o) {
    if (o.n_ctx < kMinCtx) fail(ErrorKind::kInvalidArgument, "-c {}: the context must be at least {} tokens", o.n_ctx, kMinCtx);
    if (o.n_batch < 1) fail(ErrorKind::kInvalidArgument, "-b {}: the batch must be at least 1 token", o.n_batch);
    if (o.n_batch >= o.n_ctx && o.n_batch % o.n_ctx != 0) {
        fail(ErrorKind::kInvalidArgument, "-b {}: the batch must be below the context ({}) or a multiple of it",
             o.n_batch, o.n_ctx);
    }
    SOBRE_CHECK(o.first_output >= 0 && o.first_output < o.n_ctx);
}

int64_t count_chunks(int64_t n_tokens, int64_t n_ctx, int64_t limit, std::string_view path) {
    if (n_tokens < 2 * n_ctx) {
        fail(ErrorKind::kInvalidArgument,
             "{}: the text is {} tokens; a context of {} needs at least {} (two chunks): give a longer text or a "
             "smaller -c",
             path, n_tokens, n_ctx, 2 * n_ctx);
    }
    const int64_t n = n_tokens / n_ctx;
    return limit > 0 ? std::min(n, limit) : n;
}

void for_each_chunk(model::Model& m, ThreadPool& pool, const ChunkOptions& o, std::span<const int32_t> tokens,
                    int64_t n_chunks, const ChunkFn& on_chunk) {
    SOBRE_CHECK(static_cast<int64_t>(tokens.size()) >= n_chunks * o.n_ctx);
    const int64_t n_seq = std::min(sequences_per_call(o), std::max<int64_t>(n_chunks, 1));
    const int64_t step = std::min(o.n_batch, o.n_ctx);  // positions of a sequence per call
    const int64_t n_vocab = m.info().n_vocab;
    const int64_t per_chunk = (o.n_ctx - o.first_output) * n_vocab;
    runtime::KvCache kv = make_cache(m, o, n_seq);
    std::vector<float> logits;
    model::Batch batch;
    for (int64_t c0 = 0; c0 < n_chunks; c0 += n_seq) {
        const int64_t ns = std::min(n_seq, n_chunks - c0);
        for (int s = 0; s < ns; ++s) {
            kv.release(s);  // a fresh cache (and recurrent state) per chunk
            SOBRE_CHECK(kv.reserve(s, o.n_ctx));
        }
        logits.resize(static_cast<size_t>(ns * per_chunk));
        float* out = logits.data();
        for (int64_t p0 = 0; p0 < o.n_ctx; p0 += step) {
            batch.clear();
            for (int s = 0; s < ns; ++s) {
                const int32_t* chunk = tokens.data() + (c0 + s) * o.n_ctx;
                for (int64_t p = p0; p < std::min(p0 + step, o.n_ctx); ++p) {
                    const int32_t id = p == 0 && o.bos >= 0 ? o.bos : chunk[p];
                    batch.add(id, static_cast<int32_t>(p), s, p >= o.first_output);
                }
            }
            // Outputs come in batch order: sequence by sequence, so each chunk's rows stay together.
            m.forward(batch, kv, pool, out);
            out += batch.n_outputs() * n_vocab;
        }
        for (int64_t s = 0; s < ns; ++s) on_chunk(c0 + s, logits.data() + s * per_chunk);
    }
}

}  // namespace sobre::eval
