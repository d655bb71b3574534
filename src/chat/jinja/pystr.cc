#include "chat/jinja/pystr.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace sobre::chat::jinja {

std::u32string decode_utf8(std::string_view s) {
    std::u32string out;
    out.reserve(s.size());
    size_t i = 0;
    while (i < s.size()) {
        const auto b0 = static_cast<unsigned char>(s[i]);
        int len = 0;
        char32_t cp = 0;
        char32_t min = 0;
        if (b0 < 0x80) {
            out.push_back(b0);
            ++i;
            continue;
        } else if ((b0 & 0xE0) == 0xC0) {
            len = 2, cp = b0 & 0x1F, min = 0x80;
        } else if ((b0 & 0xF0) == 0xE0) {
            len = 3, cp = b0 & 0x0F, min = 0x800;
        } else if ((b0 & 0xF8) == 0xF0) {
            len = 4, cp = b0 & 0x07, min = 0x10000;
        }
        bool ok = len > 0 && i + static_cast<size_t>(len) <= s.size();
        for (int k = 1; ok && k < len; ++k) {
            const auto b = static_cast<unsigned char>(s[i + static_cast<size_t>(k)]);
            ok = (b & 0xC0) == 0x80;
            cp = (cp << 6) | (b & 0x3F);
        }
        // Overlong forms, surrogates and values past U+10FFFF are invalid, as in Python.
        ok = ok && cp >= min && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
        if (ok) {
            out.push_back(cp);
            i += static_cast<size_t>(len);
        } else {
            out.push_back(0xDC00 + b0);
            ++i;
        }
    }
    return out;
}

void append_utf8(std::string& out, char32_t cp) {
    if (cp >= 0xDC80 && cp <= 0xDCFF) {
        out.push_back(static_cast<char>(cp - 0xDC00));
    } else if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

std::string encode_utf8(std::u32string_view cps) {
    std::string out;
    out.reserve(cps.size());
    for (char32_t cp : cps) append_utf8(out, cp);
    return out;
}

size_t utf8_length(std::string_view s) {
    bool ascii = std::all_of(s.begin(), s.end(), [](char c) { return (c & 0x80) == 0; });
    return ascii ? s.size() : decode_utf8(s).size();
}

bool py_isspace(char32_t cp) {
    if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F);
    switch (cp) {
        case 0x85:
        case 0xA0:
        case 0x1680:
        case 0x2028:
        case 0x2029:
        case 0x202F:
        case 0x205F:
        case 0x3000:
            return true;
        default:
            return cp >= 0x2000 && cp <= 0x200A;
    }
}

bool py_isprintable(char32_t cp) {
    if (cp < 0x20 || (cp >= 0x7F && cp <= 0xA0) || cp == 0xAD) return false;
    if (cp < 0x600) return true;
    struct Range {
        char32_t lo, hi;
    };
    // Cf, Zs, Zl, Zp, Cs, Co and the noncharacters that occur in practice.
    static constexpr Range kNonPrintable[] = {
        {0x600, 0x605},     {0x61C, 0x61C},     {0x6DD, 0x6DD},      {0x70F, 0x70F},
        {0x8E2, 0x8E2},     {0x180E, 0x180E},   {0x1680, 0x1680},    {0x2000, 0x200F},
        {0x2028, 0x202F},   {0x205F, 0x2064},   {0x2066, 0x206F},    {0x3000, 0x3000},
        {0xD800, 0xF8FF},   {0xFEFF, 0xFEFF},   {0xFFF0, 0xFFFB},    {0xFFFE, 0xFFFF},
        {0x110BD, 0x110BD}, {0x110CD, 0x110CD}, {0x13430, 0x1343F},  {0x1BCA0, 0x1BCA3},
        {0x1D173, 0x1D17A}, {0xE0000, 0xE0FFF}, {0xF0000, 0x10FFFF},
    };
    for (const Range& r : kNonPrintable) {
        if (cp >= r.lo && cp <= r.hi) return false;
    }
    return cp <= 0x10FFFF;
}

