// `sobre perplexity`: a model's perplexity on a text, and its KL divergence from a base model,
// computed and printed as llama-perplexity does (eval/perplexity.h, eval/kld.h). Results go to
// stdout; what is being done goes to stderr.
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/common.h"
#include "core/error.h"
#include "eval/chunks.h"
#include "eval/kld.h"
#include "eval/perplexity.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace sobre::cli {
namespace {

struct PerplexityArgs {
    std::string model;
    std::string text;
    int64_t ctx = 512;
    int64_t batch = 2048;
    int64_t chunks = -1;
    int threads = default_threads();
    std::string kld_base;  // --kl-divergence-base: written, or read with --kl-divergence
    bool kld = false;
};

void print(const std::string& s) {
    std::fputs(s.c_str(), stdout);
    std::fflush(stdout);
}

int32_t bos_of(const tokenizer::Tokenizer& tok) { return tok.add_bos() ? tok.bos() : -1; }

void warn_beyond_training(const model::Model& m, int64_t n_ctx) {
    if (n_ctx > m.info().n_ctx_train) {
        std::fprintf(stderr, "warning: the model was trained on %lld tokens of context, -c is %lld\n",
                     static_cast<long long>(m.info().n_ctx_train), static_cast<long long>(n_ctx));
    }
}

// Perplexity over the text; with `save_path`, the scored positions' log-probabilities are
// written there for a later --kl-divergence run.
void run_ppl(const PerplexityArgs& a, const std::string& save_path) {
    const auto model = model::load_model(a.model);
    const auto tok = tokenizer::Tokenizer::from_gguf(model->file());
    const std::vector<int32_t> tokens = eval::tokenize_eval_text(*tok, eval::read_eval_text(a.text));
    const eval::ChunkOptions o{a.ctx, a.batch, eval::first_scored(a.ctx), bos_of(*tok)};
    eval::check_chunk_options(o);
    const int64_t n_chunk = eval::count_chunks(static_cast<int64_t>(tokens.size()), a.ctx, a.chunks, a.text);
    std::optional<eval::LogProbWriter> out;
    if (!save_path.empty()) {
        out.emplace(save_path, eval::LogProbHeader{static_cast<int32_t>(a.ctx), static_cast<int32_t>(model->info().n_vocab),
                                                   static_cast<int32_t>(n_chunk),
                                                   std::vector<int32_t>(tokens.begin(), tokens.begin() + n_chunk * a.ctx)});
    }
    warn_beyond_training(*model, a.ctx);
    std::fprintf(stderr, "perplexity: %lld chunks of %lld tokens (the text is %zu tokens), batch %lld\n",
                 static_cast<long long>(n_chunk), static_cast<long long>(a.ctx), tokens.size(),
                 static_cast<long long>(a.batch));
    ThreadPool pool(a.threads);
    const eval::NllStats stats = eval::measure_perplexity(
        *model, pool, o, tokens, n_chunk, out ? &*out : nullptr,
        [](int64_t c, const eval::NllStats& s) { print(eval::format_chunk_ppl(c, s)); });
    print("\n" + eval::format_final_ppl(stats) + "\n");
    if (out) {
        out->commit();
        std::fprintf(stderr, "wrote the log-probabilities of %lld tokens to %s\n", static_cast<long long>(stats.count),
                     save_path.c_str());
    }
}

// KL divergence from the base model whose log-probabilities --kl-divergence-base saved; the
// chunks and tokens are the file's (-c and the text are not used).
void run_kld(const PerplexityArgs& a) {
    eval::LogProbReader base(a.kld_base);
    const auto model = model::load_model(a.model);
    const auto tok = tokenizer::Tokenizer::from_gguf(model->file());
    const eval::LogProbHeader& h = base.header();
    ThreadPool pool(a.threads);
    const eval::KldStats stats =
        eval::measure_kld(*model, pool, base, a.batch, bos_of(*tok), [&](int64_t c, const eval::KldStats& s) {
            if (c == 0) {
                // Only now, so that an error stays the one line on stderr.
                warn_beyond_training(*model, h.n_ctx);
                std::fprintf(stderr, "kl-divergence: %d chunks of %d tokens from %s\n", h.n_chunk, h.n_ctx,
                             a.kld_base.c_str());
                print("\n" + eval::kld_table_header() + "\n");
            }
            print(eval::format_kld_chunk(c + 1, s) + "\n");
        });
    print("\n" + eval::format_kld_report(stats));
}

void run_perplexity(const PerplexityArgs& a) {
    if (a.chunks == 0 || a.chunks < -1) fail(ErrorKind::kInvalidArgument, "--chunks {}: give a positive count or -1 (all)", a.chunks);
    if (a.kld) {
        if (a.kld_base.empty()) {
            fail(ErrorKind::kInvalidArgument, "--kl-divergence needs --kl-divergence-base FILE (the base model's "
                 "log-probabilities, written by a run without --kl-divergence)");
        }
        run_kld(a);
        return;
    }
    if (a.text.empty()) fail(ErrorKind::kInvalidArgument, "give the text to evaluate with -f FILE");
    run_ppl(a, a.kld_base);
}

}  // namespace

void add_perplexity(CLI::App& app) {
    auto args = std::make_shared<PerplexityArgs>();
    CLI::App* cmd = app.add_subcommand(
        "perplexity", "Perplexity of a model on a text, or its KL divergence from a base model (as llama-perplexity)");
    cmd->add_option("-m,--model", args->model, "GGUF model file")->required();
    cmd->add_option("-f,--file", args->text, "text file to evaluate (one trailing newline is dropped)");
    cmd->add_option("-c,--ctx-size", args->ctx, "tokens per chunk; the second half of each is scored")
        ->check(CLI::PositiveNumber);
    cmd->add_option("-b,--batch-size", args->batch, "tokens per forward call (below -c, or a multiple of it)")
        ->check(CLI::PositiveNumber);
    cmd->add_option("--chunks", args->chunks, "evaluate at most this many chunks (-1: all)");
    cmd->add_option("-t,--threads", args->threads, "threads")->check(CLI::Range(1, 1024));
    cmd->add_option("--kl-divergence-base", args->kld_base,
                    "log-probability file: written by a base-model run, read with --kl-divergence");
    cmd->add_flag("--kl-divergence", args->kld,
                  "compare with the base model's --kl-divergence-base file (its tokens and chunks are used)");
    cmd->callback([args] { run_perplexity(*args); });
}

}  // namespace sobre::cli
