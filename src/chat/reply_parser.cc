#include "chat/reply_parser.h"

#include <algorithm>
#include <regex>
#include <vector>

namespace sobre::chat {
namespace {

using nlohmann::json;

bool has(std::string_view s, std::string_view marker) { return s.find(marker) != std::string_view::npos; }

std::string trim(const std::string& s) {
    const size_t a = s.find_first_not_of(" \t\r\n");
    if (a == std::string::npos) return "";
    const size_t b = s.find_last_not_of(" \t\r\n");
    return s.substr(a, b - a + 1);
}

// A tool call entry with a stable id; arguments are always a JSON string, as OpenAI sends them.
json call(size_t index, const std::string& name, const json& arguments) {
    return {{"id", "call_" + std::to_string(index)},
            {"type", "function"},
            {"function", {{"name", name}, {"arguments", arguments.is_string() ? arguments.get<std::string>() : arguments.dump()}}}};
}

// XML-style parameter values: JSON when they parse as JSON (numbers, objects, true), else text.
json xml_value(const std::string& raw) {
    const std::string v = trim(raw);
    json parsed = json::parse(v, nullptr, false);
    return parsed.is_discarded() ? json(v) : parsed;
}

// Finds every `open ... close` block; returns the inner texts and removes the blocks from text.
std::vector<std::string> take_blocks(std::string& text, const std::string& open, const std::string& close) {
    std::vector<std::string> inner;
    std::string rest;
    size_t pos = 0;
    for (;;) {
        const size_t a = text.find(open, pos);
        if (a == std::string::npos) break;
        const size_t b = text.find(close, a + open.size());
        if (b == std::string::npos) break;
        rest += text.substr(pos, a - pos);
        inner.push_back(text.substr(a + open.size(), b - a - open.size()));
        pos = b + close.size();
    }
    if (inner.empty()) return inner;
    text = rest + text.substr(pos);
    return inner;
}

bool parse_hermes(std::string& text, json& calls) {
    std::string work = text;
    for (const std::string& block : take_blocks(work, "<tool_call>", "</tool_call>")) {
        const json j = json::parse(trim(block), nullptr, false);
        if (j.is_discarded() || !j.is_object() || !j.contains("name") || !j["name"].is_string()) return false;
        calls.push_back(call(calls.size(), j["name"], j.value("arguments", json::object())));
    }
    text = work;
    return true;
}

bool parse_xml_params(const std::string& body, const std::regex& param, json& args) {
    for (std::sregex_iterator it(body.begin(), body.end(), param), end; it != end; ++it) {
        args[(*it)[1].str()] = xml_value((*it)[2].str());
    }
    return true;
}

bool parse_qwen3_coder(std::string& text, json& calls) {
    std::string work = text;
    static const std::regex fn(R"re(<function=([^>\n]+)>([\s\S]*?)</function>)re");
    static const std::regex param(R"re(<parameter=([^>\n]+)>([\s\S]*?)</parameter>)re");
    for (const std::string& block : take_blocks(work, "<tool_call>", "</tool_call>")) {
        std::smatch m;
        if (!std::regex_search(block, m, fn)) return false;
        json args = json::object();
        parse_xml_params(m[2].str(), param, args);
        calls.push_back(call(calls.size(), trim(m[1].str()), args));
    }
    text = work;
    return true;
}

bool parse_glm45(std::string& text, json& calls) {
    std::string work = text;
    static const std::regex param(R"re(<arg_key>([\s\S]*?)</arg_key>\s*<arg_value>([\s\S]*?)</arg_value>)re");
    for (const std::string& block : take_blocks(work, "<tool_call>", "</tool_call>")) {
        const size_t first = block.find("<arg_key>");
        const std::string name = trim(block.substr(0, first));
        if (name.empty()) return false;
        json args = json::object();
        parse_xml_params(first == std::string::npos ? "" : block.substr(first), param, args);
        calls.push_back(call(calls.size(), name, args));
    }
    text = work;
    return true;
}

bool parse_minimax(std::string& text, json& calls) {
    std::string work = text;
    static const std::regex invoke(R"re(<invoke name="([^"]+)">([\s\S]*?)</invoke>)re");
    static const std::regex param(R"re(<parameter name="([^"]+)">([\s\S]*?)</parameter>)re");
    for (const std::string& block : take_blocks(work, "<minimax:tool_call>", "</minimax:tool_call>")) {
        for (std::sregex_iterator it(block.begin(), block.end(), invoke), end; it != end; ++it) {
            json args = json::object();
            parse_xml_params((*it)[2].str(), param, args);
            calls.push_back(call(calls.size(), (*it)[1].str(), args));
        }
    }
    text = work;
    return true;
}

bool parse_deepseek(std::string& text, json& calls) {
    static const std::string kBegin = "<｜tool▁calls▁begin｜>", kEnd = "<｜tool▁calls▁end｜>";
    static const std::string kCall = "<｜tool▁call▁begin｜>", kCallEnd = "<｜tool▁call▁end｜>", kSep = "<｜tool▁sep｜>";
    std::string work = text;
    for (const std::string& section : take_blocks(work, kBegin, kEnd)) {
        std::string s = section;
        for (const std::string& c : take_blocks(s, kCall, kCallEnd)) {
            const size_t sep = c.find(kSep);
            if (sep == std::string::npos) return false;
            std::string head = c.substr(0, sep), rest = c.substr(sep + kSep.size());
            std::string name;
            if (trim(head) == "function") {  // V3 / R1: function<sep>NAME\n```json\n{...}\n```
                const size_t nl = rest.find('\n');
                name = trim(rest.substr(0, nl));
                rest = nl == std::string::npos ? "" : rest.substr(nl + 1);
                const size_t a = rest.find("```json"), b = rest.rfind("```");
                if (a != std::string::npos && b != std::string::npos && b > a) rest = rest.substr(a + 7, b - a - 7);
            } else {  // V3.1+: NAME<sep>{...}
                name = trim(head);
            }
            const json args = json::parse(trim(rest), nullptr, false);
            if (name.empty() || args.is_discarded()) return false;
            calls.push_back(call(calls.size(), name, args));
        }
    }
    text = work;
    return true;
}

bool parse_kimi(std::string& text, json& calls) {
    std::string work = text;
    for (const std::string& section : take_blocks(work, "<|tool_calls_section_begin|>", "<|tool_calls_section_end|>")) {
        std::string s = section;
        for (const std::string& c : take_blocks(s, "<|tool_call_begin|>", "<|tool_call_end|>")) {
            const size_t arg = c.find("<|tool_call_argument_begin|>");
            if (arg == std::string::npos) return false;
            std::string id = trim(c.substr(0, arg));  // functions.NAME:INDEX
            const size_t dot = id.find('.'), colon = id.rfind(':');
            const std::string name = id.substr(dot == std::string::npos ? 0 : dot + 1,
                                               colon == std::string::npos ? std::string::npos : colon - (dot + 1));
            const json args = json::parse(trim(c.substr(arg + 28)), nullptr, false);
            if (name.empty() || args.is_discarded()) return false;
            json entry = call(calls.size(), name, args);
            entry["id"] = id;
            calls.push_back(entry);
        }
    }
    text = work;
    return true;
}

bool parse_llama3(std::string& text, json& calls) {
    std::string body = trim(text);
    if (body.rfind("<|python_tag|>", 0) == 0) body = trim(body.substr(14));
    const json j = json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("name") || !j["name"].is_string()) return true;
    calls.push_back(call(0, j["name"], j.contains("parameters") ? j["parameters"] : j.value("arguments", json::object())));
    text.clear();
    return true;
}

std::string lstrip(const std::string& s) {
    const size_t a = s.find_first_not_of(" \t\r\n");
    return a == std::string::npos ? "" : s.substr(a);
}

// Length of the longest suffix of `s` that is a proper prefix of `tag` (a tag still arriving).
size_t partial_tag(const std::string& s, const std::string& tag) {
    for (size_t n = std::min(s.size(), tag.size() - 1); n > 0; --n) {
        if (s.compare(s.size() - n, n, tag, 0, n) == 0) return n;
    }
    return 0;
}

}  // namespace

ThinkSplit split_thinking(const std::string& text, bool opened, bool final) {
    static const std::string kOpen = "<think>", kClose = "</think>";
    ThinkSplit out;
    std::string body = text;
    if (!opened) {
        const std::string head = lstrip(text);
        if (head.rfind(kOpen, 0) != 0) {
            // Not (yet) thinking: a reply that may still turn out to open the tag is held.
            if (!final && head.size() < kOpen.size() && kOpen.compare(0, head.size(), head) == 0) return out;
            out.content = text;
            return out;
        }
        body = head.substr(kOpen.size());
    }
    const size_t close = body.find(kClose);
    if (close == std::string::npos) {
        const size_t hold = final ? 0 : partial_tag(body, kClose);
        out.reasoning = lstrip(body.substr(0, body.size() - hold));
        return out;
    }
    out.reasoning = lstrip(body.substr(0, close));
    out.content = lstrip(body.substr(close + kClose.size()));
    return out;
}

ReplyFormat detect_reply_format(std::string_view t) {
    if (has(t, "minimax:tool_call")) return ReplyFormat::kMiniMaxM2;
    if (has(t, "tool_calls_section_begin")) return ReplyFormat::kKimiK2;
    if (has(t, "tool▁calls▁begin")) return ReplyFormat::kDeepSeek;
    if (has(t, "<arg_key>")) return ReplyFormat::kGlm45;
    if (has(t, "<tool_call>") && has(t, "<function=")) return ReplyFormat::kQwen3Coder;
    if (has(t, "<tool_call>")) return ReplyFormat::kHermes;
    if (has(t, "<|python_tag|>") || has(t, "ipython")) return ReplyFormat::kLlama3;
    return ReplyFormat::kPlain;
}

const char* reply_format_name(ReplyFormat f) {
    switch (f) {
        case ReplyFormat::kPlain: return "plain";
        case ReplyFormat::kHermes: return "hermes";
        case ReplyFormat::kQwen3Coder: return "qwen3-coder";
        case ReplyFormat::kLlama3: return "llama3";
        case ReplyFormat::kDeepSeek: return "deepseek";
        case ReplyFormat::kKimiK2: return "kimi-k2";
        case ReplyFormat::kGlm45: return "glm-4.5";
        case ReplyFormat::kMiniMaxM2: return "minimax-m2";
    }
    return "plain";
}

Reply parse_reply(ReplyFormat format, const std::string& text, bool tools_offered, bool think_opened) {
    Reply r;
    ThinkSplit split = split_thinking(text, think_opened, true);
    r.reasoning = std::move(split.reasoning);
    std::string body = std::move(split.content);
    if (tools_offered) {
        json calls = json::array();
        std::string work = body;
        bool ok = true;
        switch (format) {
            case ReplyFormat::kPlain: break;
            case ReplyFormat::kHermes: ok = parse_hermes(work, calls); break;
            case ReplyFormat::kQwen3Coder: ok = parse_qwen3_coder(work, calls); break;
            case ReplyFormat::kLlama3: ok = parse_llama3(work, calls); break;
            case ReplyFormat::kDeepSeek: ok = parse_deepseek(work, calls); break;
            case ReplyFormat::kKimiK2: ok = parse_kimi(work, calls); break;
            case ReplyFormat::kGlm45: ok = parse_glm45(work, calls); break;
            case ReplyFormat::kMiniMaxM2: ok = parse_minimax(work, calls); break;
        }
        if (ok && !calls.empty()) {
            r.tool_calls = calls;
            body = trim(work);
        }
    }
    r.content = std::move(body);
    return r;
}

}  // namespace sobre::chat
