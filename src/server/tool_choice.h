// tool_choice for /v1/chat/completions. "auto" lets the model decide and parses calls from its
// native syntax; "none" leaves the tools out of the prompt; "required" and a named function force
// a call by constraining the reply to JSON — {"name": ..., "arguments": {...}} for "required",
// the arguments object itself for a named function (vLLM's approach). One JSON grammar serves
// every model family, where forcing each native call syntax would need a grammar per family.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace sobre::server {

struct ToolChoice {
    enum Mode { kAuto, kNone, kRequired, kNamed } mode = kAuto;
    std::string name;  // kNamed: the function to call

    bool forced() const { return mode == kRequired || mode == kNamed; }
};

// Reads body.tool_choice against body.tools. Throws Error(kInvalidArgument) for an unknown mode,
// a forced call without tools, or a function name that is not among the tools.
ToolChoice parse_tool_choice(const nlohmann::json& body);

// The schemas a forced reply must match (any one of them). REQUIRES: choice.forced().
// Throws Error(kInvalidArgument) for a tool whose parameters use an unsupported keyword.
std::vector<nlohmann::json> forced_call_schemas(const nlohmann::json& tools, const ToolChoice& choice);

// The OpenAI tool_calls entries of a forced reply; empty when the text is not a whole call
// (generation cut short by max_tokens).
nlohmann::json forced_tool_calls(const std::string& text, const ToolChoice& choice);

}  // namespace sobre::server
