#include "chat/jinja/lexer.h"

#include <cctype>
#include <charconv>
#include <cstdlib>

#include "chat/jinja/pystr.h"
#include "core/error.h"

namespace sobre::chat::jinja {

namespace {

bool is_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool is_hex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

// Python's str.rstrip(): every trailing whitespace code point.
std::string rstrip_py(std::string_view s) { return py_strip(s, nullptr, false, true); }

// True when `s` is one or more whitespace code points (Python's \s+ fullmatch).
bool all_space(std::string_view s) {
    if (s.empty()) return false;
    for (char32_t cp : decode_utf8(s)) {
        if (!py_isspace(cp)) return false;
    }
    return true;
}

// \r\n and \r become \n; one trailing newline is dropped (keep_trailing_newline=False).
std::string normalize_source(std::string_view src) {
    std::string out;
    out.reserve(src.size());
    for (size_t i = 0; i < src.size(); ++i) {
        if (src[i] == '\r') {
            out.push_back('\n');
            if (i + 1 < src.size() && src[i + 1] == '\n') ++i;
        } else {
            out.push_back(src[i]);
        }
    }
    if (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
}

class Lexer {
   public:
    explicit Lexer(std::string_view src) : src_(normalize_source(src)) {}

    std::vector<Token> run() {
        while (pos_ < src_.size()) lex_root();
        push(TokenKind::kEof, "");
        return std::move(toks_);
    }

   private:
    template <class... Args>
    [[noreturn]] void error(fmt::format_string<Args...> f, Args&&... args) {
        fail(ErrorKind::kInvalidArgument, "template line {}: {}", line_,
             fmt::format(f, std::forward<Args>(args)...));
    }

    void push(TokenKind kind, std::string text) {
        Token t;
        t.kind = kind;
        t.text = std::move(text);
        t.line = line_;
        toks_.push_back(std::move(t));
    }
    void push_text(std::string text) {
        if (!text.empty()) push(TokenKind::kText, std::move(text));
    }

    bool at(size_t p, std::string_view s) const { return src_.compare(p, s.size(), s) == 0; }
    // Moves to `to`, counting newlines for error lines.
    void advance(size_t to) {
        for (size_t i = pos_; i < to; ++i) line_ += src_[i] == '\n';
        pos_ = to;
    }
    size_t skip_space(size_t p) const {
        while (p < src_.size() && is_space(src_[p])) ++p;
        return p;
    }
    // After an end tag: `line_starting` is whether the consumed tag ended with a newline.
    void finish_tag(size_t end) {
        line_starting_ = end > 0 && src_[end - 1] == '\n';
        advance(end);
    }
    // Applies `{%-` (strip all) and lstrip_blocks (strip the indentation of a tag that starts
    // its line) to the text before a tag.
    std::string strip_before(std::string_view text, char sign, bool block_like) const {
        if (sign == '-') return rstrip_py(text);
        if (sign != '+' && block_like) {
            const size_t nl = text.rfind('\n');
            const size_t l_pos = nl == std::string_view::npos ? 0 : nl + 1;
            if ((l_pos > 0 || line_starting_) && all_space(text.substr(l_pos))) {
                return std::string(text.substr(0, l_pos));
            }
        }
        return std::string(text);
    }

    void lex_root() {
        size_t tag = pos_;
        while (true) {
            tag = src_.find('{', tag);
            if (tag == std::string::npos || tag + 1 >= src_.size()) break;
            const char c = src_[tag + 1];
            if (c == '{' || c == '%' || c == '#') break;
            ++tag;
        }
        if (tag == std::string::npos || tag + 1 >= src_.size()) {
            push_text(src_.substr(pos_));
            advance(src_.size());
            return;
        }
        const char kind = src_[tag + 1];
        size_t after = tag + 2;
        char sign = 0;
        if (after < src_.size() && (src_[after] == '-' || src_[after] == '+')) sign = src_[after++];
        const std::string_view text(src_.data() + pos_, tag - pos_);
        push_text(strip_before(text, sign, kind != '{'));
        advance(after);
        if (kind == '#') {
            lex_comment();
        } else if (kind == '%' && try_raw()) {
            return;
        } else if (kind == '%') {
            push(TokenKind::kBlockBegin, "{%");
            lex_tag(true);
        } else {
            push(TokenKind::kVarBegin, "{{");
            lex_tag(false);
        }
    }

    void lex_comment() {
        const size_t h = src_.find("#}", pos_);
        if (h == std::string::npos) error("missing end of comment tag");
        const char sign = h > pos_ ? src_[h - 1] : 0;
        size_t end = h + 2;
        if (sign == '-') {
            end = space_end(end);
        } else if (sign != '+' && end < src_.size() && src_[end] == '\n') {
            ++end;
        }
        finish_tag(end);
    }

    // After `-%}`-style markers Jinja2 strips \s*, which includes non-ASCII whitespace.
    size_t space_end(size_t p) const {
        while (p < src_.size()) {
            const auto b = static_cast<unsigned char>(src_[p]);
            if (is_space(src_[p])) {
                ++p;
                continue;
            }
            if (b < 0x80) break;
            size_t len = (b & 0xE0) == 0xC0 ? 2 : (b & 0xF0) == 0xE0 ? 3 : 4;
            const std::u32string cp = decode_utf8(std::string_view(src_).substr(p, len));
            if (cp.size() != 1 || !py_isspace(cp[0])) break;
            p += len;
        }
        return p;
    }

    // `{% raw %}...{% endraw %}`: the content is text, tags inside it are not interpreted.
    bool try_raw() {
        size_t p = skip_space(pos_);
        if (!at(p, "raw")) return false;
        p = skip_space(p + 3);
        if (at(p, "-%}")) {
            p = space_end(p + 3);
        } else if (at(p, "%}")) {
            p += 2;
        } else {
            return false;
        }
        size_t search = p;
        while (true) {
            const size_t b = src_.find("{%", search);
            if (b == std::string::npos) error("missing end of raw directive");
            size_t q = b + 2;
            char sign = 0;
            if (q < src_.size() && (src_[q] == '-' || src_[q] == '+')) sign = src_[q++];
            q = skip_space(q);
            if (!at(q, "endraw")) {
                search = b + 2;
                continue;
            }
            q = skip_space(q + 6);
            size_t end;
            if (at(q, "+%}")) {
                end = q + 3;
            } else if (at(q, "-%}")) {
                end = space_end(q + 3);
            } else if (at(q, "%}")) {
                end = q + 2 + (q + 2 < src_.size() && src_[q + 2] == '\n');
            } else {
                search = b + 2;
                continue;
            }
            const std::string_view body(src_.data() + p, b - p);
            line_starting_ = false;
            push_text(strip_before(body, sign, true));
            finish_tag(end);
            return true;
        }
    }

    // Returns the end of the tag's closing marker at pos_, or 0 when there is none here.
    size_t tag_end(bool block) const {
        const size_t p = pos_;
        if (block) {
            if (at(p, "+%}")) return p + 3;
            if (at(p, "-%}")) return space_end(p + 3);
            if (at(p, "%}")) return p + 2 + (p + 2 < src_.size() && src_[p + 2] == '\n');
        } else {
            if (at(p, "-}}")) return space_end(p + 3);
            if (at(p, "}}")) return p + 2;
        }
        return 0;
    }

    void lex_tag(bool block) {
        brackets_.clear();
        while (true) {
            if (pos_ >= src_.size()) {
                error("unexpected end of template: missing '{}'", block ? "%}" : "}}");
            }
            if (brackets_.empty()) {
                if (const size_t end = tag_end(block); end != 0) {
                    push(block ? TokenKind::kBlockEnd : TokenKind::kVarEnd, block ? "%}" : "}}");
                    finish_tag(end);
                    return;
                }
            }
            const char c = src_[pos_];
            if (is_space(c)) {
                advance(skip_space(pos_));
            } else if (is_digit(c)) {
                lex_number();
            } else if (is_name_start(c)) {
                size_t e = pos_;
                while (e < src_.size() && is_name_char(src_[e])) ++e;
                push(TokenKind::kName, src_.substr(pos_, e - pos_));
                advance(e);
            } else if (c == '\'' || c == '"') {
                lex_string(c);
            } else {
                lex_operator();
            }
        }
    }

    // Digits with single underscores between them, as Python literals allow; returns the end.
    size_t digit_run(size_t p, bool (*ok)(char)) const {
        if (p >= src_.size() || !ok(src_[p])) return p;
        size_t e = p + 1;
        while (e < src_.size()) {
            if (ok(src_[e])) {
                ++e;
            } else if (src_[e] == '_' && e + 1 < src_.size() && ok(src_[e + 1])) {
                e += 2;
            } else {
                break;
            }
        }
        return e;
    }

    void lex_number() {
        const size_t start = pos_;
        const bool after_dot = start > 0 && src_[start - 1] == '.';
        size_t e = digit_run(start, is_digit);
        bool is_float = false;
        if (!after_dot) {
            size_t f = e;
            if (f + 1 < src_.size() && src_[f] == '.' && is_digit(src_[f + 1])) {
                f = digit_run(f + 1, is_digit);
                is_float = true;
            }
            if (f < src_.size() && (src_[f] == 'e' || src_[f] == 'E')) {
                size_t x = f + 1;
                if (x < src_.size() && (src_[x] == '+' || src_[x] == '-')) ++x;
                if (x < src_.size() && is_digit(src_[x]))
                    f = digit_run(x, is_digit), is_float = true;
            }
            if (is_float) e = f;
        }
        std::string lit;
        for (size_t i = start; i < e; ++i) {
            if (src_[i] != '_') lit.push_back(src_[i]);
        }
        if (is_float) {
            push(TokenKind::kFloat, lit);
            toks_.back().float_value = std::strtod(lit.c_str(), nullptr);
            advance(e);
            return;
        }
        int base = 10;
        if (src_[start] == '0' && start + 1 < src_.size()) {
            const char p =
                static_cast<char>(std::tolower(static_cast<unsigned char>(src_[start + 1])));
            base = p == 'x' ? 16 : p == 'o' ? 8 : p == 'b' ? 2 : 10;
        }
        if (base != 10) {
            // 0x_1f is valid Python: an underscore may follow the prefix.
            size_t d = start + 2;
            if (d < src_.size() && src_[d] == '_') ++d;
            e = digit_run(d, is_hex);
            lit.clear();
            for (size_t i = d; i < e; ++i) {
                if (src_[i] != '_') lit.push_back(src_[i]);
            }
            if (lit.empty()) error("invalid integer literal");
        } else if (src_[start] == '0') {
            // Python has no leading zeros: "012" lexes as 0 followed by 12, as in Jinja2.
            e = start + 1;
            while (e + 1 < src_.size() &&
                   (src_[e] == '0' || (src_[e] == '_' && src_[e + 1] == '0'))) {
                ++e;
            }
            lit.assign(1, '0');  // not operator=("0"): g++ 12 -Wrestrict false positive
        }
        int64_t v = 0;
        const auto res = std::from_chars(lit.data(), lit.data() + lit.size(), v, base);
        if (res.ec != std::errc() || res.ptr != lit.data() + lit.size()) {
            error("integer literal {} is out of range", lit);
        }
        push(TokenKind::kInteger, lit);
        toks_.back().int_value = v;
        advance(e);
    }

    void lex_string(char quote) {
        size_t e = pos_ + 1;
        while (e < src_.size() && src_[e] != quote) e += src_[e] == '\\' ? 2 : 1;
        if (e >= src_.size()) error("unterminated string literal");
        push(TokenKind::kString, unescape(std::string_view(src_).substr(pos_ + 1, e - pos_ - 1)));
        advance(e + 1);
    }

    // Python's "unicode-escape" decoding, which Jinja2 applies to string literals.
    std::string unescape(std::string_view s) {
        std::string out;
        for (size_t i = 0; i < s.size(); ++i) {
            if (s[i] != '\\' || i + 1 >= s.size()) {
                out.push_back(s[i]);
                continue;
            }
            const char c = s[++i];
            switch (c) {
                case '\n':
                    break;
                case '\\':
                case '\'':
                case '"':
                    out.push_back(c);
                    break;
                case 'a':
                    out.push_back('\a');
                    break;
                case 'b':
                    out.push_back('\b');
                    break;
                case 'f':
                    out.push_back('\f');
                    break;
                case 'n':
                    out.push_back('\n');
                    break;
                case 'r':
                    out.push_back('\r');
                    break;
                case 't':
                    out.push_back('\t');
                    break;
                case 'v':
                    out.push_back('\v');
                    break;
                case 'x':
                    append_utf8(out, hex_escape(s, i, 2));
                    break;
                case 'u':
                    append_utf8(out, hex_escape(s, i, 4));
                    break;
                case 'U':
                    append_utf8(out, hex_escape(s, i, 8));
                    break;
                case 'N':
                    error("\\N{{...}} escapes in string literals are not supported");
                default:
                    if (c >= '0' && c <= '7') {
                        append_utf8(out, octal_escape(s, i));
                    } else {
                        out.push_back('\\');
                        out.push_back(c);
                    }
            }
        }
        return out;
    }

    // \o, \oo or \ooo starting at s[i]; leaves i on its last digit.
    static char32_t octal_escape(std::string_view s, size_t& i) {
        char32_t v = 0;
        size_t k = i;
        for (; k < s.size() && k < i + 3 && s[k] >= '0' && s[k] <= '7'; ++k) {
            v = v * 8 + static_cast<char32_t>(s[k] - '0');
        }
        i = k - 1;
        return v;
    }

    char32_t hex_escape(std::string_view s, size_t& i, size_t n) {
        if (i + n >= s.size()) error("truncated \\{} escape", s[i]);
        char32_t v = 0;
        for (size_t k = 1; k <= n; ++k) {
            const char h = s[i + k];
            if (!is_hex(h)) error("truncated \\{} escape", s[i]);
            v = v * 16 +
                static_cast<char32_t>(std::isdigit(static_cast<unsigned char>(h))
                                          ? h - '0'
                                          : std::tolower(static_cast<unsigned char>(h)) - 'a' + 10);
        }
        if (v > 0x10FFFF) error("illegal Unicode character in \\U escape");
        i += n;
        return v;
    }

    void lex_operator() {
        static constexpr std::string_view kTwo[] = {"//", "**", "==", "!=", ">=", "<="};
        for (std::string_view op : kTwo) {
            if (at(pos_, op)) {
                push(TokenKind::kOperator, std::string(op));
                advance(pos_ + 2);
                return;
            }
        }
        const char c = src_[pos_];
        static constexpr std::string_view kOne = "+-/*%~[](){}><=.:|,;";
        if (kOne.find(c) == std::string_view::npos) {
            error("unexpected character '{}' in tag", std::string(1, c));
        }
        if (c == '(' || c == '[' || c == '{') {
            if (brackets_.size() >= kMaxBrackets) error("brackets nested too deeply");
            brackets_.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
        } else if (c == ')' || c == ']' || c == '}') {
            if (brackets_.empty()) error("unexpected '{}'", std::string(1, c));
            if (brackets_.back() != c) {
                error("unexpected '{}', expected '{}'", std::string(1, c),
                      std::string(1, brackets_.back()));
            }
            brackets_.pop_back();
        }
        push(TokenKind::kOperator, std::string(1, c));
        advance(pos_ + 1);
    }

    static constexpr size_t kMaxBrackets = 256;

    std::string src_;
    size_t pos_ = 0;
    int line_ = 1;
    bool line_starting_ = true;
    std::string brackets_;
    std::vector<Token> toks_;
};

}  // namespace

std::vector<Token> tokenize(std::string_view source) { return Lexer(source).run(); }

}  // namespace sobre::chat::jinja