std::string py_strip(std::string_view s, const std::string* chars, bool left, bool right) {
    const std::u32string cps = decode_utf8(s);
    std::u32string set;
    if (chars != nullptr) set = decode_utf8(*chars);
    auto strippable = [&](char32_t cp) {
        return chars == nullptr ? py_isspace(cp) : set.find(cp) != std::u32string::npos;
    };
    size_t b = 0;
    size_t e = cps.size();
    if (left) {
        while (b < e && strippable(cps[b])) ++b;
    }
    if (right) {
        while (e > b && strippable(cps[e - 1])) --e;
    }
    return encode_utf8(std::u32string_view(cps).substr(b, e - b));
}

namespace {

std::vector<std::string> split_whitespace(std::string_view s, int64_t maxsplit, bool from_right) {
    std::u32string cps = decode_utf8(s);
    if (from_right) std::reverse(cps.begin(), cps.end());
    std::vector<std::string> parts;
    size_t i = 0;
    const size_t n = cps.size();
    while (i < n) {
        while (i < n && py_isspace(cps[i])) ++i;
        if (i == n) break;
        if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
            // The remainder keeps its trailing whitespace: '  a b  '.split(None, 1) ends 'b  '.
            parts.push_back(encode_utf8(std::u32string_view(cps).substr(i)));
            break;
        }
        size_t j = i;
        while (j < n && !py_isspace(cps[j])) ++j;
        parts.push_back(encode_utf8(std::u32string_view(cps).substr(i, j - i)));
        i = j;
    }
    if (from_right) {
        std::reverse(parts.begin(), parts.end());
        for (std::string& p : parts) {
            std::u32string r = decode_utf8(p);
            std::reverse(r.begin(), r.end());
            p = encode_utf8(r);
        }
    }
    return parts;
}

}  // namespace

std::vector<std::string> py_split(std::string_view s, const std::string* sep, int64_t maxsplit,
                                  bool from_right) {
    if (sep == nullptr) return split_whitespace(s, maxsplit, from_right);
    std::vector<std::string> parts;
    if (!from_right) {
        size_t pos = 0;
        while (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) {
            const size_t hit = s.find(*sep, pos);
            if (hit == std::string_view::npos) break;
            parts.emplace_back(s.substr(pos, hit - pos));
            pos = hit + sep->size();
        }
        parts.emplace_back(s.substr(pos));
        return parts;
    }
    size_t end = s.size();
    while (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) {
        if (end < sep->size()) break;
        const size_t hit = s.rfind(*sep, end - sep->size());
        if (hit == std::string_view::npos) break;
        parts.emplace_back(s.substr(hit + sep->size(), end - hit - sep->size()));
        end = hit;
    }
    parts.emplace_back(s.substr(0, end));
    std::reverse(parts.begin(), parts.end());
    return parts;
}

std::vector<std::string> py_splitlines(std::string_view s) {
    const std::u32string cps = decode_utf8(s);
    std::vector<std::string> lines;
    std::string cur;
    size_t i = 0;
    while (i < cps.size()) {
        const char32_t cp = cps[i];
        const bool brk = cp == '\n' || cp == '\r' || cp == 0x0B || cp == 0x0C ||
                         (cp >= 0x1C && cp <= 0x1E) || cp == 0x85 || cp == 0x2028 || cp == 0x2029;
        if (brk) {
            lines.push_back(std::move(cur));
            cur.clear();
            if (cp == '\r' && i + 1 < cps.size() && cps[i + 1] == '\n') ++i;
        } else {
            append_utf8(cur, cp);
        }
        ++i;
    }
    if (!cur.empty()) lines.push_back(std::move(cur));
    return lines;
}

std::string py_replace(std::string_view s, std::string_view old_s, std::string_view new_s,
                       int64_t count) {
    std::string out;
    if (old_s.empty()) {
        // Python inserts `new` before every code point and at the end.
        const std::u32string cps = decode_utf8(s);
        int64_t done = 0;
        for (char32_t cp : cps) {
            if (count < 0 || done < count) out.append(new_s), ++done;
            append_utf8(out, cp);
        }
        if (count < 0 || done < count) out.append(new_s);
        return out;
    }
    size_t pos = 0;
    int64_t done = 0;
    while (count < 0 || done < count) {
        const size_t hit = s.find(old_s, pos);
        if (hit == std::string_view::npos) break;
        out.append(s.substr(pos, hit - pos));
        out.append(new_s);
        pos = hit + old_s.size();
        ++done;
    }
    out.append(s.substr(pos));
    return out;
}

