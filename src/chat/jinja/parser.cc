// Statement grammar: the tags ({% if %}, {% for %}, {% set %}, {% macro %}, ...) and their
// bodies. Expressions are parsed in expr_parser.cc.
#include "chat/jinja/parser.h"

#include "chat/jinja/parser_impl.h"

namespace sobre::chat::jinja {

namespace detail {

namespace {

// Tags Jinja2 knows that a chat template has no use for (no loader, no i18n, no `do`).
constexpr std::string_view kUnsupportedTags[] = {
    "block", "extends", "include", "import", "from", "call", "autoescape", "do", "trans",
};

// The tag that closes a block: of {"elif", "else", "endif"}, "endif".
std::string_view closing_tag(std::initializer_list<std::string_view> ends) {
    for (std::string_view e : ends) {
        if (e.substr(0, 3) == "end") return e;
    }
    return *ends.begin();
}

}  // namespace

// Parses statements until a tag named in `ends` (returned, with `{%` and the name consumed)
// or the end of input (returns "" when `ends` is empty, else fails).
std::string Parser::parse_body(Body& out, std::initializer_list<std::string_view> ends) {
    while (true) {
        const Token& t = cur();
        switch (t.kind) {
            case TokenKind::kText:
                out.push_back(std::make_unique<TextStmt>(t.line, t.text));
                advance();
                break;
            case TokenKind::kVarBegin: {
                const int line = t.line;
                advance();
                ExprPtr e = parse_tuple(true, {});
                if (cur().kind != TokenKind::kVarEnd) {
                    error("expected end of print statement '}}}}', got {}", describe(cur()));
                }
                advance();
                out.push_back(std::make_unique<OutputStmt>(line, std::move(e)));
                break;
            }
            case TokenKind::kBlockBegin: {
                advance();
                if (cur().kind != TokenKind::kName)
                    error("expected a tag name, got {}", describe(cur()));
                const std::string name = cur().text;
                const int line = cur().line;
                advance();
                if (std::find(ends.begin(), ends.end(), name) != ends.end()) return name;
                out.push_back(parse_statement(name, line, ends));
                break;
            }
            case TokenKind::kEof:
                if (ends.size() != 0) {
                    error("unexpected end of template: expected '{}'", closing_tag(ends));
                }
                return "";
            default:
                error("unexpected {}", describe(t));
        }
    }
}

StmtPtr Parser::parse_statement(const std::string& name, int line,
                                std::initializer_list<std::string_view> outer_ends) {
    Depth depth(*this);
    if (name == "if") return parse_if(line);
    if (name == "for") return parse_for(line);
    if (name == "set") return parse_set(line);
    if (name == "macro") return parse_macro(line);
    if (name == "filter") return parse_filter_block(line);
    if (name == "with") return parse_with(line);
    if (name == "generation") {
        auto s = std::make_unique<ScopeStmt>(line);
        expect_block_end();
        parse_body(s->body, {"endgeneration"});
        expect_block_end();
        return s;
    }
    if (name == "break" || name == "continue") {
        if (loop_depth_ == 0) error("'{}' outside of a loop", name);
        expect_block_end();
        return std::make_unique<Stmt>(name == "break" ? Stmt::Kind::kBreak : Stmt::Kind::kContinue,
                                      line);
    }
    for (std::string_view tag : kUnsupportedTags) {
        if (name == tag) error("tag '{}' is not supported in chat templates", name);
    }
    if (outer_ends.size() != 0) {
        error("unknown tag '{}' (the innermost open block expects '{}')", name,
              closing_tag(outer_ends));
    }
    error("unknown tag '{}'", name);
}

StmtPtr Parser::parse_if(int line) {
    auto s = std::make_unique<IfStmt>(line);
    ExprPtr cond = parse_tuple(false, {});
    while (true) {
        expect_block_end();
        Body body;
        const std::string end = parse_body(body, {"elif", "else", "endif"});
        s->branches.emplace_back(std::move(cond), std::move(body));
        if (end == "elif") {
            cond = parse_tuple(false, {});
            continue;
        }
        if (end == "else") {
            expect_block_end();
            parse_body(s->otherwise, {"endif"});
        }
        expect_block_end();
        return s;
    }
}

StmtPtr Parser::parse_for(int line) {
    auto s = std::make_unique<ForStmt>(line);
    s->target = parse_target(false, "in");
    if (!skip_name("in")) error("expected 'in' in for loop, got {}", describe(cur()));
    s->iter = parse_tuple(false, "recursive");
    if (skip_name("if")) s->filter = parse_expression(true);
    if (is_name("recursive")) error("recursive for loops are not supported");
    expect_block_end();
    ++loop_depth_;
    const std::string end = parse_body(s->body, {"endfor", "else"});
    --loop_depth_;
    if (end == "else") {
        expect_block_end();
        parse_body(s->otherwise, {"endfor"});
    }
    expect_block_end();
    return s;
}

StmtPtr Parser::parse_set(int line) {
    Target target = parse_target(true, "");
    if (skip_op("=")) {
        auto s = std::make_unique<SetStmt>(line);
        s->target = std::move(target);
        s->value = parse_tuple(true, {});
        expect_block_end();
        return s;
    }
    auto s = std::make_unique<SetBlockStmt>(line);
    s->target = std::move(target);
    if (is_op("|")) s->filter = parse_filters(nullptr, false);
    expect_block_end();
    parse_body(s->body, {"endset"});
    expect_block_end();
    return s;
}

StmtPtr Parser::parse_macro(int line) {
    auto s = std::make_unique<MacroStmt>(line);
    s->name = expect_name();
    expect_op("(");
    while (!is_op(")")) {
        if (!s->params.empty()) expect_op(",");
        if (is_op(")")) break;
        std::string param = expect_name();
        if (std::find(s->params.begin(), s->params.end(), param) != s->params.end()) {
            error("duplicate macro parameter '{}'", param);
        }
        ExprPtr dflt;
        if (skip_op("=")) {
            dflt = parse_expression(true);
        } else if (!s->defaults.empty() && s->defaults.back() != nullptr) {
            error("non-default argument '{}' follows default argument", param);
        }
        s->params.push_back(std::move(param));
        s->defaults.push_back(std::move(dflt));
    }
    expect_op(")");
    expect_block_end();
    const int saved_loops = loop_depth_;
    loop_depth_ = 0;
    macros_.push_back(s.get());
    parse_body(s->body, {"endmacro"});
    macros_.pop_back();
    loop_depth_ = saved_loops;
    expect_block_end();
    return s;
}

StmtPtr Parser::parse_filter_block(int line) {
    auto s = std::make_unique<FilterBlockStmt>(line);
    s->filter = parse_filters(nullptr, true);
    expect_block_end();
    parse_body(s->body, {"endfilter"});
    expect_block_end();
    return s;
}

StmtPtr Parser::parse_with(int line) {
    auto s = std::make_unique<WithStmt>(line);
    while (cur().kind != TokenKind::kBlockEnd) {
        if (!s->assigns.empty()) expect_op(",");
        Target t = parse_target(false, "");
        expect_op("=");
        s->assigns.emplace_back(std::move(t), parse_expression(true));
    }
    expect_block_end();
    parse_body(s->body, {"endwith"});
    expect_block_end();
    return s;
}

// An assignment target: `name`, `a, b` / `(a, b)`, or (for set) `ns.attr`.
Target Parser::parse_target(bool allow_attr, std::string_view end_name) {
    Target t;
    if (allow_attr && cur().kind == TokenKind::kName && peek().kind == TokenKind::kOperator &&
        peek().text == ".") {
        t.names.push_back(expect_name());
        advance();
        t.attr = expect_name();
        return t;
    }
    const bool paren = skip_op("(");
    while (true) {
        if (cur().kind != TokenKind::kName || is_name(end_name)) {
            error("can't assign to {}", describe(cur()));
        }
        t.names.push_back(expect_name());
        if (!skip_op(",")) break;
        t.unpack = true;
        if (is_op(")") || is_name(end_name) || is_op("=")) break;
    }
    if (paren) {
        expect_op(")");
        t.unpack = t.unpack || t.names.size() > 1;
    }
    return t;
}

}  // namespace detail

std::unique_ptr<Program> parse(std::vector<Token> tokens) {
    return detail::Parser(std::move(tokens)).run();
}

}  // namespace sobre::chat::jinja
