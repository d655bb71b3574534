// Syntax tree of a parsed template: expressions and statements, mirroring jinja2/nodes.py for
// the subset chat templates use. Built by the parser, read (never changed) by the runtime.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/jinja/value.h"

namespace sobre::chat::jinja {

struct Expr {
    enum class Kind : uint8_t {
        kLiteral,
        kName,
        kList,
        kDict,
        kAttr,
        kItem,
        kSlice,
        kCall,
        kFilter,
        kTest,
        kUnary,
        kBinary,
        kCompare,
        kCond,
    };
    Expr(Kind k, int l) : kind(k), line(l) {}
    virtual ~Expr() = default;
    Kind kind;
    int line;
    int depth = 1;  // height of the tree rooted here (the parser bounds it)
};
using ExprPtr = std::unique_ptr<Expr>;

struct Args {
    std::vector<ExprPtr> pos;
    std::vector<std::pair<std::string, ExprPtr>> kw;
};

struct LiteralExpr : Expr {
    LiteralExpr(int l, Value v) : Expr(Kind::kLiteral, l), value(std::move(v)) {}
    Value value;
};
struct NameExpr : Expr {
    NameExpr(int l, std::string n) : Expr(Kind::kName, l), name(std::move(n)) {}
    std::string name;
};
struct ListExpr : Expr {  // [a, b] or (a, b)
    ListExpr(int l, bool t) : Expr(Kind::kList, l), tuple(t) {}
    std::vector<ExprPtr> items;
    bool tuple;
};
struct DictExpr : Expr {
    explicit DictExpr(int l) : Expr(Kind::kDict, l) {}
    std::vector<std::pair<ExprPtr, ExprPtr>> items;
};
struct AttrExpr : Expr {  // obj.name
    AttrExpr(int l, ExprPtr o, std::string n)
        : Expr(Kind::kAttr, l), obj(std::move(o)), name(std::move(n)) {}
    ExprPtr obj;
    std::string name;
};
struct ItemExpr : Expr {  // obj[index]; index may be a SliceExpr
    ItemExpr(int l, ExprPtr o, ExprPtr i)
        : Expr(Kind::kItem, l), obj(std::move(o)), index(std::move(i)) {}
    ExprPtr obj;
    ExprPtr index;
};
struct SliceExpr : Expr {  // start:stop:step, each part optional (nullptr)
    explicit SliceExpr(int l) : Expr(Kind::kSlice, l) {}
    ExprPtr start, stop, step;
};
struct CallExpr : Expr {
    CallExpr(int l, ExprPtr c) : Expr(Kind::kCall, l), callee(std::move(c)) {}
    ExprPtr callee;
    Args args;
};
struct FilterExpr
    : Expr {  // value | name(args); value is nullptr in {% filter %} and {% set %} blocks
    FilterExpr(int l, ExprPtr v, std::string n)
        : Expr(Kind::kFilter, l), value(std::move(v)), name(std::move(n)) {}
    ExprPtr value;
    std::string name;
    Args args;
};
struct TestExpr : Expr {  // value is [not] name(args)
    TestExpr(int l, ExprPtr v, std::string n, bool neg)
        : Expr(Kind::kTest, l), value(std::move(v)), name(std::move(n)), negated(neg) {}
    ExprPtr value;
    std::string name;
    Args args;
    bool negated;
};
enum class UnaryOp : uint8_t { kNeg, kPos, kNot };
struct UnaryExpr : Expr {
    UnaryExpr(int l, UnaryOp o, ExprPtr e) : Expr(Kind::kUnary, l), op(o), operand(std::move(e)) {}
    UnaryOp op;
    ExprPtr operand;
};
enum class BinaryOp : uint8_t { kAdd, kSub, kMul, kDiv, kFloorDiv, kMod, kPow, kConcat, kAnd, kOr };
struct BinaryExpr : Expr {
    BinaryExpr(int l, BinaryOp o, ExprPtr a, ExprPtr b)
        : Expr(Kind::kBinary, l), op(o), left(std::move(a)), right(std::move(b)) {}
    BinaryOp op;
    ExprPtr left, right;
};
enum class CompareOp : uint8_t { kEq, kNe, kLt, kLe, kGt, kGe, kIn, kNotIn };
struct CompareExpr : Expr {  // a < b <= c: each operand compared with the one before it
    CompareExpr(int l, ExprPtr f) : Expr(Kind::kCompare, l), first(std::move(f)) {}
    ExprPtr first;
    std::vector<std::pair<CompareOp, ExprPtr>> rest;
};
struct CondExpr : Expr {  // then if test else otherwise; otherwise may be nullptr (undefined)
    CondExpr(int l, ExprPtr t, ExprPtr a, ExprPtr b)
        : Expr(Kind::kCond, l), test(std::move(t)), then(std::move(a)), otherwise(std::move(b)) {}
    ExprPtr test, then, otherwise;
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

// An assignment target: a name, a tuple of names to unpack, or namespace.attribute.
struct Target {
    std::vector<std::string> names;
    bool unpack = false;
    std::string attr;  // non-empty: names[0].attr (a namespace attribute)
};

struct Stmt {
    enum class Kind : uint8_t {
        kText,
        kOutput,
        kIf,
        kFor,
        kSet,
        kSetBlock,
        kMacro,
        kFilterBlock,
        kWith,
        kScope,
        kBreak,
        kContinue,
    };
    Stmt(Kind k, int l) : kind(k), line(l) {}
    virtual ~Stmt() = default;
    Kind kind;
    int line;
};

struct TextStmt : Stmt {
    TextStmt(int l, std::string t) : Stmt(Kind::kText, l), text(std::move(t)) {}
    std::string text;
};
struct OutputStmt : Stmt {
    OutputStmt(int l, ExprPtr e) : Stmt(Kind::kOutput, l), expr(std::move(e)) {}
    ExprPtr expr;
};
struct IfStmt : Stmt {
    explicit IfStmt(int l) : Stmt(Kind::kIf, l) {}
    std::vector<std::pair<ExprPtr, Body>> branches;  // if and elifs
    Body otherwise;
};
struct ForStmt : Stmt {
    explicit ForStmt(int l) : Stmt(Kind::kFor, l) {}
    Target target;
    ExprPtr iter;
    ExprPtr filter;  // `for x in xs if cond`; nullptr when absent
    Body body;
    Body otherwise;  // rendered when nothing was iterated
};
struct SetStmt : Stmt {
    explicit SetStmt(int l) : Stmt(Kind::kSet, l) {}
    Target target;
    ExprPtr value;
};
struct SetBlockStmt : Stmt {  // {% set x | filters %}body{% endset %}
    explicit SetBlockStmt(int l) : Stmt(Kind::kSetBlock, l) {}
    Target target;
    ExprPtr filter;  // FilterExpr chain whose innermost value is nullptr; may be nullptr
    Body body;
};
struct MacroStmt : Stmt {
    explicit MacroStmt(int l) : Stmt(Kind::kMacro, l) {}
    std::string name;
    std::vector<std::string> params;
    std::vector<ExprPtr> defaults;  // parallel to params; nullptr where none
    Body body;
    bool uses_varargs = false;  // the body reads `varargs`: extra positional arguments allowed
    bool uses_kwargs = false;   // the body reads `kwargs`: unknown keyword arguments allowed
};
struct FilterBlockStmt : Stmt {  // {% filter f %}body{% endfilter %}
    explicit FilterBlockStmt(int l) : Stmt(Kind::kFilterBlock, l) {}
    ExprPtr filter;  // FilterExpr chain whose innermost value is nullptr
    Body body;
};
struct WithStmt : Stmt {
    explicit WithStmt(int l) : Stmt(Kind::kWith, l) {}
    std::vector<std::pair<Target, ExprPtr>> assigns;
    Body body;
};
struct ScopeStmt : Stmt {  // a body with its own scope ({% generation %})
    explicit ScopeStmt(int l) : Stmt(Kind::kScope, l) {}
    Body body;
};

struct Program {
    Body body;
};

}  // namespace sobre::chat::jinja
