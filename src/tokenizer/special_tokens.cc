// Cutting special tokens out of the text before pre-tokenization.
#include "tokenizer/encode.h"

namespace sobre::tokenizer {
namespace {

// ASCII whitespace, as the C locale's isspace() that llama.cpp strips with.
bool is_ascii_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

// Splits one raw fragment at every occurrence of `token` (text `t`), appending to `out`.
void cut(const Vocab& vocab, int32_t token, std::string_view text, const Fragment& raw,
         std::vector<Fragment>& out) {
    const std::string_view t = vocab.tokens[static_cast<size_t>(token)].text;
    const bool lstrip = vocab.has(token, kAttrLstrip);
    const bool rstrip = vocab.has(token, kAttrRstrip);
    const std::string_view window = text.substr(0, raw.end);
    size_t pos = raw.begin;
    while (pos < raw.end) {
        const size_t match = window.find(t, pos);
        if (match == std::string_view::npos) break;
        size_t left_end = match;
        if (lstrip) {
            while (left_end > pos && is_ascii_space(text[left_end - 1])) --left_end;
        }
        if (left_end > pos) out.push_back({kNoToken, pos, left_end});
        out.push_back({token, 0, 0});
        pos = match + t.size();
        if (rstrip) {
            while (pos < raw.end && is_ascii_space(text[pos])) ++pos;
        }
    }
    if (pos < raw.end) out.push_back({kNoToken, pos, raw.end});
}

}  // namespace

std::vector<Fragment> split_special(const Vocab& vocab, std::string_view text, bool parse_special) {
    std::vector<Fragment> fragments;
    if (text.empty()) return fragments;
    fragments.push_back({kNoToken, 0, text.size()});
    std::vector<Fragment> next;
    for (const int32_t token : vocab.special_longest) {
        if (!parse_special && vocab.has(token, kAttrControl | kAttrUnknown)) continue;
        next.clear();
        for (const Fragment& f : fragments) {
            if (f.token != kNoToken) {
                next.push_back(f);
            } else {
                cut(vocab, token, text, f, next);
            }
        }
        fragments.swap(next);
    }
    return fragments;
}

}  // namespace sobre::tokenizer
