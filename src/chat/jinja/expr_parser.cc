// Expression grammar, loosest binding first: condexpr, or, and, not, compare, + -, ~, * / // %,
// **, unary, then primary with postfix (.attr [item] (call)) and filters/tests.
#include "chat/jinja/parser_impl.h"

namespace sobre::chat::jinja::detail {

namespace {

int height(const ExprPtr& e) { return e ? e->depth : 0; }

int args_height(const Args& a) {
    int h = 0;
    for (const ExprPtr& e : a.pos) h = std::max(h, height(e));
    for (const auto& [k, e] : a.kw) h = std::max(h, height(e));
    return h;
}

bool compare_token(std::string_view t, CompareOp* op) {
    if (t == "==") return *op = CompareOp::kEq, true;
    if (t == "!=") return *op = CompareOp::kNe, true;
    if (t == "<") return *op = CompareOp::kLt, true;
    if (t == "<=") return *op = CompareOp::kLe, true;
    if (t == ">") return *op = CompareOp::kGt, true;
    if (t == ">=") return *op = CompareOp::kGe, true;
    return false;
}

}  // namespace

int children_height(const Expr& e) {
    switch (e.kind) {
        case Expr::Kind::kList: {
            int h = 0;
            for (const ExprPtr& c : static_cast<const ListExpr&>(e).items)
                h = std::max(h, height(c));
            return h;
        }
        case Expr::Kind::kDict: {
            int h = 0;
            for (const auto& [k, v] : static_cast<const DictExpr&>(e).items) {
                h = std::max({h, height(k), height(v)});
            }
            return h;
        }
        case Expr::Kind::kAttr:
            return height(static_cast<const AttrExpr&>(e).obj);
        case Expr::Kind::kItem: {
            const auto& x = static_cast<const ItemExpr&>(e);
            return std::max(height(x.obj), height(x.index));
        }
        case Expr::Kind::kSlice: {
            const auto& x = static_cast<const SliceExpr&>(e);
            return std::max({height(x.start), height(x.stop), height(x.step)});
        }
        case Expr::Kind::kCall: {
            const auto& x = static_cast<const CallExpr&>(e);
            return std::max(height(x.callee), args_height(x.args));
        }
        case Expr::Kind::kFilter: {
            const auto& x = static_cast<const FilterExpr&>(e);
            return std::max(height(x.value), args_height(x.args));
        }
        case Expr::Kind::kTest: {
            const auto& x = static_cast<const TestExpr&>(e);
            return std::max(height(x.value), args_height(x.args));
        }
        case Expr::Kind::kUnary:
            return height(static_cast<const UnaryExpr&>(e).operand);
        case Expr::Kind::kBinary: {
            const auto& x = static_cast<const BinaryExpr&>(e);
            return std::max(height(x.left), height(x.right));
        }
        case Expr::Kind::kCompare: {
            const auto& x = static_cast<const CompareExpr&>(e);
            int h = height(x.first);
            for (const auto& [op, c] : x.rest) h = std::max(h, height(c));
            return h;
        }
        case Expr::Kind::kCond: {
            const auto& x = static_cast<const CondExpr&>(e);
            return std::max({height(x.test), height(x.then), height(x.otherwise)});
        }
        default:
            return 0;
    }
}

bool Parser::is_tuple_end(std::string_view end_name) const {
    const TokenKind k = cur().kind;
    return k == TokenKind::kVarEnd || k == TokenKind::kBlockEnd || k == TokenKind::kEof ||
           is_op(")") || (!end_name.empty() && is_name(end_name));
}

// Comma-separated expressions: a tuple when there is a comma, else the one expression.
ExprPtr Parser::parse_tuple(bool with_condexpr, std::string_view end_name, bool explicit_parens) {
    const int line = cur().line;
    std::vector<ExprPtr> items;
    bool is_tuple = false;
    while (true) {
        if (!items.empty()) expect_op(",");
        if (is_tuple_end(end_name)) break;
        items.push_back(parse_expression(with_condexpr));
        if (is_op(",")) {
            is_tuple = true;
        } else {
            break;
        }
    }
    if (!is_tuple) {
        if (!items.empty()) return std::move(items[0]);
        if (!explicit_parens) error("expected an expression, got {}", describe(cur()));
    }
    auto t = std::make_unique<ListExpr>(line, true);
    t->items = std::move(items);
    return seal(std::move(t));
}

ExprPtr Parser::parse_expression(bool with_condexpr) {
    Depth depth(*this);
    if (!with_condexpr) return parse_or();
    ExprPtr e = parse_or();
    while (is_name("if")) {
        const int line = cur().line;
        advance();
        ExprPtr test = parse_or();
        ExprPtr otherwise;
        if (skip_name("else")) otherwise = parse_expression(true);
        e = seal(
            std::make_unique<CondExpr>(line, std::move(test), std::move(e), std::move(otherwise)));
    }
    return e;
}

ExprPtr Parser::parse_or() {
    ExprPtr e = parse_and();
    while (is_name("or")) {
        const int line = cur().line;
        advance();
        e = seal(std::make_unique<BinaryExpr>(line, BinaryOp::kOr, std::move(e), parse_and()));
    }
    return e;
}

ExprPtr Parser::parse_and() {
    ExprPtr e = parse_not();
    while (is_name("and")) {
        const int line = cur().line;
        advance();
        e = seal(std::make_unique<BinaryExpr>(line, BinaryOp::kAnd, std::move(e), parse_not()));
    }
    return e;
}

ExprPtr Parser::parse_not() {
    if (is_name("not")) {
        Depth depth(*this);
        const int line = cur().line;
        advance();
        return seal(std::make_unique<UnaryExpr>(line, UnaryOp::kNot, parse_not()));
    }
    return parse_compare();
}

ExprPtr Parser::parse_compare() {
    const int line = cur().line;
    ExprPtr first = parse_math1();
    std::unique_ptr<CompareExpr> cmp;
    while (true) {
        CompareOp op;
        if (cur().kind == TokenKind::kOperator && compare_token(cur().text, &op)) {
            advance();
        } else if (is_name("in")) {
            op = CompareOp::kIn;
            advance();
        } else if (is_name("not") && peek().kind == TokenKind::kName && peek().text == "in") {
            op = CompareOp::kNotIn;
            advance();
            advance();
        } else {
            break;
        }
        if (!cmp) cmp = std::make_unique<CompareExpr>(line, std::move(first));
        cmp->rest.emplace_back(op, parse_math1());
    }
    if (!cmp) return first;
    return seal(std::move(cmp));
}

ExprPtr Parser::parse_math1() { return parse_binary_level(0); }

ExprPtr Parser::parse_binary_level(int level) {
    struct Op {
        int level;
        std::string_view text;
        BinaryOp op;
    };
    static constexpr Op kOps[] = {
        {0, "+", BinaryOp::kAdd}, {0, "-", BinaryOp::kSub},  {1, "~", BinaryOp::kConcat},
        {2, "*", BinaryOp::kMul}, {2, "/", BinaryOp::kDiv},  {2, "//", BinaryOp::kFloorDiv},
        {2, "%", BinaryOp::kMod}, {3, "**", BinaryOp::kPow},
    };
    if (level == 4) return parse_unary(true);
    ExprPtr e = parse_binary_level(level + 1);
    while (cur().kind == TokenKind::kOperator) {
        const Op* hit = nullptr;
        for (const Op& o : kOps) {
            if (o.level == level && o.text == cur().text) hit = &o;
        }
        if (hit == nullptr) break;
        const int line = cur().line;
        advance();
        e = seal(std::make_unique<BinaryExpr>(line, hit->op, std::move(e),
                                              parse_binary_level(level + 1)));
    }
    return e;
}

ExprPtr Parser::parse_unary(bool with_filter) {
    Depth depth(*this);
    const int line = cur().line;
    ExprPtr e;
    if (skip_op("-")) {
        e = seal(std::make_unique<UnaryExpr>(line, UnaryOp::kNeg, parse_unary(false)));
    } else if (skip_op("+")) {
        e = seal(std::make_unique<UnaryExpr>(line, UnaryOp::kPos, parse_unary(false)));
    } else {
        e = parse_primary();
    }
    e = parse_postfix(std::move(e));
    if (with_filter) e = parse_filter_expr(std::move(e));
    return e;
}

ExprPtr Parser::parse_primary() {
    Depth depth(*this);
    const Token& t = cur();
    const int line = t.line;
    switch (t.kind) {
        case TokenKind::kName:
            return parse_name();
        case TokenKind::kString: {
            std::string s;
            while (cur().kind == TokenKind::kString) {  // adjacent literals concatenate
                s += cur().text;
                advance();
            }
            return seal(std::make_unique<LiteralExpr>(line, Value::string(std::move(s))));
        }
        case TokenKind::kInteger: {
            const int64_t v = t.int_value;
            advance();
            return seal(std::make_unique<LiteralExpr>(line, Value::integer(v)));
        }
        case TokenKind::kFloat: {
            const double v = t.float_value;
            advance();
            return seal(std::make_unique<LiteralExpr>(line, Value::number(v)));
        }
        default:
            break;
    }
    if (skip_op("(")) {
        ExprPtr e = parse_tuple(true, {}, true);
        expect_op(")");
        return e;
    }
    if (skip_op("[")) return parse_list_literal(line);
    if (skip_op("{")) return parse_dict_literal(line);
    error("unexpected {}", describe(t));
}

// A name, or one of the constants Jinja2 spells as names (true/True, false/False, none/None).
ExprPtr Parser::parse_name() {
    const int line = cur().line;
    std::string n = expect_name();
    if (n == "true" || n == "True")
        return seal(std::make_unique<LiteralExpr>(line, Value::boolean(true)));
    if (n == "false" || n == "False") {
        return seal(std::make_unique<LiteralExpr>(line, Value::boolean(false)));
    }
    if (n == "none" || n == "None") return seal(std::make_unique<LiteralExpr>(line, Value::none()));
    if (!macros_.empty() && (n == "varargs" || n == "kwargs")) {
        MacroStmt* m = macros_.back();
        (n == "varargs" ? m->uses_varargs : m->uses_kwargs) = true;
    }
    return seal(std::make_unique<NameExpr>(line, std::move(n)));
}

// [a, b, ...] after its '['; a trailing comma is allowed.
ExprPtr Parser::parse_list_literal(int line) {
    auto list = std::make_unique<ListExpr>(line, false);
    while (!is_op("]")) {
        if (!list->items.empty()) expect_op(",");
        if (is_op("]")) break;
        list->items.push_back(parse_expression(true));
    }
    expect_op("]");
    return seal(std::move(list));
}

// {k: v, ...} after its '{'; a trailing comma is allowed.
ExprPtr Parser::parse_dict_literal(int line) {
    auto dict = std::make_unique<DictExpr>(line);
    while (!is_op("}")) {
        if (!dict->items.empty()) expect_op(",");
        if (is_op("}")) break;
        ExprPtr key = parse_expression(true);
        expect_op(":");
        dict->items.emplace_back(std::move(key), parse_expression(true));
    }
    expect_op("}");
    return seal(std::move(dict));
}

ExprPtr Parser::parse_postfix(ExprPtr e) {
    while (true) {
        const int line = cur().line;
        if (skip_op(".")) {
            if (cur().kind == TokenKind::kName) {
                e = seal(std::make_unique<AttrExpr>(line, std::move(e), expect_name()));
            } else if (cur().kind == TokenKind::kInteger) {
                auto idx =
                    seal(std::make_unique<LiteralExpr>(line, Value::integer(cur().int_value)));
                advance();
                e = seal(std::make_unique<ItemExpr>(line, std::move(e), std::move(idx)));
            } else {
                error("expected a name or number after '.', got {}", describe(cur()));
            }
        } else if (skip_op("[")) {
            std::vector<ExprPtr> subs;
            while (!is_op("]")) {
                if (!subs.empty()) expect_op(",");
                subs.push_back(parse_subscribed());
            }
            expect_op("]");
            if (subs.empty()) error("expected a subscript, got ']'");
            ExprPtr index;
            if (subs.size() == 1) {
                index = std::move(subs[0]);
            } else {
                auto t = std::make_unique<ListExpr>(line, true);
                t->items = std::move(subs);
                index = seal(std::move(t));
            }
            e = seal(std::make_unique<ItemExpr>(line, std::move(e), std::move(index)));
        } else if (is_op("(")) {
            e = parse_call(std::move(e));
        } else {
            return e;
        }
    }
}

// One subscript: an expression or a slice start:stop:step.
ExprPtr Parser::parse_subscribed() {
    const int line = cur().line;
    ExprPtr start;
    if (!is_op(":")) {
        start = parse_expression(true);
        if (!is_op(":")) return start;
    }
    advance();  // the first ':'
    auto slice = std::make_unique<SliceExpr>(line);
    slice->start = std::move(start);
    if (!is_op(":") && !is_op("]") && !is_op(",")) slice->stop = parse_expression(true);
    if (skip_op(":") && !is_op("]") && !is_op(",")) slice->step = parse_expression(true);
    return seal(std::move(slice));
}

ExprPtr Parser::parse_call(ExprPtr callee) {
    auto call = std::make_unique<CallExpr>(cur().line, std::move(callee));
    parse_call_args(call->args);
    return seal(std::move(call));
}

void Parser::parse_call_args(Args& args) {
    expect_op("(");
    bool first = true;
    while (!is_op(")")) {
        if (!first) expect_op(",");
        first = false;
        if (is_op(")")) break;
        if (is_op("*") || is_op("**")) error("*args and **kwargs in calls are not supported");
        if (cur().kind == TokenKind::kName && peek().kind == TokenKind::kOperator &&
            peek().text == "=") {
            std::string key = expect_name();
            advance();
            args.kw.emplace_back(std::move(key), parse_expression(true));
        } else {
            if (!args.kw.empty()) error("positional argument follows keyword argument");
            args.pos.push_back(parse_expression(true));
        }
    }
    expect_op(")");
}

ExprPtr Parser::parse_filter_expr(ExprPtr e) {
    while (true) {
        if (is_op("|")) {
            e = parse_filters(std::move(e), false);
        } else if (is_name("is")) {
            e = parse_test(std::move(e));
        } else if (is_op("(")) {
            e = parse_call(std::move(e));
        } else {
            return e;
        }
    }
}

std::string Parser::dotted_name() {
    std::string name = expect_name();
    while (skip_op(".")) name += fmt::format(".{}", expect_name());
    return name;
}

// `| f(args) | g ...`; with `inline_first` the first filter has no leading pipe.
ExprPtr Parser::parse_filters(ExprPtr value, bool inline_first) {
    while (is_op("|") || inline_first) {
        if (!inline_first) advance();
        inline_first = false;
        const int line = cur().line;
        auto f = std::make_unique<FilterExpr>(line, std::move(value), dotted_name());
        if (is_op("(")) parse_call_args(f->args);
        value = seal(std::move(f));
    }
    return value;
}

ExprPtr Parser::parse_test(ExprPtr value) {
    const int line = cur().line;
    advance();  // 'is'
    const bool negated = skip_name("not");
    auto t = std::make_unique<TestExpr>(line, std::move(value), dotted_name(), negated);
    const TokenKind k = cur().kind;
    if (is_op("(")) {
        parse_call_args(t->args);
    } else if ((k == TokenKind::kName || k == TokenKind::kString || k == TokenKind::kInteger ||
                k == TokenKind::kFloat || is_op("[") || is_op("{")) &&
               !is_name("else") && !is_name("or") && !is_name("and")) {
        // `x is divisibleby 3`: one argument without parentheses, as Jinja2 allows.
        if (is_name("is")) error("you cannot chain multiple tests with 'is'");
        t->args.pos.push_back(parse_postfix(parse_primary()));
    }
    return seal(std::move(t));
}

}  // namespace sobre::chat::jinja::detail
