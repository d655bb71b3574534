#include "server/json_constraint.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"

namespace sobre::server {
namespace {

using nlohmann::json;

bool accepts(const json* schema, const std::string& doc, bool want_complete = true) {
    JsonMachine m(schema);
    return m.feed(doc) && m.complete() == want_complete;
}

const json kSchema = json::parse(R"({"type": "object", "additionalProperties": false, "required": ["ok", "tags"],
    "properties": {"ok": {"type": "boolean"}, "tags": {"type": "array", "items": {"type": "string"}},
                   "n": {"type": "integer"}, "x": {"type": ["number", "null"]}, "c": {"enum": ["red", 12]}}})");

TEST(JsonMachine, AcceptsDocumentsOfTheSchema) {
    EXPECT_TRUE(accepts(&kSchema, R"({"ok":true,"tags":[]})"));
    EXPECT_TRUE(accepts(&kSchema, R"({"tags":["a\"b\u00e9","\n"],"ok":false,"n":-120})"));
    EXPECT_TRUE(accepts(&kSchema, R"({"ok":true,"tags":["x"],"x":-1.5e+3})"));
    EXPECT_TRUE(accepts(&kSchema, R"({"ok":true,"tags":[],"x":null,"c":"red"})"));
    EXPECT_TRUE(accepts(&kSchema, R"({"ok":true,"tags":[],"c":12})"));
}

TEST(JsonMachine, RejectsAnythingElseAtTheFirstWrongByte) {
    EXPECT_FALSE(accepts(&kSchema, R"({"ok":true})"));                       // '}' before required "tags"
    EXPECT_FALSE(accepts(&kSchema, R"({"ok":1,"tags":[]})"));                // wrong type
    EXPECT_FALSE(accepts(&kSchema, R"({"extra":1})"));                       // unknown key
    EXPECT_FALSE(accepts(&kSchema, R"({"ok":true,"ok":true})"));             // a key twice
    EXPECT_FALSE(accepts(&kSchema, R"({"ok":true,"tags":[],"n":1.5})"));     // integer
    EXPECT_FALSE(accepts(&kSchema, R"({"ok":true,"tags":[],"c":"blue"})"));  // enum
    EXPECT_FALSE(accepts(&kSchema, R"({ "ok":true,"tags":[]})"));            // compact: no whitespace
    EXPECT_FALSE(accepts(&kSchema, R"({"ok":true,"tags":[01]})"));
    EXPECT_FALSE(accepts(&kSchema, "{\"ok\":true,\"tags\":[\"\x01\"]}"));   // raw control char
    JsonMachine m(&kSchema);
    EXPECT_TRUE(m.feed(R"({"ok":tr)"));
    EXPECT_FALSE(m.complete());
    EXPECT_FALSE(m.feed('x'));
}

TEST(JsonMachine, JsonObjectModeTakesAnyObject) {
    EXPECT_TRUE(accepts(nullptr, R"({"a":[1,{"b":null}],"c":"d"})"));
    EXPECT_FALSE(accepts(nullptr, R"([1])"));
    EXPECT_TRUE(accepts(nullptr, R"({"a":1)", false));
}

TEST(JsonMachine, UnsupportedKeywordsAreNamed) {
    const json s = json::parse(R"({"type": "string", "pattern": "^a"})");
    try {
        JsonMachine m(&s);
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("'pattern'"), std::string::npos);
    }
}

TEST(MaskLogits, OnlyContinuationsSurviveAndEndOnlyWhenComplete) {
    const std::vector<std::string> pieces = {"", "{\"ok\":", "true", "x", ",\"tags\":[]}", "}"};
    const std::vector<bool> eog = {true, false, false, false, false, false};
    JsonMachine m(&kSchema);
    ASSERT_TRUE(m.feed(R"({"ok":)"));
    float logits[6] = {1, 1, 1, 1, 1, 1};
    mask_logits(m, pieces, eog, logits, 6);
    EXPECT_TRUE(std::isinf(logits[0]));  // not complete: no end
    EXPECT_TRUE(std::isinf(logits[1]));
    EXPECT_EQ(logits[2], 1);
    EXPECT_TRUE(std::isinf(logits[3]));
    ASSERT_TRUE(m.feed(R"(true,"tags":[]})"));
    float end[6] = {1, 1, 1, 1, 1, 1};
    mask_logits(m, pieces, eog, end, 6);
    EXPECT_EQ(end[0], 1);
    for (int i = 1; i < 6; ++i) EXPECT_TRUE(std::isinf(end[i]));
}

}  // namespace
}  // namespace sobre::server
