// `sobre synth`: writes a random-weight GGUF of a real model's shape (synth_presets.cc), with
// the metadata and tensors its architecture's loader binds (synth_layout.cc), a SentencePiece-style
// tokenizer of the right size, and each tensor in the type llama-quantize's rules give it for the
// requested file type. The project's own default model comes from here, so everything works
// offline. Weights are generated and converted a chunk of rows at a time: memory stays flat
// whatever the model's size, and the file appears (by rename) only when complete.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/common.h"
#include "cli/synth_layout.h"
#include "cli/synth_presets.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "gguf/quantize.h"
#include "gguf/writer.h"

namespace sobre::cli {
namespace {

using synth::Shape;
using synth::TensorSpec;

struct SynthArgs {
    std::string arch;
    std::string preset = "tiny";
    std::string type = "q8_0";
    std::string out;
    int layers = 0;
    std::vector<std::string> sets;
    uint64_t seed = 1;
    int threads = default_threads();
};

// Floats generated and converted per chunk: bounds the working memory (4 MiB of f32 plus the
// chunk's output) whatever the tensor's size.
constexpr int64_t kChunkElems = int64_t{1} << 20;

// `--type F32` writes every tensor as f32 (llama.cpp's LLAMA_FTYPE_ALL_F32), which llama-quantize's
// targets do not list.
constexpr gguf::QuantTarget kAllF32{"F32", 0, DType::kF32};

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::toupper(static_cast<unsigned char>(x)) == std::toupper(static_cast<unsigned char>(y));
           });
}

const gguf::QuantTarget& find_target(std::string_view name) {
    if (iequals(name, kAllF32.name)) return kAllF32;
    for (const gguf::QuantTarget& t : gguf::quant_targets()) {
        if (iequals(name, t.name)) return t;
    }
    std::string names(kAllF32.name);
    for (const gguf::QuantTarget& t : gguf::quant_targets()) names += ", " + std::string(t.name);
    fail(ErrorKind::kInvalidArgument, "--type '{}' is unknown (valid: {})", name, names);
}

uint64_t name_hash(const std::string& s) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    return h;
}

// splitmix64: a fast, well-mixed stream. One stream per row, seeded from (seed, tensor, row),
// makes the bytes independent of the thread count.
class RowRng {
   public:
    explicit RowRng(uint64_t seed) : state_(seed) {}
    uint64_t next() {
        uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }

   private:
    uint64_t state_;
};

// Approximately N(mean, stddev): the sum of four 16-bit uniforms from one draw (Irwin-Hall,
// variance 4/12), recentred and scaled. Values stay within 3.5 standard deviations, which suits
// random weights, at a few nanoseconds each (Box-Muller's log and cos cost ten times more).
void fill_normal(float* x, int64_t n, float mean, float stddev, uint64_t seed) {
    RowRng rng(seed);
    const float scale = stddev * std::sqrt(3.0f) / 65536.0f;  // 4 uniforms in [0, 65536): sd 65536/sqrt(3)
    for (int64_t i = 0; i < n; ++i) {
        const uint64_t r = rng.next();
        const auto sum = static_cast<float>((r & 0xFFFF) + ((r >> 16) & 0xFFFF) + ((r >> 32) & 0xFFFF) + (r >> 48));
        x[i] = mean + (sum - 2.0f * 65535.0f) * scale;
    }
}

// The tensor's rows drawn from its distribution and converted to `type`, chunk by chunk, the
// threads splitting each chunk's rows.
gguf::Writer::Producer random_tensor(const TensorSpec& spec, DType type, uint64_t seed, ThreadPool& pool) {
    return [spec, type, seed, &pool](gguf::ByteSink& out) {
        const int64_t n = spec.shape[0];
        int64_t rows = 1;
        for (size_t d = 1; d < spec.shape.size(); ++d) rows *= spec.shape[d];
        const int64_t out_row = row_bytes(type, n);
        const FromFloatFn convert = dtype_traits(type).from_float;
        const int64_t chunk = std::clamp<int64_t>(kChunkElems / n, 1, rows);
        std::vector<float> f(static_cast<size_t>(chunk * n));
        std::vector<uint8_t> q(static_cast<size_t>(chunk * out_row));
        const uint64_t tensor_seed = seed ^ name_hash(spec.name);
        for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
            const int64_t nr = std::min(chunk, rows - r0);
            pool.parallel_for(nr, [&](int64_t begin, int64_t end) {
                for (int64_t r = begin; r < end; ++r) {
                    const uint64_t row_seed = RowRng(tensor_seed + static_cast<uint64_t>(r0 + r)).next();
                    fill_normal(&f[r * n], n, spec.mean, spec.stddev, row_seed);
                    convert(&f[r * n], &q[r * out_row], n);
                }
            });
            out.write(q.data(), static_cast<size_t>(nr * out_row));
        }
    };
}

