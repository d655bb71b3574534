// libFuzzer target for the chat-template engine (lexer, parser, runtime): every input must parse
// or throw sobre::Error, and a template that parses must render or throw Error. Any other
// exception escapes and is reported as a crash; the sanitizers turn over-reads, overflows,
// leaks (reference cycles included) and stack exhaustion into findings. Limits are small so
// runaway templates end quickly instead of tripping libFuzzer's timeout.
#include <cstddef>
#include <cstdint>
#include <string>

#include "chat/template.h"
#include "core/error.h"

namespace {

// A conversation with a system prompt, tools, a tool call and its result, so fuzzed templates
// reach the same values the real ones do.
const nlohmann::ordered_json& context() {
    static const nlohmann::ordered_json ctx = nlohmann::ordered_json::parse(R"({
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Weather in Zürich? 😀"},
            {"role": "assistant", "content": "", "reasoning_content": "Need a tool.",
             "tool_calls": [{"id": "call_1", "type": "function", "function": {
                 "name": "get_weather",
                 "arguments": {"city": "Zürich", "days": 3, "ok": true}}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "{\"t\": -3.5}"},
            {"role": "assistant", "content": "<think>x</think>Cold."}
        ],
        "tools": [{"type": "function", "function": {
            "name": "get_weather", "description": "Weather.",
            "parameters": {"type": "object", "required": ["city"], "properties": {
                "city": {"type": "string"}, "days": {"type": "integer", "enum": [1, 3]}}}}}],
        "add_generation_prompt": true, "enable_thinking": false,
        "bos_token": "<s>", "eos_token": "</s>"
    })");
    return ctx;
}

sobre::chat::RenderOptions options() {
    sobre::chat::RenderOptions o;
    o.limits.max_output_bytes = 1 << 16;
    o.limits.max_loop_iterations = 5000;
    o.limits.max_list_items = 5000;
    o.limits.max_steps = 50000;
    o.limits.max_work_bytes = 1 << 22;
    std::tm t{};
    t.tm_year = 125;
    t.tm_mday = 15;
    o.now = t;  // deterministic: strftime_now does not read the clock
    return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const sobre::chat::RenderOptions kOptions = options();
    const std::string source(reinterpret_cast<const char*>(data), size);
    try {
        const sobre::chat::Template tmpl(source);
        const std::string out = tmpl.render(context(), kOptions);
        // Keeps the render from being optimized away.
        volatile size_t sink = out.size();
        (void)sink;
    } catch (const sobre::Error&) {
        // The contract: bad or runaway templates are an Error, nothing else.
    }
    return 0;
}
