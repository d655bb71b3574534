// Splits a model's raw reply into content, reasoning and tool calls, in the model family's own
// output format (chosen from its chat template). ref: the formats as the models' templates and
// llama.cpp's common/chat.cpp describe them.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace sobre::chat {

enum class ReplyFormat : uint8_t {
    kPlain,       // no tool-call syntax known: everything is content
    kHermes,      // <tool_call>{"name": ..., "arguments": {...}}</tool_call> (Qwen2.5, Qwen3, many)
    kQwen3Coder,  // <tool_call><function=NAME><parameter=K>V</parameter></function></tool_call>
    kLlama3,      // a bare {"name": ..., "parameters": {...}} reply, optionally after <|python_tag|>
    kDeepSeek,    // <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>[function<｜tool▁sep｜>]NAME ... (V3, R1, V3.1+)
    kKimiK2,      // <|tool_calls_section_begin|><|tool_call_begin|>functions.NAME:i<|tool_call_argument_begin|>{...}
    kGlm45,       // <tool_call>NAME<arg_key>K</arg_key><arg_value>V</arg_value></tool_call>
    kMiniMaxM2,   // <minimax:tool_call><invoke name="NAME"><parameter name="K">V</parameter></invoke>
};

// The family's format, recognised from markers in its chat template.
ReplyFormat detect_reply_format(std::string_view chat_template);
const char* reply_format_name(ReplyFormat f);

struct Reply {
    std::string content;
    std::string reasoning;  // text inside <think>...</think> (or before a lone </think>)
    nlohmann::json tool_calls = nlohmann::json::array();  // [{id, type: "function", function: {name, arguments}}]
};

// Reasoning and content of a (possibly partial) reply. Reasoning is the text between <think> and
// </think> (the prompt may already have opened the tag: `opened`), without leading whitespace;
// content is what follows </think> without leading whitespace, or the whole reply when it does
// not think. For a partial reply (`final` false) both are prefixes of their final values, so a
// stream can send the growth of each and end with exactly what parse_reply returns.
struct ThinkSplit {
    std::string reasoning;
    std::string content;
};
ThinkSplit split_thinking(const std::string& text, bool opened, bool final);

// Parses a complete reply. Tool calls are extracted only when `tools_offered`; text that looks
// like a call but does not parse stays in the content.
Reply parse_reply(ReplyFormat format, const std::string& text, bool tools_offered, bool think_opened = false);

}  // namespace sobre::chat