// A ChatML template (the format of Qwen and many others) with tool definitions in a system
// block, so the bundled model can be served like a real one.
constexpr const char* kChatTemplate =
    "{%- if tools %}<|im_start|>system\n"
    "{%- if messages[0].role == 'system' %}{{ messages[0].content }}\n\n{%- endif %}"
    "You may call these tools:\n<tools>\n{%- for tool in tools %}{{ tool | tojson }}\n{%- endfor %}</tools>\n"
    "Reply with <tool_call>{\"name\": ..., \"arguments\": {...}}</tool_call> to call one.<|im_end|>\n"
    "{%- elif messages[0].role == 'system' %}<|im_start|>system\n{{ messages[0].content }}<|im_end|>\n{%- endif %}"
    "{%- for message in messages %}"
    "{%- if message.role != 'system' %}<|im_start|>{{ message.role }}\n{{ message.content or '' }}"
    "{%- if message.tool_calls %}{%- for call in message.tool_calls %}"
    "\n<tool_call>{\"name\": \"{{ call.function.name }}\", \"arguments\": {{ call.function.arguments }}}</tool_call>"
    "{%- endfor %}{%- endif %}<|im_end|>\n{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}<|im_start|>assistant\n{%- endif %}";

void add_tokenizer(gguf::Writer& w, int64_t n_vocab) {
    std::vector<std::string> tokens = {"<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"};
    std::vector<int32_t> types = {2, 3, 3, 3, 3};  // UNKNOWN, CONTROL x 4
    for (int b = 0; b < 256 && static_cast<int64_t>(tokens.size()) < n_vocab; ++b) {
        tokens.push_back(fmt::format("<0x{:02X}>", b));
        types.push_back(6);  // BYTE
    }
    while (static_cast<int64_t>(tokens.size()) < n_vocab) {
        tokens.push_back(fmt::format("\xE2\x96\x81t{}", tokens.size()));  // "▁t<id>": a word-start piece
        types.push_back(1);                                               // NORMAL
    }
    std::vector<float> scores(tokens.size());
    for (size_t i = 0; i < scores.size(); ++i) scores[i] = -static_cast<float>(i);
    w.set("tokenizer.ggml.model", gguf::Value::of_string("llama"));
    w.set("tokenizer.ggml.pre", gguf::Value::of_string("default"));
    w.set("tokenizer.ggml.tokens", gguf::Value::of_strings(std::move(tokens)));
    w.set("tokenizer.ggml.scores", gguf::Value::of_f32s(scores));
    w.set("tokenizer.ggml.token_type", gguf::Value::of_i32s(types));
    w.set("tokenizer.ggml.unknown_token_id", gguf::Value::of_u32(0));
    w.set("tokenizer.ggml.bos_token_id", gguf::Value::of_u32(1));
    w.set("tokenizer.ggml.eos_token_id", gguf::Value::of_u32(2));
    w.set("tokenizer.ggml.eot_token_id", gguf::Value::of_u32(4));
    w.set("tokenizer.chat_template", gguf::Value::of_string(kChatTemplate));
    w.set("tokenizer.ggml.add_bos_token", gguf::Value::of_bool(true));
    w.set("tokenizer.ggml.add_eos_token", gguf::Value::of_bool(false));
}

// The preset with --layers and --set applied, checked.
Shape resolve_shape(const SynthArgs& a) {
    Shape s = synth::find_preset(a.preset);
    if (!a.arch.empty() && a.arch != s.arch) {
        fail(ErrorKind::kInvalidArgument, "--arch {} does not match preset {} (arch {})", a.arch, s.name, s.arch);
    }
    if (a.layers > 0) synth::cut_layers(s, a.layers);
    for (const std::string& kv : a.sets) synth::apply_set(s, kv);
    synth::check_shape(s);
    return s;
}

// The tensors as llama-quantize would see them in an f32 file of this shape.
std::vector<gguf::TensorInfo> f32_tensor_infos(const std::vector<TensorSpec>& specs) {
    std::vector<gguf::TensorInfo> infos(specs.size());
    for (size_t i = 0; i < specs.size(); ++i) {
        infos[i].name = specs[i].name;
        infos[i].n_dims = static_cast<int>(specs[i].shape.size());
        std::copy(specs[i].shape.begin(), specs[i].shape.end(), infos[i].ne);
    }
    return infos;
}

