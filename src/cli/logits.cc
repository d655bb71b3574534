// `sobre logits`: evaluates token ids and writes the logits of every position (float32 LE,
// [n_tokens][n_vocab]); the tool the golden tests and side-by-side checks use.
#include <algorithm>
#include <memory>
#include <vector>

#include "cli/common.h"
#include "core/error.h"
#include "model/model.h"
#include "runtime/kv_cache.h"

namespace sobre::cli {
namespace {

struct LogitsArgs {
    std::string model;
    std::string tokens_file;
    std::string out;
    bool one_by_one = false;
    int threads = default_threads();
    int64_t ctx = 0;
};

void run_logits(const LogitsArgs& a) {
    const std::vector<int32_t> ids = parse_token_ids(read_file(a.tokens_file), a.tokens_file);
    if (ids.empty()) fail(ErrorKind::kInvalidArgument, "{}: no token ids", a.tokens_file);
    const auto model = model::load_model(a.model);
    const model::ModelInfo& info = model->info();
    const int64_t n = static_cast<int64_t>(ids.size());
    const int64_t ctx = a.ctx > 0 ? a.ctx : info.n_ctx_train;
    if (n > ctx) {
        fail(ErrorKind::kResourceExhausted, "{} tokens are longer than the context of {} (use -c to change it)", n,
             ctx);
    }
    runtime::KvCache kv(info.kv, n);
    ThreadPool pool(a.threads);
    std::vector<float> logits(static_cast<size_t>(n * info.n_vocab));
    model::Batch batch;
    if (a.one_by_one) {
        for (int64_t t = 0; t < n; ++t) {
            batch.clear();
            batch.add(ids[t], static_cast<int32_t>(t), 0, true);
            model->forward(batch, kv, pool, &logits[t * info.n_vocab]);
        }
    } else {
        for (int64_t t = 0; t < n; ++t) batch.add(ids[t], static_cast<int32_t>(t), 0, true);
        model->forward(batch, kv, pool, logits.data());
    }
    write_file_atomic(a.out, logits.data(), logits.size() * sizeof(float));
}

}  // namespace

void add_logits(CLI::App& app) {
    auto args = std::make_shared<LogitsArgs>();
    CLI::App* cmd = app.add_subcommand("logits", "Write the logits of every position of a token sequence");
    cmd->add_option("-m,--model", args->model, "GGUF model file")->required();
    cmd->add_option("--tokens-file", args->tokens_file, "file of whitespace-separated token ids")->required();
    cmd->add_option("-o,--output", args->out, "output file: float32 little-endian [n_tokens][n_vocab]")->required();
    cmd->add_flag("--one-by-one", args->one_by_one, "feed the tokens one at a time through the KV cache");
    cmd->add_option("-t,--threads", args->threads, "threads")->check(CLI::Range(1, 1024));
    cmd->add_option("-c,--ctx-size", args->ctx, "context size (default: the model's training context)")
        ->check(CLI::NonNegativeNumber);
    cmd->callback([args] { run_logits(*args); });
}

}  // namespace sobre::cli
