// `sobre quantize IN.gguf OUT.gguf TYPE`: rewrites a model with smaller weights, each tensor's
// type chosen as llama-quantize chooses it (gguf/quantize.h); the output is byte-identical to
// llama-quantize's for the same input, type and --imatrix file.
#include "gguf/quantize.h"

#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>

#include "cli/common.h"
#include "core/error.h"

namespace sobre::cli {
namespace {

struct QuantizeArgs {
    std::string in;
    std::string out;
    std::string type;
    std::string imatrix;
    int threads = default_threads();
    bool allow_requantize = false;
};

std::string type_names() {
    std::string names;
    for (const gguf::QuantTarget& t : gguf::quant_targets()) {
        names += (names.empty() ? "" : ", ") + std::string(t.name);
    }
    return names;
}

// One line rewritten in place ("[ 12/291] blk.3.ffn_down.weight f32 -> q6_K"); only on a
// terminal, so logs and pipes stay clean.
void print_progress(const gguf::QuantizeProgress& p) {
    const int width = static_cast<int>(std::to_string(p.count).size());
    const std::string from(dtype_name(p.tensor->type));
    const std::string to(dtype_name(p.to));
    std::fprintf(stderr, "\r[%*zu/%zu] %s %s -> %s\x1b[K", width, p.index + 1, p.count,
                 p.tensor->name.c_str(), from.c_str(), to.c_str());
    std::fflush(stderr);
}

void run_quantize(const QuantizeArgs& a) {
    gguf::QuantizeOptions opt;
    opt.threads = a.threads;
    opt.allow_requantize = a.allow_requantize;
    opt.imatrix = a.imatrix;
    const bool tty = isatty(STDERR_FILENO) != 0;
    bool progress_shown = false;
    if (tty) {
        opt.progress = [&](const gguf::QuantizeProgress& p) {
            print_progress(p);
            progress_shown = true;
        };
    }
    gguf::QuantizeSummary sum;
    try {
        sum = gguf::quantize_file(a.in, a.out, a.type, opt);
    } catch (...) {
        // End the progress line so the error gets a line of its own.
        if (progress_shown) std::fputc('\n', stderr);
        throw;
    }
    if (progress_shown) std::fputc('\n', stderr);
    constexpr double kMiB = 1024.0 * 1024.0;
    std::fprintf(stderr, "wrote %s (%s: %zu of %zu tensors converted, %.2f MiB -> %.2f MiB)\n",
                 a.out.c_str(), std::string(gguf::find_quant_target(a.type).name).c_str(),
                 sum.converted, sum.tensors, static_cast<double>(sum.in_bytes) / kMiB,
                 static_cast<double>(sum.out_bytes) / kMiB);
}

}  // namespace

void add_quantize(CLI::App& app) {
    auto args = std::make_shared<QuantizeArgs>();
    CLI::App* cmd = app.add_subcommand(
        "quantize", "Rewrite a GGUF model with quantized weights (llama-quantize's rules)");
    cmd->add_option("input", args->in, "input GGUF (F32, F16 or BF16 weights)")->required();
    cmd->add_option("output", args->out, "output GGUF (written to OUTPUT.tmp, then renamed)")
        ->required();
    cmd->add_option("type", args->type, "quantization type: " + type_names())->required();
    cmd->add_option("-t,--threads", args->threads, "threads")->check(CLI::Range(1, 1024));
    cmd->add_option("--imatrix", args->imatrix,
                    "importance matrix (GGUF, from sobre imatrix or llama-imatrix) to weigh the quantization");
    cmd->add_flag("--allow-requantize", args->allow_requantize,
                  "allow converting tensors that are already quantized (loses quality)");
    cmd->callback([args] { run_quantize(*args); });
}

}  // namespace sobre::cli