void add_general_keys(gguf::Writer& w, const Shape& s, const gguf::QuantTarget& target) {
    w.set("general.architecture", gguf::Value::of_string(std::string(s.arch)));
    w.set("general.name", gguf::Value::of_string(fmt::format("sobre synth {} ({})", s.name, target.name)));
    w.set("general.alignment", gguf::Value::of_u32(32));
    w.set("general.file_type", gguf::Value::of_u32(target.ftype));
    if (dtype_traits(target.base).is_quantized) w.set("general.quantization_version", gguf::Value::of_u32(2));
}

uint64_t tensor_bytes(const gguf::TensorPlan& p) {
    return static_cast<uint64_t>(row_bytes(p.type, p.in->ne[0]) * p.in->n_rows());
}

// On a terminal, how far the write is as each tensor starts (a large model takes minutes).
gguf::Writer::Producer with_progress(gguf::Writer::Producer produce, const std::string& name, uint64_t done,
                                     uint64_t total) {
    if (!isatty(fileno(stderr))) return produce;
    const int percent = static_cast<int>(100.0 * static_cast<double>(done) / static_cast<double>(total));
    return [produce = std::move(produce), name, percent](gguf::ByteSink& out) {
        std::fprintf(stderr, "\r%3d%% %-48.48s", percent, name.c_str());
        produce(out);
    };
}

void run_synth(const SynthArgs& a) {
    const Shape s = resolve_shape(a);
    const gguf::QuantTarget& target = find_target(a.type);
    const std::vector<TensorSpec> specs = synth::tensor_layout(s);
    const std::vector<gguf::TensorInfo> infos = f32_tensor_infos(specs);
    // Planned (and so checked) before the output file is created.
    const std::vector<gguf::TensorPlan> plan = gguf::plan_tensors(synth::quant_facts(s), infos, target);
    uint64_t total = 0;
    for (const gguf::TensorPlan& p : plan) total += tensor_bytes(p);
    std::fprintf(stderr, "writing %s: %s, %lld layers, %s, %zu tensors, %.2f GiB\n", a.out.c_str(),
                 std::string(s.name).c_str(), static_cast<long long>(s.n_layer), std::string(target.name).c_str(),
                 plan.size(), static_cast<double>(total) / (1u << 30));

    gguf::Writer w;
    add_general_keys(w, s, target);
    synth::add_model_keys(w, s);
    add_tokenizer(w, s.vocab);
    ThreadPool pool(a.threads);
    uint64_t done = 0;
    for (const gguf::TensorPlan& p : plan) {
        const TensorSpec& spec = specs[static_cast<size_t>(p.in - infos.data())];
        SOBRE_CHECK(dtype_traits(p.type).from_float != nullptr);
        w.add_tensor(spec.name, p.type, spec.shape,
                     with_progress(random_tensor(spec, p.type, a.seed, pool), spec.name, done, total));
        done += tensor_bytes(p);
    }
    w.write(a.out);
    if (isatty(fileno(stderr))) std::fprintf(stderr, "\r%-53s\r", "");
    std::fprintf(stderr, "wrote %s\n", a.out.c_str());
}

}  // namespace

void add_synth(CLI::App& app) {
    auto args = std::make_shared<SynthArgs>();
    CLI::App* cmd = app.add_subcommand("synth", "Write a random-weight GGUF of a real model's shape");
    cmd->add_option("--arch", args->arch, "architecture (checked against the preset)");
    cmd->add_option("--preset", args->preset, "shape: " + synth::preset_names());
    cmd->add_option("--type", args->type,
                    "file type: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K_S/M/L, Q4_K_S/M, "
                    "Q5_K_S/M, Q6_K (per-tensor types as llama-quantize picks them)");
    cmd->add_option("--layers", args->layers, "keep the first N layers (default: the preset's)")
        ->check(CLI::Range(1, 1024));
    cmd->add_option("--set", args->sets, "override a hyper-parameter, key=value:" + synth::set_key_help());
    cmd->add_option("--seed", args->seed, "random seed of the weights");
    cmd->add_option("-t,--threads", args->threads, "threads")->check(CLI::Range(1, 1024));
    cmd->add_option("-o,--output", args->out, "output GGUF file")->required();
    cmd->callback([args] { run_synth(*args); });
}

}  // namespace sobre::cli
