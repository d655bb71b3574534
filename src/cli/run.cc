// `sobre run`: generates a continuation and streams it as it is produced: text in and text out
// with -p (the model's tokenizer), or token ids in and out with --tokens.
#include <cstdio>
#include <memory>
#include <random>
#include <vector>

#include "cli/common.h"
#include "core/error.h"
#include "model/model.h"
#include "runtime/kv_cache.h"
#include "runtime/sampler.h"
#include "tokenizer/tokenizer.h"

namespace sobre::cli {
namespace {

struct RunArgs {
    std::string model;
    std::string tokens;
    std::string prompt;
    int n_predict = 32;
    int threads = default_threads();
    int64_t ctx = 4096;
    bool ignore_eos = false;
    runtime::SamplerOptions sampling;
    bool seed_given = false;
};

void run_generate(RunArgs a) {
    if (a.tokens.empty() == a.prompt.empty()) fail(ErrorKind::kInvalidArgument, "give exactly one of -p TEXT and --tokens IDS");
    const auto model = model::load_model(resolve_model(a.model));
    // Text mode prints text through a streaming decoder (whole UTF-8 characters only).
    std::unique_ptr<tokenizer::Tokenizer> tok;
    std::vector<int32_t> prompt;
    if (!a.prompt.empty()) {
        tok = tokenizer::Tokenizer::from_gguf(model->file());
        prompt = tok->encode(a.prompt, true, true);
    } else {
        prompt = parse_token_ids(a.tokens, "--tokens");
    }
    if (prompt.empty()) fail(ErrorKind::kInvalidArgument, "the prompt is empty");
    const model::ModelInfo& info = model->info();
    const int64_t ctx = std::min<int64_t>(a.ctx, info.n_ctx_train);
    const int64_t total = static_cast<int64_t>(prompt.size()) + a.n_predict;
    if (static_cast<int64_t>(prompt.size()) > ctx) {
        fail(ErrorKind::kResourceExhausted, "the prompt of {} tokens is longer than the context of {}",
             prompt.size(), ctx);
    }
    if (!a.seed_given) a.sampling.seed = std::random_device{}();
    const auto eos = model->file().get_u32("tokenizer.ggml.eos_token_id");
    const int64_t limit = std::min(ctx, total);
    runtime::KvCache kv(info.kv, limit);
    ThreadPool pool(a.threads);
    runtime::Sampler sampler(a.sampling);
    std::unique_ptr<tokenizer::StreamDecoder> decoder;
    if (tok) decoder = std::make_unique<tokenizer::StreamDecoder>(*tok);
    std::vector<float> logits(static_cast<size_t>(info.n_vocab));

    model::Batch batch;
    for (size_t t = 0; t < prompt.size(); ++t) batch.add(prompt[t], static_cast<int32_t>(t), 0, t + 1 == prompt.size());
    int32_t pos = static_cast<int32_t>(prompt.size());
    for (int i = 0; i < a.n_predict && pos <= limit; ++i) {
        model->forward(batch, kv, pool, logits.data());
        if (i == 0 && !a.seed_given) {
            // Reported once the prompt is accepted, so errors stay the only line on stderr.
            std::fprintf(stderr, "seed: %llu\n", static_cast<unsigned long long>(a.sampling.seed));
        }
        const int32_t next = sampler.sample(logits.data(), info.n_vocab);
        const bool end = tok ? tok->is_eog(next) : (eos && static_cast<uint32_t>(next) == *eos);
        if (!a.ignore_eos && end) break;
        if (decoder) {
            std::fputs(decoder->push(next).c_str(), stdout);
        } else {
            std::printf("%s%d", i ? " " : "", next);
        }
        std::fflush(stdout);
        if (pos == limit) break;
        batch.clear();
        batch.add(next, pos++, 0, true);
    }
    if (decoder) std::fputs(decoder->flush().c_str(), stdout);
    std::printf("\n");
}

}  // namespace

void add_run(CLI::App& app) {
    auto args = std::make_shared<RunArgs>();
    CLI::App* cmd = app.add_subcommand("run", "Generate a continuation of a prompt, streamed as it is produced");
    cmd->add_option("-m,--model", args->model, "GGUF model file, or a model name in the store")->required();
    cmd->add_option("-p,--prompt", args->prompt, "prompt text (tokenized with the model's tokenizer; BOS per metadata)");
    cmd->add_option("--tokens", args->tokens, "prompt as whitespace-separated token ids (ids are printed back)");
    cmd->add_option("-n,--n-predict", args->n_predict, "tokens to generate")->check(CLI::Range(0, 1 << 20));
    cmd->add_option("-t,--threads", args->threads, "threads")->check(CLI::Range(1, 1024));
    cmd->add_option("-c,--ctx-size", args->ctx, "context size")->check(CLI::PositiveNumber);
    cmd->add_option("--temp", args->sampling.temperature, "temperature (0 = greedy)");
    cmd->add_option("--top-k", args->sampling.top_k, "keep the k most likely tokens (0 = off)");
    cmd->add_option("--top-p", args->sampling.top_p, "nucleus sampling threshold (1 = off)")->check(CLI::Range(0.0, 1.0));
    cmd->add_option("--min-p", args->sampling.min_p, "drop tokens below min-p x the best (0 = off)")
        ->check(CLI::Range(0.0, 1.0));
    auto* seed = cmd->add_option("--seed", args->sampling.seed, "random seed (default: random, printed)");
    cmd->add_flag("--ignore-eos", args->ignore_eos, "keep generating after the end-of-sequence token");
    cmd->callback([args, seed] {
        args->seed_given = seed->count() > 0;
        run_generate(*args);
    });
}

}  // namespace sobre::cli
