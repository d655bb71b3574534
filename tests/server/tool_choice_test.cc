#include "server/tool_choice.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "server/json_constraint.h"

namespace sobre::server {
namespace {

using nlohmann::json;

const json kTools = json::parse(R"([
  {"type": "function", "function": {"name": "set_unit", "parameters": {"type": "object",
    "additionalProperties": false, "required": ["unit"], "properties": {"unit": {"enum": ["c", "f"]}}}}},
  {"type": "function", "function": {"name": "ping"}}])");

json body_with(const json& choice) { return {{"tools", kTools}, {"tool_choice", choice}}; }

TEST(ToolChoice, ReadsEveryMode) {
    EXPECT_EQ(parse_tool_choice(json::object()).mode, ToolChoice::kAuto);
    EXPECT_EQ(parse_tool_choice(body_with("auto")).mode, ToolChoice::kAuto);
    EXPECT_EQ(parse_tool_choice(body_with("none")).mode, ToolChoice::kNone);
    EXPECT_EQ(parse_tool_choice(body_with("required")).mode, ToolChoice::kRequired);
    const ToolChoice named = parse_tool_choice(body_with({{"type", "function"}, {"function", {{"name", "ping"}}}}));
    EXPECT_EQ(named.mode, ToolChoice::kNamed);
    EXPECT_EQ(named.name, "ping");
}

TEST(ToolChoice, RefusesWhatCannotBeForced) {
    EXPECT_THROW(parse_tool_choice(body_with("maybe")), Error);
    EXPECT_THROW(parse_tool_choice(body_with({{"type", "function"}, {"function", {{"name", "nope"}}}})), Error);
    EXPECT_THROW(parse_tool_choice(json{{"tool_choice", "required"}}), Error);
    EXPECT_THROW(parse_tool_choice(json{{"tool_choice", "required"}, {"tools", json::array({1})}}), Error);
}

// The forced reply's grammar takes exactly the calls the tools allow.
TEST(ToolChoice, RequiredAcceptsAnyToolsCallAndNothingElse) {
    const ToolChoice c = parse_tool_choice(body_with("required"));
    const JsonMachine proto(forced_call_schemas(kTools, c));
    auto accepts = [&](const std::string& doc) {
        JsonMachine m = proto;
        return m.feed(doc) && m.complete();
    };
    EXPECT_TRUE(accepts(R"({"name":"set_unit","arguments":{"unit":"f"}})"));
    EXPECT_TRUE(accepts(R"({"arguments":{"anything":[1]},"name":"ping"})"));
    EXPECT_FALSE(accepts(R"({"name":"set_unit","arguments":{"unit":"k"}})"));
    EXPECT_FALSE(accepts(R"({"name":"set_unit","arguments":{"anything":1}})"));
    EXPECT_FALSE(accepts(R"({"name":"other","arguments":{}})"));
    EXPECT_FALSE(accepts(R"({"name":"ping"})"));
}

TEST(ToolChoice, NamedConstrainsTheArgumentsAlone) {
    const ToolChoice c = parse_tool_choice(body_with({{"type", "function"}, {"function", {{"name", "set_unit"}}}}));
    JsonMachine m(forced_call_schemas(kTools, c));
    EXPECT_FALSE(JsonMachine(m).feed(R"({"name")"));
    EXPECT_TRUE(m.feed(R"({"unit":"c"})") && m.complete());
}

TEST(ToolChoice, RepliesBecomeToolCalls) {
    const ToolChoice required = parse_tool_choice(body_with("required"));
    const json calls = forced_tool_calls(R"({"name":"set_unit","arguments":{"unit":"f"}})", required);
    ASSERT_EQ(calls.size(), 1u);
    EXPECT_EQ(calls[0]["function"]["name"], "set_unit");
    EXPECT_EQ(json::parse(calls[0]["function"]["arguments"].get<std::string>()), json({{"unit", "f"}}));
    const ToolChoice named = parse_tool_choice(body_with({{"type", "function"}, {"function", {{"name", "ping"}}}}));
    EXPECT_EQ(forced_tool_calls(R"({"x":1})", named)[0]["function"]["name"], "ping");
    EXPECT_TRUE(forced_tool_calls(R"({"name":"set_unit","argu)", required).empty());  // cut by max_tokens
}

}  // namespace
}  // namespace sobre::server
