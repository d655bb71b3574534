// Internal to the parser: the recursive-descent Parser class, shared by parser.cc
// (statements) and expr_parser.cc (expressions). ref: jinja2/parser.py (Jinja2 3.1).
#pragma once

#include <algorithm>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "chat/jinja/ast.h"
#include "chat/jinja/lexer.h"
#include "chat/jinja/parser.h"
#include "core/error.h"

namespace sobre::chat::jinja::detail {

// Expression trees taller than this are refused. Long chains (a + b + c ..., x.a.b.c ...) build
// tall trees without nesting in the source, so height is measured on the tree itself.
constexpr int kMaxExprDepth = 256;

// Height of a node's tallest child (0 for leaves).
int children_height(const Expr& e);

class Parser {
   public:
    explicit Parser(std::vector<Token> toks) : toks_(std::move(toks)) {}

    std::unique_ptr<Program> run() {
        auto program = std::make_unique<Program>();
        parse_body(program->body, {});
        return program;
    }

   private:
    // ---- tokens ---------------------------------------------------------------------------
    const Token& cur() const { return toks_[pos_]; }
    const Token& peek() const { return toks_[std::min(pos_ + 1, toks_.size() - 1)]; }
    void advance() {
        if (pos_ + 1 < toks_.size()) ++pos_;
    }
    bool is_op(std::string_view op) const {
        return cur().kind == TokenKind::kOperator && cur().text == op;
    }
    bool is_name(std::string_view name) const {
        return cur().kind == TokenKind::kName && cur().text == name;
    }
    bool skip_op(std::string_view op) {
        if (!is_op(op)) return false;
        advance();
        return true;
    }
    bool skip_name(std::string_view name) {
        if (!is_name(name)) return false;
        advance();
        return true;
    }
    static std::string describe(const Token& t) {
        switch (t.kind) {
            case TokenKind::kEof:
                return "end of template";
            case TokenKind::kText:
                return "template text";
            case TokenKind::kBlockEnd:
                return "'%}'";
            case TokenKind::kVarEnd:
                return "'}}'";
            case TokenKind::kBlockBegin:
                return "'{%'";
            case TokenKind::kVarBegin:
                return "'{{'";
            case TokenKind::kString:
                return "a string";
            default:
                return fmt::format("'{}'", t.text);
        }
    }
    template <class... Args>
    [[noreturn]] void error(fmt::format_string<Args...> f, Args&&... args) const {
        fail(ErrorKind::kInvalidArgument, "template line {}: {}", cur().line,
             fmt::format(f, std::forward<Args>(args)...));
    }
    void expect_op(std::string_view op) {
        if (!skip_op(op)) error("expected '{}', got {}", op, describe(cur()));
    }
    std::string expect_name() {
        if (cur().kind != TokenKind::kName) error("expected a name, got {}", describe(cur()));
        std::string n = cur().text;
        advance();
        return n;
    }
    void expect_block_end() {
        if (cur().kind != TokenKind::kBlockEnd) {
            error("expected end of tag '%}}', got {}", describe(cur()));
        }
        advance();
    }

    // Counts nesting while parsing, so hostile input cannot exhaust the stack.
    struct Depth {
        explicit Depth(Parser& p) : p_(p) {
            if (++p_.depth_ > kMaxParseDepth) {
                p_.error("template nested more than {} levels deep", kMaxParseDepth);
            }
        }
        ~Depth() { --p_.depth_; }
        Depth(const Depth&) = delete;
        Depth& operator=(const Depth&) = delete;
        Parser& p_;
    };

    // Records a finished node's height and refuses trees that are too tall.
    template <class T>
    std::unique_ptr<T> seal(std::unique_ptr<T> e) {
        e->depth = children_height(*e) + 1;
        if (e->depth > kMaxExprDepth) {
            error("expression nested more than {} levels deep", kMaxExprDepth);
        }
        return e;
    }

    // ---- statements (parser.cc) ----------------------------------------------------------
    // Parses statements until a tag named in `ends` (returned, with `{%` and the name consumed)
    // or the end of input (returns "" when `ends` is empty, else fails).
    std::string parse_body(Body& out, std::initializer_list<std::string_view> ends);
    StmtPtr parse_statement(const std::string& name, int line,
                            std::initializer_list<std::string_view> outer_ends);
    StmtPtr parse_if(int line);
    StmtPtr parse_for(int line);
    StmtPtr parse_set(int line);
    StmtPtr parse_macro(int line);
    StmtPtr parse_filter_block(int line);
    StmtPtr parse_with(int line);
    // An assignment target: `name`, `a, b` / `(a, b)`, or (for set) `ns.attr`.
    Target parse_target(bool allow_attr, std::string_view end_name);

    // ---- expressions (expr_parser.cc) ----------------------------------------------------
    bool is_tuple_end(std::string_view end_name) const;
    // Comma-separated expressions: a tuple when there is a comma, else the one expression.
    ExprPtr parse_tuple(bool with_condexpr, std::string_view end_name,
                        bool explicit_parens = false);
    ExprPtr parse_expression(bool with_condexpr);
    ExprPtr parse_or();
    ExprPtr parse_and();
    ExprPtr parse_not();
    ExprPtr parse_compare();
    // Left-associative binary levels, loosest first: + -, then ~, then * / // %, then **.
    ExprPtr parse_math1();
    ExprPtr parse_binary_level(int level);
    ExprPtr parse_unary(bool with_filter);
    ExprPtr parse_primary();
    ExprPtr parse_name();
    ExprPtr parse_list_literal(int line);
    ExprPtr parse_dict_literal(int line);
    ExprPtr parse_postfix(ExprPtr e);
    // One subscript: an expression or a slice start:stop:step.
    ExprPtr parse_subscribed();
    ExprPtr parse_call(ExprPtr callee);
    void parse_call_args(Args& args);
    ExprPtr parse_filter_expr(ExprPtr e);
    std::string dotted_name();
    // `| f(args) | g ...`; with `inline_first` the first filter has no leading pipe.
    ExprPtr parse_filters(ExprPtr value, bool inline_first);
    ExprPtr parse_test(ExprPtr value);

    std::vector<Token> toks_;
    size_t pos_ = 0;
    int depth_ = 0;
    int loop_depth_ = 0;              // for break/continue checks
    std::vector<MacroStmt*> macros_;  // macros being parsed, innermost last
};

}  // namespace sobre::chat::jinja::detail
