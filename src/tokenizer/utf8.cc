#include "tokenizer/utf8.h"

namespace sobre::tokenizer::utf8 {
namespace {

bool is_continuation(uint8_t b) { return (b & 0xC0) == 0x80; }

// The range the second byte of a sequence must lie in, given its lead (RFC 3629 table);
// this is what excludes overlongs, surrogates and code points past U+10FFFF.
void second_byte_range(uint8_t lead, uint8_t& lo, uint8_t& hi) {
    lo = 0x80;
    hi = 0xBF;
    if (lead == 0xE0) lo = 0xA0;
    if (lead == 0xED) hi = 0x9F;
    if (lead == 0xF0) lo = 0x90;
    if (lead == 0xF4) hi = 0x8F;
}

// Length a lead byte announces for a well-formed sequence; 0 if it cannot start one.
size_t announced_length(uint8_t lead) {
    if (lead < 0x80) return 1;
    if (lead >= 0xC2 && lead <= 0xDF) return 2;
    if (lead >= 0xE0 && lead <= 0xEF) return 3;
    if (lead >= 0xF0 && lead <= 0xF4) return 4;
    return 0;
}

// Number of bytes after the lead, up to `avail`, that are consistent with a well-formed
// sequence of length `n`.
size_t consistent_bytes(std::string_view s, size_t pos, size_t n) {
    const auto lead = static_cast<uint8_t>(s[pos]);
    size_t k = 1;
    for (; k < n && pos + k < s.size(); ++k) {
        const auto b = static_cast<uint8_t>(s[pos + k]);
        if (k == 1) {
            uint8_t lo = 0;
            uint8_t hi = 0;
            second_byte_range(lead, lo, hi);
            if (b < lo || b > hi) break;
        } else if (!is_continuation(b)) {
            break;
        }
    }
    return k;
}

}  // namespace

size_t valid_length(std::string_view s, size_t pos) {
    const size_t n = announced_length(static_cast<uint8_t>(s[pos]));
    if (n <= 1) return n;
    return consistent_bytes(s, pos, n) == n ? n : 0;
}

bool is_valid(std::string_view s) {
    for (size_t pos = 0; pos < s.size();) {
        const size_t n = valid_length(s, pos);
        if (n == 0) return false;
        pos += n;
    }
    return true;
}

size_t incomplete_tail(std::string_view s) {
    // A cut-short sequence has its lead within the last 3 bytes.
    for (size_t back = 1; back <= 3 && back <= s.size(); ++back) {
        const size_t pos = s.size() - back;
        const auto b = static_cast<uint8_t>(s[pos]);
        if (is_continuation(b)) continue;
        const size_t n = announced_length(b);
        if (n <= back) return 0;  // ASCII, invalid lead, or a sequence that is already whole
        return consistent_bytes(s, pos, n) == back ? back : 0;
    }
    return 0;
}

void append(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

}  // namespace sobre::tokenizer::utf8