namespace {

// Pairs of (upper, lower) that are not simple offsets.
struct CasePair {
    char32_t upper, lower;
};
constexpr CasePair kCaseExceptions[] = {{0x178, 0xFF}, {0x3A3, 0x3C2}};

bool latin_ext_a_upper(char32_t cp) {
    // U+0100..U+0137 and U+014A..U+0177 are (even upper, odd lower); U+0139..U+0148 and
    // U+0179..U+017E are (odd upper, even lower).
    if ((cp >= 0x100 && cp <= 0x137) || (cp >= 0x14A && cp <= 0x177)) return cp % 2 == 0;
    if ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E)) return cp % 2 == 1;
    return false;
}
bool latin_ext_a_cased(char32_t cp) {
    return (cp >= 0x100 && cp <= 0x137) || (cp >= 0x139 && cp <= 0x148) ||
           (cp >= 0x14A && cp <= 0x177) || (cp >= 0x179 && cp <= 0x17E);
}

}  // namespace

bool py_isupper_cp(char32_t cp) {
    if (cp < 0x80) return cp >= 'A' && cp <= 'Z';
    if (cp >= 0xC0 && cp <= 0xDE) return cp != 0xD7;
    if (latin_ext_a_cased(cp)) return latin_ext_a_upper(cp);
    if (cp == 0x178) return true;
    if (cp >= 0x391 && cp <= 0x3A9) return cp != 0x3A2;
    return cp >= 0x400 && cp <= 0x42F;
}

bool py_islower_cp(char32_t cp) {
    if (cp < 0x80) return cp >= 'a' && cp <= 'z';
    if (cp >= 0xDF && cp <= 0xFF) return cp != 0xF7;
    if (latin_ext_a_cased(cp)) return !latin_ext_a_upper(cp);
    if (cp >= 0x3B1 && cp <= 0x3C9) return true;
    return cp >= 0x430 && cp <= 0x45F;
}

char32_t py_upper(char32_t cp) {
    for (const CasePair& p : kCaseExceptions) {
        if (cp == p.lower) return p.upper;
    }
    if (!py_islower_cp(cp) || cp == 0xDF) return cp;
    if (cp < 0x80 || (cp >= 0xE0 && cp <= 0xFE) || (cp >= 0x3B1 && cp <= 0x3C9) ||
        (cp >= 0x430 && cp <= 0x44F)) {
        return cp - 0x20;
    }
    if (cp >= 0x450 && cp <= 0x45F) return cp - 0x50;
    return cp - 1;  // Latin Extended-A
}

char32_t py_lower(char32_t cp) {
    if (cp == 0x178) return 0xFF;
    if (!py_isupper_cp(cp)) return cp;
    if (cp < 0x80 || (cp >= 0xC0 && cp <= 0xDE) || (cp >= 0x391 && cp <= 0x3A9) ||
        (cp >= 0x410 && cp <= 0x42F)) {
        return cp + 0x20;
    }
    if (cp >= 0x400 && cp <= 0x40F) return cp + 0x50;
    return cp + 1;  // Latin Extended-A
}

std::string py_upper_str(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char32_t cp : decode_utf8(s)) {
        if (cp == 0xDF) {
            out.append("SS");  // Python's full case mapping: 'ß'.upper() == 'SS'
        } else {
            append_utf8(out, py_upper(cp));
        }
    }
    return out;
}

std::string py_lower_str(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char32_t cp : decode_utf8(s)) append_utf8(out, py_lower(cp));
    return out;
}

