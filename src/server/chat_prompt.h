// The model's own chat template (tokenizer.chat_template) applied to OpenAI messages, and the
// model's reply split back into content, reasoning and tool calls in its native format.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "gguf/reader.h"
#include "tokenizer/tokenizer.h"

namespace sobre::server {

struct ParsedReply {
    std::string content;
    std::string reasoning;   // "" when the model did not think aloud
    nlohmann::json tool_calls = nlohmann::json::array();  // OpenAI tool_calls entries
};

class ChatPrompt {
   public:
    // Reads the template from the file. Throws Error(kUnsupported) when the file has none.
    ChatPrompt(const gguf::File& file, const tokenizer::Tokenizer& tok);
    ~ChatPrompt();

    struct Rendered {
        std::string text;
        bool think_opened = false;  // the prompt ends inside <think>: the reply starts thinking
    };
    // The prompt for a request body (raw JSON, parsed keeping key order, which templates print):
    // messages, tools, and template variables from chat_template_kwargs (enable_thinking, ...).
    // Throws Error(kInvalidArgument) naming the field for malformed messages or when the template
    // raises an error, Error(kUnsupported) when the model has no chat template.
    // `with_tools` false leaves the request's tools out of the prompt (tool_choice "none").
    Rendered render(const std::string& raw_body, bool with_tools = true) const;
    // Splits generated text into content / reasoning / tool calls (tool calls only when the
    // request offered tools).
    ParsedReply parse(const std::string& text, bool tools_offered, bool think_opened) const;
    // The reasoning / content split of a partial reply, for streaming (see chat::split_thinking).
    static std::pair<std::string, std::string> split_partial(const std::string& text, bool think_opened);

   private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace sobre::server
