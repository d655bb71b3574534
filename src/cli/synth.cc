// `sobre synth`: writes a random-weight GGUF of a real model's shape, with complete metadata and
// a SentencePiece-style tokenizer of the right size. The project's own default model comes from
// here, so everything works offline. Weights are streamed row by row: memory stays flat.
#include <cstdio>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "cli/common.h"
#include "core/error.h"
#include "gguf/writer.h"

namespace sobre::cli {
namespace {

struct Preset {
    const char* name;
    const char* arch;  // llama | qwen2 | qwen3
    int64_t n_vocab, n_embd, n_ff;
    int n_layer, n_head, n_head_kv, head_dim;
    float rope_base, rms_eps;
    int64_t n_ctx;
};

// Shapes from the models' published configs (tiny is ours: the bundled default model).
constexpr Preset kPresets[] = {
    {"tiny", "llama", 512, 128, 384, 2, 4, 2, 32, 10000.f, 1e-5f, 2048},
    {"llama3-1b", "llama", 128256, 2048, 8192, 16, 32, 8, 64, 500000.f, 1e-5f, 131072},
    {"qwen2.5-0.5b", "qwen2", 151936, 896, 4864, 24, 14, 2, 64, 1000000.f, 1e-6f, 32768},
    {"qwen3-0.6b", "qwen3", 151936, 1024, 3072, 28, 16, 8, 128, 1000000.f, 1e-6f, 40960},
    {"qwen3-4b", "qwen3", 151936, 2560, 9728, 36, 32, 8, 128, 1000000.f, 1e-6f, 40960},
};

struct SynthArgs {
    std::string arch;
    std::string preset = "tiny";
    std::string type = "q8_0";
    std::string out;
    int layers = 0;
    uint64_t seed = 1;
};

const Preset& find_preset(const std::string& name) {
    for (const Preset& p : kPresets) {
        if (name == p.name) return p;
    }
    std::string names;
    for (const Preset& p : kPresets) names += (names.empty() ? "" : ", ") + std::string(p.name);
    fail(ErrorKind::kInvalidArgument, "--preset '{}' is unknown (known: {})", name, names);
}

// llama.cpp's llama_ftype for a file whose matrices are all `t` (what tools show as the type).
std::optional<uint32_t> llama_file_type(DType t) {
    switch (t) {
        case DType::kF32: return 0;
        case DType::kF16: return 1;
        case DType::kQ4_0: return 2;
        case DType::kQ4_1: return 3;
        case DType::kQ8_0: return 7;
        case DType::kQ5_0: return 8;
        case DType::kQ5_1: return 9;
        case DType::kBF16: return 32;
        default: return std::nullopt;
    }
}

uint64_t name_hash(const std::string& s) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    return h;
}

// A tensor of rows drawn from N(mean, stddev), converted row by row to `type`.
gguf::Writer::Producer random_rows(DType type, int64_t row_len, int64_t rows, float mean, float stddev,
                                   uint64_t seed) {
    return [=](gguf::ByteSink& out) {
        std::mt19937_64 rng(seed);
        std::normal_distribution<float> dist(mean, stddev);
        std::vector<float> row(static_cast<size_t>(row_len));
        std::vector<uint8_t> bytes(static_cast<size_t>(row_bytes(type, row_len)));
        const FromFloatFn convert = dtype_traits(type).from_float;
        for (int64_t r = 0; r < rows; ++r) {
            for (float& x : row) x = dist(rng);
            convert(row.data(), bytes.data(), row_len);
            out.write(bytes.data(), bytes.size());
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

void run_synth(const SynthArgs& a) {
    const Preset& p = find_preset(a.preset);
    if (!a.arch.empty() && a.arch != p.arch) {
        fail(ErrorKind::kInvalidArgument, "--arch {} does not match preset {} (arch {})", a.arch, p.name, p.arch);
    }
    const auto type = dtype_from_name(a.type);
    if (!type || !dtype_traits(*type).from_float) {
        fail(ErrorKind::kInvalidArgument, "--type '{}' cannot be written (f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1)",
             a.type);
    }
    const std::string arch = p.arch;
    const int n_layer = a.layers > 0 ? a.layers : p.n_layer;
    gguf::Writer w;
    auto key = [&](const char* k) { return arch + "." + k; };
    w.set("general.architecture", gguf::Value::of_string(arch));
    w.set("general.name", gguf::Value::of_string(fmt::format("sobre synth {} ({})", p.name, a.type)));
    w.set("general.alignment", gguf::Value::of_u32(32));
    if (const auto ftype = llama_file_type(*type)) {
        w.set("general.file_type", gguf::Value::of_u32(*ftype));
        if (dtype_traits(*type).is_quantized) w.set("general.quantization_version", gguf::Value::of_u32(2));
    }
    w.set(key("context_length"), gguf::Value::of_u32(static_cast<uint32_t>(p.n_ctx)));
    w.set(key("embedding_length"), gguf::Value::of_u32(static_cast<uint32_t>(p.n_embd)));
    w.set(key("block_count"), gguf::Value::of_u32(static_cast<uint32_t>(n_layer)));
    w.set(key("feed_forward_length"), gguf::Value::of_u32(static_cast<uint32_t>(p.n_ff)));
    w.set(key("attention.head_count"), gguf::Value::of_u32(static_cast<uint32_t>(p.n_head)));
    w.set(key("attention.head_count_kv"), gguf::Value::of_u32(static_cast<uint32_t>(p.n_head_kv)));
    w.set(key("attention.key_length"), gguf::Value::of_u32(static_cast<uint32_t>(p.head_dim)));
    w.set(key("attention.value_length"), gguf::Value::of_u32(static_cast<uint32_t>(p.head_dim)));
    w.set(key("rope.dimension_count"), gguf::Value::of_u32(static_cast<uint32_t>(p.head_dim)));
    w.set(key("rope.freq_base"), gguf::Value::of_f32(p.rope_base));
    w.set(key("attention.layer_norm_rms_epsilon"), gguf::Value::of_f32(p.rms_eps));
    add_tokenizer(w, p.n_vocab);

    // Matrices take the requested type when their rows are a block multiple, else f16 (as
    // llama-quantize falls back for odd shapes); vectors stay f32.
    auto matrix = [&](const std::string& name, int64_t cols, int64_t rows) {
        const DType t = cols % dtype_traits(*type).block_elems == 0 ? *type : DType::kF16;
        w.add_tensor(name, t, {cols, rows}, random_rows(t, cols, rows, 0.0f, 0.02f, a.seed ^ name_hash(name)));
    };
    auto vector = [&](const std::string& name, int64_t n, float mean, float stddev) {
        w.add_tensor(name, DType::kF32, {n}, random_rows(DType::kF32, n, 1, mean, stddev, a.seed ^ name_hash(name)));
    };
    const int64_t e = p.n_embd, q_w = int64_t{p.n_head} * p.head_dim, kv_w = int64_t{p.n_head_kv} * p.head_dim;
    matrix("token_embd.weight", e, p.n_vocab);
    vector("output_norm.weight", e, 1.0f, 0.1f);
    matrix("output.weight", e, p.n_vocab);
    for (int il = 0; il < n_layer; ++il) {
        const std::string b = fmt::format("blk.{}.", il);
        vector(b + "attn_norm.weight", e, 1.0f, 0.1f);
        matrix(b + "attn_q.weight", e, q_w);
        matrix(b + "attn_k.weight", e, kv_w);
        matrix(b + "attn_v.weight", e, kv_w);
        if (arch == "qwen2") {
            vector(b + "attn_q.bias", q_w, 0.0f, 0.02f);
            vector(b + "attn_k.bias", kv_w, 0.0f, 0.02f);
            vector(b + "attn_v.bias", kv_w, 0.0f, 0.02f);
        }
        if (arch == "qwen3") {
            vector(b + "attn_q_norm.weight", p.head_dim, 1.0f, 0.1f);
            vector(b + "attn_k_norm.weight", p.head_dim, 1.0f, 0.1f);
        }
        matrix(b + "attn_output.weight", q_w, e);
        vector(b + "ffn_norm.weight", e, 1.0f, 0.1f);
        matrix(b + "ffn_gate.weight", e, p.n_ff);
        matrix(b + "ffn_up.weight", e, p.n_ff);
        matrix(b + "ffn_down.weight", p.n_ff, e);
    }
    w.write(a.out);
    std::fprintf(stderr, "wrote %s (%s, %d layers, %s)\n", a.out.c_str(), p.name, n_layer, a.type.c_str());
}

}  // namespace

void add_synth(CLI::App& app) {
    auto args = std::make_shared<SynthArgs>();
    CLI::App* cmd = app.add_subcommand("synth", "Write a random-weight GGUF of a real model's shape");
    cmd->add_option("--arch", args->arch, "architecture (checked against the preset)");
    cmd->add_option("--preset", args->preset, "shape: tiny, llama3-1b, qwen2.5-0.5b, qwen3-0.6b, qwen3-4b");
    cmd->add_option("--type", args->type, "weight type: f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1");
    cmd->add_option("--layers", args->layers, "number of layers (default: the preset's)")->check(CLI::Range(1, 1024));
    cmd->add_option("--seed", args->seed, "random seed of the weights");
    cmd->add_option("-o,--output", args->out, "output GGUF file")->required();
    cmd->callback([args] { run_synth(*args); });
}

}  // namespace sobre::cli
