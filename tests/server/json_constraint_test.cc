#include "server/json_constraint.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

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
    const ConstraintVocab vocab({"", "{\"ok\":", "true", "x", ",\"tags\":[]}", "}"}, {true, false, false, false, false, false});
    JsonMachine m(&kSchema);
    ASSERT_TRUE(m.feed(R"({"ok":)"));
    float logits[6] = {1, 1, 1, 1, 1, 1};
    mask_logits(m, vocab, logits, 6);
    EXPECT_TRUE(std::isinf(logits[0]));  // not complete: no end
    EXPECT_TRUE(std::isinf(logits[1]));
    EXPECT_EQ(logits[2], 1);
    EXPECT_TRUE(std::isinf(logits[3]));
    ASSERT_TRUE(m.feed(R"(true,"tags":[]})"));
    float end[6] = {1, 1, 1, 1, 1, 1};
    mask_logits(m, vocab, end, 6);
    EXPECT_EQ(end[0], 1);
    for (int i = 1; i < 6; ++i) EXPECT_TRUE(std::isinf(end[i]));
}

// The shortcuts (first-byte filter, free text in strings) decide exactly as feeding every token.
TEST(MaskLogits, ShortcutsAgreeWithTryingEveryToken) {
    const std::string alphabet = "{}[]\":,\\ab okntrueflsgx0123-.e\n";
    std::mt19937 rng(7);
    std::vector<std::string> pieces;
    std::vector<bool> eog;
    for (int i = 0; i < 3000; ++i) {
        std::string p;
        const int len = 1 + static_cast<int>(rng() % 5);
        for (int k = 0; k < len; ++k) p += alphabet[rng() % alphabet.size()];
        pieces.push_back(p);
        eog.push_back(i % 500 == 0);
    }
    const ConstraintVocab vocab(pieces, eog);
    const std::string doc = R"({"tags":["a b","x\"y"],"ok":true,"n":-12,"c":"red","x":null})";
    JsonMachine m(&kSchema);
    for (size_t at = 0; at <= doc.size(); ++at) {
        std::vector<float> logits(pieces.size(), 1.0f);
        mask_logits(m, vocab, logits.data(), static_cast<int64_t>(pieces.size()));
        bool any = false;
        for (size_t i = 0; i < pieces.size(); ++i) {
            JsonMachine trial = m;
            const bool ok = !eog[i] && trial.feed(pieces[i]);
            any |= ok;
            if (!eog[i]) {
                EXPECT_EQ(!std::isinf(logits[i]), ok) << "after " << doc.substr(0, at) << " token " << pieces[i];
            }
        }
        for (size_t i = 0; i < pieces.size(); ++i) {
            if (eog[i]) {
                EXPECT_EQ(!std::isinf(logits[i]), m.complete() || !any);
            }
        }
        if (at < doc.size()) {
            ASSERT_TRUE(m.feed(static_cast<unsigned char>(doc[at])));
        }
    }
}

}  // namespace
}  // namespace sobre::server