void append_py_repr(std::string& out, std::string_view s) {
    const bool has_single = s.find('\'') != std::string_view::npos;
    const bool has_double = s.find('"') != std::string_view::npos;
    const char quote = has_single && !has_double ? '"' : '\'';
    out.push_back(quote);
    char buf[16];
    for (char32_t cp : decode_utf8(s)) {
        if (cp == static_cast<char32_t>(quote) || cp == '\\') {
            out.push_back('\\');
            out.push_back(static_cast<char>(cp));
        } else if (cp == '\t') {
            out.append("\\t");
        } else if (cp == '\n') {
            out.append("\\n");
        } else if (cp == '\r') {
            out.append("\\r");
        } else if (cp >= 0xDC80 && cp <= 0xDCFF) {
            // An invalid byte: Python would hold a lone surrogate and print it as \udcXX.
            std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
            out.append(buf);
        } else if (py_isprintable(cp)) {
            append_utf8(out, cp);
        } else {
            const auto v = static_cast<unsigned>(cp);
            if (cp < 0x100) {
                std::snprintf(buf, sizeof buf, "\\x%02x", v);
            } else if (cp < 0x10000) {
                std::snprintf(buf, sizeof buf, "\\u%04x", v);
            } else {
                std::snprintf(buf, sizeof buf, "\\U%08x", v);
            }
            out.append(buf);
        }
    }
    out.push_back(quote);
}

std::string py_float_repr(double d) {
    if (std::isnan(d)) return "nan";
    if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
    if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
    char buf[64];
    // Shortest round-trip digits in scientific form: "-d.ddde+XX".
    const auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
    const std::string_view sci(buf, static_cast<size_t>(res.ptr - buf));
    const size_t epos = sci.find('e');
    std::string_view mant = sci.substr(0, epos);
    const int exp10 = std::atoi(std::string(sci.substr(epos + 1)).c_str());
    std::string out;
    if (!mant.empty() && mant[0] == '-') out.push_back('-'), mant.remove_prefix(1);
    std::string digits;
    for (char c : mant) {
        if (c != '.') digits.push_back(c);
    }
    const int decpt = exp10 + 1;  // digits d1 d2 ... = 0.d1d2... * 10^decpt
    const int nd = static_cast<int>(digits.size());
    if (decpt <= -4 || decpt > 16) {
        out.push_back(digits[0]);
        if (nd > 1) out.push_back('.'), out.append(digits, 1, std::string::npos);
        std::snprintf(buf, sizeof buf, "e%c%02d", exp10 < 0 ? '-' : '+', std::abs(exp10));
        out.append(buf);
    } else if (decpt <= 0) {
        out.append("0.");
        out.append(static_cast<size_t>(-decpt), '0');
        out.append(digits);
    } else if (decpt >= nd) {
        out.append(digits);
        out.append(static_cast<size_t>(decpt - nd), '0');
        out.append(".0");
    } else {
        out.append(digits, 0, static_cast<size_t>(decpt));
        out.push_back('.');
        out.append(digits, static_cast<size_t>(decpt), std::string::npos);
    }
    return out;
}

std::vector<int64_t> py_slice_indexes(int64_t len, const int64_t* start, const int64_t* stop,
                                      const int64_t* step) {
    const int64_t st = step ? *step : 1;
    auto clamp = [&](const int64_t* v, int64_t dflt) {
        if (v == nullptr) return dflt;
        int64_t x = *v;
        if (x < 0) x += len;
        if (st > 0) return std::clamp<int64_t>(x, 0, len);
        return std::clamp<int64_t>(x, -1, len - 1);
    };
    const int64_t b = clamp(start, st > 0 ? 0 : len - 1);
    const int64_t e = clamp(stop, st > 0 ? len : -1);
    std::vector<int64_t> idx;
    // 128-bit steps: a step near INT64_MAX must not overflow past the end.
    for (__int128 i = b; st > 0 ? i < e : i > e; i += st) idx.push_back(static_cast<int64_t>(i));
    return idx;
}

std::string html_escape(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        switch (c) {
            case '&':
                out.append("&amp;");
                break;
            case '<':
                out.append("&lt;");
                break;
            case '>':
                out.append("&gt;");
                break;
            case '"':
                out.append("&#34;");
                break;
            case '\'':
                out.append("&#39;");
                break;
            default:
                out.push_back(c);
        }
    }
    return out;
}

}  // namespace sobre::chat::jinja
