// `sobre template`: renders a chat template for one conversation and prints the prompt text
// exactly, with nothing added: the text the model would be tokenized from.
#include "chat/template.h"

#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "cli/common.h"
#include "core/error.h"
#include "gguf/reader.h"

namespace sobre::cli {
namespace {

struct TemplateArgs {
    std::string template_file;
    std::string model;
    std::string case_file;
};

// The text of the special token whose id `id_key` holds, or nullopt when the model sets none.
std::optional<std::string> special_token(const gguf::File& f, std::string_view id_key) {
    const std::optional<uint32_t> id = f.get_u32(id_key);
    if (!id) return std::nullopt;
    const gguf::Value* tokens = f.get_array("tokenizer.ggml.tokens");
    if (tokens == nullptr || tokens->elem_type != gguf::ValueType::kString ||
        *id >= tokens->strings.size()) {
        fail(ErrorKind::kCorrupt, "{}: {} = {} is not an id in tokenizer.ggml.tokens ({} tokens)",
             f.path(), id_key, *id, tokens == nullptr ? 0 : tokens->size());
    }
    return tokens->strings[*id];
}

void run_template(const TemplateArgs& a) {
    if (a.template_file.empty() == a.model.empty()) {
        fail(ErrorKind::kInvalidArgument,
             "give exactly one of --template FILE.jinja and --model MODEL.gguf");
    }
    nlohmann::ordered_json c;
    try {
        c = nlohmann::ordered_json::parse(read_file(a.case_file));
    } catch (const nlohmann::json::exception& e) {
        fail(ErrorKind::kInvalidArgument, "{}: invalid JSON: {}", a.case_file, e.what());
    }
    nlohmann::ordered_json ctx = chat::context_from_case(c);
    std::string source;
    if (!a.model.empty()) {
        const gguf::File f = gguf::File::open(a.model);
        std::optional<std::string> tmpl = f.get_string("tokenizer.chat_template");
        if (!tmpl)
            fail(ErrorKind::kNotFound, "{}: the model has no tokenizer.chat_template", a.model);
        source = std::move(*tmpl);
        // The model's own special tokens win over the case's, as when serving the model.
        if (auto bos = special_token(f, "tokenizer.ggml.bos_token_id")) ctx["bos_token"] = *bos;
        if (auto eos = special_token(f, "tokenizer.ggml.eos_token_id")) ctx["eos_token"] = *eos;
    } else {
        source = read_file(a.template_file);
    }
    const std::string out = chat::Template(source).render(ctx);
    if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size() || std::fflush(stdout) != 0) {
        fail(ErrorKind::kIo, "stdout: write failed");
    }
}

}  // namespace

void add_template(CLI::App& app) {
    auto args = std::make_shared<TemplateArgs>();
    CLI::App* cmd = app.add_subcommand(
        "template", "Render a chat template for a conversation and print the prompt text");
    CLI::Option* tmpl =
        cmd->add_option("--template", args->template_file, "Jinja chat template file");
    CLI::Option* model =
        cmd->add_option("-m,--model", args->model, "GGUF model: use its tokenizer.chat_template");
    tmpl->excludes(model);
    cmd->add_option(
           "--case", args->case_file,
           "JSON conversation: messages, tools, add_generation_prompt, extra, bos_token, eos_token")
        ->required();
    cmd->callback([args] { run_template(*args); });
}

}  // namespace sobre::cli
