// Hostile templates: runaway recursion, loops, strings and nesting must stop with an Error
// (kResourceExhausted for limits) in bounded time and memory, and no input may crash the lexer,
// parser or runtime. Limits are lowered where the default would only make the test slower.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "render_case.h"

namespace sobre::chat {
namespace {

using testing_util::pinned_options;
using testing_util::render;
using testing_util::render_error;

std::string repeat(const std::string& s, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += s;
    return out;
}

void expect_exhausted(const std::string& tmpl, const std::string& needle,
                      const RenderOptions& options = pinned_options()) {
    const Error e = render_error(tmpl, "{}", options);
    EXPECT_EQ(e.kind(), ErrorKind::kResourceExhausted) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
}

void expect_parse_exhausted_or_invalid(const std::string& tmpl, const std::string& needle) {
    try {
        Template t(tmpl);
        ADD_FAILURE() << "parsed";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
}

TEST(Hostile, InfiniteRecursionStopsAtTheCallDepth) {
    expect_exhausted("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
                     "macro 'f' nested more than 64 calls deep");
    expect_exhausted(
        "{% macro a() %}{{ b() }}{% endmacro %}{% macro b() %}{{ a() }}{% endmacro %}{{ a() }}",
        "calls deep");
}

TEST(Hostile, ExponentialRecursionStopsAtTheStepBudget) {
    RenderOptions o = pinned_options();
    o.limits.max_steps = 200000;
    expect_exhausted(
        "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ "
        "f(60) }}",
        "evaluation steps", o);
}

TEST(Hostile, HugeRangesAndLoops) {
    expect_exhausted("{% for i in range(1000000000) %}x{% endfor %}", "range too big");
    RenderOptions o = pinned_options();
    o.limits.max_loop_iterations = 20000;
    expect_exhausted(
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "loops ran more than 20000 iterations", o);
}

TEST(Hostile, DefaultLimitsStopNestedLoops) {
    // 10^10 iterations requested; the default budget of 10^6 stops it within about a second.
    expect_exhausted(
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "loops ran more than 1000000 iterations");
}

TEST(Hostile, HugeStrings) {
    expect_exhausted("{{ 'x' * 1000000000 }}", "string repetition longer than the limit");
    expect_exhausted("{{ [1, 2] * 1000000000 }}", "list repetition longer than the limit");
    expect_exhausted(
        "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% "
        "endfor %}",
        "longer than the limit");
    expect_exhausted("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}",
                     "output longer than the limit");
    expect_exhausted("{% set s = 'ab' * 1000000 %}{{ s.replace('a', s) }}",
                     "replace() result longer than the limit");
    expect_exhausted("{% set s = 'ab' * 1000000 %}{{ ([s] * 1000) | join }}",
                     "longer than the limit");
}

TEST(Hostile, QuadraticConcatenationHitsTheWorkBudget) {
    // Each step copies the whole string: ~10^11 bytes of copying stop at the 1 GiB budget.
    expect_exhausted(
        "{% set ns = namespace(s='') %}{% for i in range(100000) %}"
        "{% set ns.s = ns.s ~ ('y' * 1000) %}{% endfor %}",
        "bytes of strings");
}

TEST(Hostile, DeepValuesAndCycles) {
    expect_exhausted(
        "{% set ns = namespace(x=[]) %}{% for i in range(1000) %}{% set ns.x = [ns.x] %}{% endfor "
        "%}",
        "value nested more than 256 levels deep");
    expect_exhausted("{% set ns = namespace() %}{% set ns.me = ns %}{{ ns }}",
                     "nested too deeply to print");
    // A namespace holding itself, and a macro held by its own scope: freed when the render ends.
    EXPECT_EQ(
        render("{% set ns = namespace() %}{% set ns.me = ns %}{% macro m() %}{% endmacro %}ok"),
        "ok");
}

TEST(Hostile, DeepNestingIsRefusedWhileParsing) {
    expect_parse_exhausted_or_invalid(repeat("{% if true %}", 1000), "nested more than");
    expect_parse_exhausted_or_invalid("{{ " + repeat("(", 200) + "1" + repeat(")", 200) + " }}",
                                      "nested more than");
    expect_parse_exhausted_or_invalid("{{ " + repeat("(", 300) + " }}",
                                      "brackets nested too deeply");
    expect_parse_exhausted_or_invalid("{{ " + repeat("[", 200) + repeat("]", 200) + " }}",
                                      "nested more than");
    expect_parse_exhausted_or_invalid("{{ " + repeat("not ", 5000) + "x }}", "nested more than");
    expect_parse_exhausted_or_invalid("{{ " + repeat("-", 5000) + "1 }}", "nested more than");
    // Flat in the source, deep as a tree: chains are measured on the tree.
    expect_parse_exhausted_or_invalid("{{ 1" + repeat(" + 1", 5000) + " }}",
                                      "expression nested more than");
    expect_parse_exhausted_or_invalid("{{ x" + repeat(".a", 5000) + " }}",
                                      "expression nested more than");
    expect_parse_exhausted_or_invalid("{{ x" + repeat(" | trim", 5000) + " }}",
                                      "expression nested more than");
    // Within the limits, long chains still work.
    EXPECT_EQ(render("{{ 0" + repeat(" + 1", 200) + " }}"), "200");
}

TEST(Hostile, HugeTemplateSourceIsRefused) {
    const std::string big(kMaxTemplateBytes + 1, 'x');
    try {
        Template t(big);
        ADD_FAILURE() << "parsed";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::kResourceExhausted);
    }
}

// Parses (and, when that works, renders) `src`; anything but an Error is a failure.
void survive(const std::string& src, const nlohmann::ordered_json& ctx) {
    RenderOptions o = pinned_options();
    o.limits.max_steps = 100000;
    try {
        const Template t(src);
        t.render(ctx, o);
    } catch (const Error&) {
    }
}

std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

TEST(Hostile, TruncatedRealTemplatesNeverCrash) {
    namespace fs = std::filesystem;
    const fs::path dir = fs::path(SOBRE_FIXTURES_DIR) / "chat_templates";
    const auto c = nlohmann::ordered_json::parse(slurp(dir / "cases" / "Qwen3-Coder.5.json"));
    const nlohmann::ordered_json ctx = context_from_case(c);
    int files = 0;
    for (const auto& e : fs::directory_iterator(dir)) {
        if (e.path().extension() != ".jinja") continue;
        ++files;
        const std::string src = slurp(e.path());
        for (size_t cut = 0; cut < src.size(); cut += 13) survive(src.substr(0, cut), ctx);
    }
    EXPECT_EQ(files, 11);
}

TEST(Hostile, RandomTokenSoupNeverCrashes) {
    static const char* kPieces[] = {
        "{{",     "}}",        "{%",       "%}",       "{#",  "#}",    "-",        "+",    "if",
        "for",    "in",        "endif",    "endfor",   "set", "macro", "endmacro", "x",    "ns",
        "(",      ")",         "[",        "]",        "{",   "}",     ",",        ":",    ".",
        "|",      "'s'",       "\"q\\n\"", "1",        "2.5", "~",     "*",        "**",   "//",
        "%",      "==",        "is",       "not",      "and", "or",    "else",     "elif", "loop",
        "tojson", "namespace", "range",    "messages", "\n",  " ",     "  ",       "raw",  "endraw",
        "break",  "continue",  "=",        "é",
    };
    std::mt19937 rng(1234);
    const nlohmann::ordered_json ctx = {{"messages", {{{"role", "user"}, {"content", "hi"}}}},
                                        {"x", 3}};
    for (int i = 0; i < 3000; ++i) {
        std::string src;
        const int n = static_cast<int>(rng() % 40);
        for (int k = 0; k < n; ++k) src += kPieces[rng() % (sizeof kPieces / sizeof kPieces[0])];
        survive(src, ctx);
    }
}

TEST(Hostile, InvalidUtf8PassesThroughAsBytes) {
    // Invalid bytes count as one character each (Python's surrogateescape) and come back out
    // unchanged.
    const std::string bad = "a\xff\xc3(b";
    const nlohmann::ordered_json ctx = {{"s", bad}};
    EXPECT_EQ(Template("{{ s }}|{{ s | length }}|{{ s[1:3] }}|{{ s | upper }}").render(ctx),
              bad + "|5|\xff\xc3|A\xff\xc3(B");
    EXPECT_EQ(Template(bad + "{{ 1 }}").render(nlohmann::ordered_json::object()), bad + "1");
}

}  // namespace
}  // namespace sobre::chat
