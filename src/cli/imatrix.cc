// `sobre imatrix`: collects an importance matrix (the squared activations met by every weight
// matrix) over a text, in llama-imatrix's GGUF format, for `sobre quantize --imatrix` or
// llama-quantize. The text is evaluated in chunks as llama-imatrix does, and the perplexity of
// each chunk is printed along the way (as llama-imatrix prints it).
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/common.h"
#include "core/error.h"
#include "eval/chunks.h"
#include "eval/imatrix.h"
#include "eval/perplexity.h"
#include "gguf/imatrix.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace sobre::cli {
namespace {

struct ImatrixArgs {
    std::string model;
    std::string text;
    std::string out = "imatrix.gguf";
    int64_t ctx = 512;
    int64_t batch = 2048;
    int64_t chunks = -1;
    int threads = default_threads();
    bool process_output = false;
    bool no_ppl = false;
};

void print(const std::string& s) {
    std::fputs(s.c_str(), stdout);
    std::fflush(stdout);
}

// Entries of expert stacks some experts of which saw no tokens (llama-quantize treats their
// importance as uniform).
void warn_partial(const gguf::Imatrix& m) {
    for (const auto& [name, e] : m.entries) {
        int64_t zeros = 0;
        for (int64_t c : e.counts) zeros += c == 0 ? 1 : 0;
        if (zeros > 0) {
            std::fprintf(stderr, "warning: %s: %lld of %lld experts saw no tokens\n", name.c_str(),
                         static_cast<long long>(zeros), static_cast<long long>(e.n_mat()));
        }
    }
}

void run_imatrix(const ImatrixArgs& a) {
    if (a.chunks == 0 || a.chunks < -1) fail(ErrorKind::kInvalidArgument, "--chunks {}: give a positive count or -1 (all)", a.chunks);
    const auto model = model::load_model(a.model);
    const auto tok = tokenizer::Tokenizer::from_gguf(model->file());
    const std::vector<int32_t> tokens = eval::tokenize_eval_text(*tok, eval::read_eval_text(a.text));
    const eval::ChunkOptions o{a.ctx, a.batch, eval::first_scored(a.ctx), tok->add_bos() ? tok->bos() : -1};
    eval::check_chunk_options(o);
    const int64_t n_chunk = eval::count_chunks(static_cast<int64_t>(tokens.size()), a.ctx, a.chunks, a.text);
    check_writable(a.out);
    std::fprintf(stderr, "imatrix: %lld chunks of %lld tokens (the text is %zu tokens), batch %lld\n",
                 static_cast<long long>(n_chunk), static_cast<long long>(a.ctx), tokens.size(),
                 static_cast<long long>(a.batch));
    eval::NllStats ppl;
    ThreadPool pool(a.threads);
    const gguf::Imatrix m = eval::collect_imatrix(
        *model, pool, o, tokens, n_chunk, a.process_output, {a.text}, a.no_ppl ? nullptr : &ppl,
        [](int64_t c, const eval::NllStats& s) { print(eval::format_chunk_ppl(c, s)); });
    if (!a.no_ppl) print("\n" + eval::format_final_ppl(ppl) + "\n");
    if (m.entries.empty()) fail(ErrorKind::kUnsupported, "{}: no weight matrix was seen; nothing to write", a.model);
    warn_partial(m);
    gguf::write_imatrix(a.out, m);
    std::fprintf(stderr, "wrote %s: %zu entries over %u chunks of %lld tokens\n", a.out.c_str(), m.entries.size(),
                 m.chunk_count, static_cast<long long>(a.ctx));
}

}  // namespace

void add_imatrix(CLI::App& app) {
    auto args = std::make_shared<ImatrixArgs>();
    CLI::App* cmd = app.add_subcommand(
        "imatrix", "Collect an importance matrix over a text for quantize --imatrix (as llama-imatrix)");
    cmd->add_option("-m,--model", args->model, "GGUF model file (best unquantized)")->required();
    cmd->add_option("-f,--file", args->text, "text file to run (one trailing newline is dropped)")->required();
    cmd->add_option("-o,--output", args->out, "imatrix file to write (GGUF)");
    cmd->add_option("-c,--ctx-size", args->ctx, "tokens per chunk")->check(CLI::PositiveNumber);
    cmd->add_option("-b,--batch-size", args->batch, "tokens per forward call (below -c, or a multiple of it)")
        ->check(CLI::PositiveNumber);
    cmd->add_option("--chunks", args->chunks, "run at most this many chunks (-1: all)");
    cmd->add_option("-t,--threads", args->threads, "threads")->check(CLI::Range(1, 1024));
    cmd->add_flag("--process-output", args->process_output, "also collect output.weight");
    cmd->add_flag("--no-ppl", args->no_ppl, "do not compute the perplexity");
    cmd->callback([args] { run_imatrix(*args); });
}

}  // namespace sobre::cli
