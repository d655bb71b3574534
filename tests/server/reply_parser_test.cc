// Tool calls and reasoning parsed from each family's native output format.
#include "chat/reply_parser.h"

#include <gtest/gtest.h>

namespace sobre::chat {
namespace {

using nlohmann::json;

json args_of(const Reply& r, size_t i) { return json::parse(r.tool_calls[i]["function"]["arguments"].get<std::string>()); }

TEST(ReplyFormat, DetectedFromTheTemplate) {
    EXPECT_EQ(detect_reply_format("{{ '<tool_call>' }}{{ tool | tojson }}"), ReplyFormat::kHermes);
    EXPECT_EQ(detect_reply_format("<tool_call>\n<function={{ name }}>"), ReplyFormat::kQwen3Coder);
    EXPECT_EQ(detect_reply_format("<minimax:tool_call>"), ReplyFormat::kMiniMaxM2);
    EXPECT_EQ(detect_reply_format("<tool_call>{{ name }}<arg_key>"), ReplyFormat::kGlm45);
    EXPECT_EQ(detect_reply_format("<|tool_calls_section_begin|>"), ReplyFormat::kKimiK2);
    EXPECT_EQ(detect_reply_format("<｜tool▁calls▁begin｜>"), ReplyFormat::kDeepSeek);
    EXPECT_EQ(detect_reply_format("<|start_header_id|>ipython"), ReplyFormat::kLlama3);
    EXPECT_EQ(detect_reply_format("{{ messages }}"), ReplyFormat::kPlain);
}

TEST(ParseReply, Hermes) {
    const Reply r = parse_reply(ReplyFormat::kHermes,
                                "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>",
                                true);
    EXPECT_EQ(r.content, "Let me check.");
    ASSERT_EQ(r.tool_calls.size(), 1u);
    EXPECT_EQ(r.tool_calls[0]["function"]["name"], "get_weather");
    EXPECT_EQ(args_of(r, 0), json({{"city", "Paris"}}));
    EXPECT_EQ(r.tool_calls[0]["type"], "function");
}

TEST(ParseReply, ToolsNotOfferedLeaveTheTextAlone) {
    const std::string text = "<tool_call>{\"name\": \"x\", \"arguments\": {}}</tool_call>";
    EXPECT_EQ(parse_reply(ReplyFormat::kHermes, text, false).content, text);
    EXPECT_TRUE(parse_reply(ReplyFormat::kHermes, text, false).tool_calls.empty());
}

TEST(ParseReply, MalformedCallStaysContent) {
    const std::string text = "<tool_call>{not json}</tool_call>";
    const Reply r = parse_reply(ReplyFormat::kHermes, text, true);
    EXPECT_TRUE(r.tool_calls.empty());
    EXPECT_EQ(r.content, text);
}

TEST(ParseReply, Qwen3CoderXml) {
    const Reply r = parse_reply(ReplyFormat::kQwen3Coder,
                                "<tool_call>\n<function=add>\n<parameter=a>\n1\n</parameter>\n<parameter=b>\ntwo\n</parameter>\n</function>\n</tool_call>",
                                true);
    ASSERT_EQ(r.tool_calls.size(), 1u);
    EXPECT_EQ(r.tool_calls[0]["function"]["name"], "add");
    EXPECT_EQ(args_of(r, 0), json({{"a", 1}, {"b", "two"}}));
}

TEST(ParseReply, Glm45) {
    const Reply r = parse_reply(ReplyFormat::kGlm45,
                                "<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Oslo</arg_value>\n</tool_call>", true);
    ASSERT_EQ(r.tool_calls.size(), 1u);
    EXPECT_EQ(args_of(r, 0), json({{"city", "Oslo"}}));
}

TEST(ParseReply, MiniMaxM2TwoCalls) {
    const Reply r = parse_reply(ReplyFormat::kMiniMaxM2,
                                "<minimax:tool_call>\n<invoke name=\"a\">\n<parameter name=\"x\">3</parameter>\n</invoke>\n"
                                "<invoke name=\"b\">\n</invoke>\n</minimax:tool_call>",
                                true);
    ASSERT_EQ(r.tool_calls.size(), 2u);
    EXPECT_EQ(args_of(r, 0), json({{"x", 3}}));
    EXPECT_EQ(r.tool_calls[1]["function"]["name"], "b");
    EXPECT_EQ(r.tool_calls[1]["id"], "call_1");
}

TEST(ParseReply, DeepSeekV3AndV31) {
    const Reply v3 = parse_reply(ReplyFormat::kDeepSeek,
                                 "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{\"city\": \"Rome\"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
                                 true);
    ASSERT_EQ(v3.tool_calls.size(), 1u);
    EXPECT_EQ(v3.tool_calls[0]["function"]["name"], "get_weather");
    EXPECT_EQ(args_of(v3, 0), json({{"city", "Rome"}}));
    const Reply v31 = parse_reply(ReplyFormat::kDeepSeek,
                                  "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{\"city\": \"Rome\"}<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
                                  true);
    EXPECT_EQ(args_of(v31, 0), json({{"city", "Rome"}}));
}

TEST(ParseReply, KimiK2) {
    const Reply r = parse_reply(ReplyFormat::kKimiK2,
                                "<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0<|tool_call_argument_begin|>{\"city\": \"Lima\"}<|tool_call_end|><|tool_calls_section_end|>",
                                true);
    ASSERT_EQ(r.tool_calls.size(), 1u);
    EXPECT_EQ(r.tool_calls[0]["function"]["name"], "get_weather");
    EXPECT_EQ(r.tool_calls[0]["id"], "functions.get_weather:0");
}

TEST(ParseReply, Llama3JsonReply) {
    const Reply r = parse_reply(ReplyFormat::kLlama3, "{\"name\": \"f\", \"parameters\": {\"a\": 1}}", true);
    ASSERT_EQ(r.tool_calls.size(), 1u);
    EXPECT_EQ(args_of(r, 0), json({{"a", 1}}));
    EXPECT_EQ(r.content, "");
}

TEST(Thinking, SplitAndPrefixesGrowMonotonically) {
    const std::string reply = "<think>\nstep one\n</think>\n\nThe answer.";
    const Reply r = parse_reply(ReplyFormat::kHermes, reply, false);
    EXPECT_EQ(r.reasoning, "step one\n");
    EXPECT_EQ(r.content, "The answer.");
    std::string last_r, last_c;
    for (size_t n = 0; n <= reply.size(); ++n) {
        const ThinkSplit s = split_thinking(reply.substr(0, n), false, false);
        EXPECT_EQ(s.reasoning.compare(0, last_r.size(), last_r), 0) << n;
        EXPECT_EQ(s.content.compare(0, last_c.size(), last_c), 0) << n;
        last_r = s.reasoning;
        last_c = s.content;
    }
    EXPECT_EQ(r.reasoning.compare(0, last_r.size(), last_r), 0);
}

TEST(Thinking, PromptOpenedTheTag) {
    const Reply r = parse_reply(ReplyFormat::kDeepSeek, "plan it\n</think>done", false, true);
    EXPECT_EQ(r.reasoning, "plan it\n");
    EXPECT_EQ(r.content, "done");
    EXPECT_EQ(parse_reply(ReplyFormat::kPlain, "no thinking here", false).content, "no thinking here");
}

}  // namespace
}  // namespace sobre::chat
