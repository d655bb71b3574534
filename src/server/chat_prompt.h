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

    // The prompt text for `body` (messages, tools, and template variables such as
    // enable_thinking in chat_template_kwargs). Throws Error(kInvalidArgument) naming the field
    // for malformed messages and when the template raises an error.
    std::string render(const nlohmann::json& body) const;
    // Splits generated text into content / reasoning / tool calls (tool calls only when the
    // request offered tools).
    ParsedReply parse(const std::string& text, bool tools_offered) const;

   private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace sobre::server
