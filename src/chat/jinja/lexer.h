// Template lexer: splits source into text and tag tokens with Jinja2's whitespace rules as
// Hugging Face configures them (trim_blocks, lstrip_blocks, keep_trailing_newline=False, and the
// `-`/`+` markers), so the parser never sees whitespace that Jinja2 would have removed.
// ref: jinja2/lexer.py (Jinja2 3.1), Lexer.tokeniter.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sobre::chat::jinja {

enum class TokenKind : uint8_t {
    kText,        // template text, whitespace control already applied; never empty
    kVarBegin,    // {{
    kVarEnd,      // }}
    kBlockBegin,  // {%
    kBlockEnd,    // %}
    kName,
    kString,  // value unescaped (Python string-literal escapes)
    kInteger,
    kFloat,
    kOperator,  // + - * / // % ** ~ == != < <= > >= = . , : | ( ) [ ] { } ;
    kEof,
};

struct Token {
    TokenKind kind = TokenKind::kEof;
    std::string text;  // text, name, unescaped string, operator
    int line = 1;
    int64_t int_value = 0;
    double float_value = 0;
};

// Tokenizes a whole template (newlines normalized to \n first). `{% raw %}` blocks come back as
// text and comments are dropped. Throws Error(kInvalidArgument) naming the line for unclosed
// tags, comments or strings, unbalanced brackets and characters that start no token.
std::vector<Token> tokenize(std::string_view source);

}  // namespace sobre::chat::jinja
