// Chat templates: renders the Jinja template a model ships (tokenizer.chat_template) for
// OpenAI-style messages, byte-exact with Hugging Face's apply_chat_template(tokenize=False).
//
//   const sobre::chat::Template t(gguf.get_string("tokenizer.chat_template").value());
//   nlohmann::ordered_json ctx = {{"messages", messages}, {"add_generation_prompt", true},
//                                 {"bos_token", "<s>"}};
//   std::string prompt = t.render(ctx);
//
// The engine is our own (src/chat/jinja: lexer, parser, values, runtime). It runs Jinja2's
// semantics as transformers configures them: trim_blocks, lstrip_blocks, an immutable sandbox,
// Hugging Face's tojson, raise_exception() and strftime_now().
#pragma once

#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "chat/jinja/limits.h"

namespace sobre::chat {

namespace jinja {
struct Program;
}  // namespace jinja

using RenderLimits = jinja::RenderLimits;

// Templates larger than this are refused before parsing (real ones are tens of kilobytes).
constexpr size_t kMaxTemplateBytes = 4u << 20;

struct RenderOptions {
    RenderLimits limits;
    // What strftime_now() formats; the current local time when unset.
    std::optional<std::tm> now;
};

// A template parsed once and rendered many times. render() is const and keeps its state in the
// call, so one Template may render on several threads at once.
class Template {
   public:
    // Parses `source`. Throws Error(kInvalidArgument) "template line N: ..." for syntax errors
    // and Error(kResourceExhausted) for a source over kMaxTemplateBytes.
    explicit Template(std::string_view source);
    ~Template();
    Template(Template&&) noexcept;
    Template& operator=(Template&&) noexcept;

    // Renders with the context's top-level keys as variables (messages, tools,
    // add_generation_prompt, bos_token, enable_thinking, ...). Keys absent from the context are
    // undefined in the template; null values are defined and none. Object key order is kept,
    // which `tojson` and loops over dicts print, so pass an ordered_json parsed from the request.
    // Throws Error "template line N: ..." when rendering fails: raise_exception() (the
    // template's own message), Python type errors, unknown filters/tests/methods
    // (kUnsupported, naming them) and exceeded limits (kResourceExhausted).
    std::string render(const nlohmann::ordered_json& context,
                       const RenderOptions& options = {}) const;
    // Same, for a json whose objects were parsed into std::map: keys come out sorted.
    std::string render(const nlohmann::json& context, const RenderOptions& options = {}) const;

   private:
    std::shared_ptr<const jinja::Program> program_;
};

// Parses and renders in one call.
std::string render_chat(const std::string& template_src, const nlohmann::ordered_json& context,
                        const RenderOptions& options = {});
std::string render_chat(const std::string& template_src, const nlohmann::json& context,
                        const RenderOptions& options = {});

// Builds a render context from a request in the shape of the chat-template fixtures:
// {messages, tools (null: passed as none), add_generation_prompt, extra: {...} (merged as
// top-level variables), bos_token, eos_token (null or absent: left undefined, as HF does)}.
// Throws Error(kInvalidArgument) when messages is missing or not an array.
nlohmann::ordered_json context_from_case(const nlohmann::ordered_json& c);

}  // namespace sobre::chat
