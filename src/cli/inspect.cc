// `sobre inspect`: what a GGUF file holds — architecture, hyper-parameters, tokenizer summary,
// metadata and every tensor.
#include <cstdio>
#include <memory>

#include "cli/common.h"
#include "core/error.h"
#include "model/model.h"

namespace sobre::cli {
namespace {

void print_tokenizer(const gguf::File& f) {
    const auto model = f.get_string("tokenizer.ggml.model");
    if (!model) {
        std::printf("tokenizer: none\n");
        return;
    }
    const gguf::Value* tokens = f.get_array("tokenizer.ggml.tokens");
    std::printf("tokenizer: %s, pre %s, %zu tokens", model->c_str(),
                f.get_string("tokenizer.ggml.pre").value_or("-").c_str(), tokens ? tokens->size() : size_t{0});
    for (const char* id : {"bos", "eos", "unk", "pad"}) {
        const auto v = f.get_u32(fmt::format("tokenizer.ggml.{}_token_id", id));
        if (v) std::printf(", %s %u", id, *v);
    }
    const gguf::Value* merges = f.get_array("tokenizer.ggml.merges");
    if (merges) std::printf(", %zu merges", merges->size());
    std::printf(", chat template %s\n", f.find("tokenizer.chat_template") ? "yes" : "no");
}

void print_model(const std::string& path) {
    try {
        const auto m = model::load_model(path);
        const model::ModelInfo& info = m->info();
        std::printf("architecture: %s%s%s\n", info.arch.c_str(), info.name.empty() ? "" : " — ", info.name.c_str());
        std::printf("n_vocab: %lld\n", static_cast<long long>(info.n_vocab));
        for (const auto& [k, v] : info.hparams) std::printf("%s: %s\n", k.c_str(), v.c_str());
        std::printf("kv_bytes_per_token: %lld (f16 K+V, all layers)\n",
                    static_cast<long long>(info.kv.n_layer * (info.kv.k_width + info.kv.v_width) * 2));
        for (const gguf::TensorInfo& t : m->file().tensors()) {
            if (t.name.find(".nextn.") != std::string::npos) {
                std::printf("mtp/nextn tensor (skipped by the forward): %s\n", t.name.c_str());
            }
        }
    } catch (const Error& e) {
        std::printf("model: not loadable: %s\n", e.what());
    }
}

// KV cache bytes per token at f16, and what an uncompressed multi-head cache would take.
void print_kv_per_token(const std::string& path) {
    const auto m = model::load_model(path);
    const model::ModelInfo& info = m->info();
    const int64_t layers = info.kv.n_layer;
    const int64_t bytes = layers * (info.kv.k_width + info.kv.v_width) * 2;
    const int64_t mha = layers * info.kv_mha_values_per_token * 2;
    std::printf("kv_bytes_per_token: %lld (f16, %lld cache layers x %lld values)\n", static_cast<long long>(bytes),
                static_cast<long long>(layers), static_cast<long long>(info.kv.k_width + info.kv.v_width));
    std::printf("state_bytes_per_sequence: %lld (f32 recurrent state, fixed size)\n",
                static_cast<long long>(layers * info.kv.state_width * 4));
    std::printf("mha_kv_bytes_per_token: %lld (uncompressed K and V of every head; ratio %.2f)\n",
                static_cast<long long>(mha), mha > 0 ? static_cast<double>(bytes) / static_cast<double>(mha) : 1.0);
}

void run_inspect(const std::string& path) {
    const gguf::File f = gguf::File::open(path);
    std::printf("file: %s (GGUF v%u, %llu bytes, %zu tensors, %zu metadata keys, alignment %u)\n", path.c_str(),
                f.version(), static_cast<unsigned long long>(f.file_size()), f.tensors().size(), f.metadata().size(),
                f.alignment());
    print_model(path);
    print_tokenizer(f);
    std::printf("\nmetadata:\n");
    for (const auto& [k, v] : f.metadata()) {
        if (k == "tokenizer.chat_template") {
            std::printf("  %s = <%zu bytes>\n", k.c_str(), v.s.size());
            continue;
        }
        std::printf("  %s = %s\n", k.c_str(), v.to_string().c_str());
    }
    std::printf("\ntensors:\n");
    uint64_t total = 0;
    for (const gguf::TensorInfo& t : f.tensors()) {
        std::printf("  %-40s %-6s %-24s %llu\n", t.name.c_str(), std::string(dtype_name(t.type)).c_str(),
                    t.shape_string().c_str(), static_cast<unsigned long long>(t.n_bytes));
        total += t.n_bytes;
    }
    std::printf("total tensor bytes: %llu\n", static_cast<unsigned long long>(total));
}

}  // namespace

void add_inspect(CLI::App& app) {
    auto path = std::make_shared<std::string>();
    auto kv_only = std::make_shared<bool>(false);
    CLI::App* cmd = app.add_subcommand("inspect", "Show a GGUF file's architecture, metadata and tensors");
    cmd->add_option("model", *path, "GGUF model file")->required();
    cmd->add_flag("--kv-per-token", *kv_only, "print only the KV cache bytes per token");
    cmd->callback([path, kv_only] { *kv_only ? print_kv_per_token(*path) : run_inspect(*path); });
}

}  // namespace sobre::cli
