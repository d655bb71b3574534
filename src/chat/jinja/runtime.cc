#include "chat/jinja/runtime.h"

#include <algorithm>

#include "chat/jinja/builtins.h"
#include "chat/jinja/ops.h"
#include "core/error.h"

namespace sobre::chat::jinja {

namespace {

// The `loop` variable of a for loop. ref: jinja2/runtime.py LoopContext.
class LoopObject : public Object {
   public:
    LoopObject(std::shared_ptr<const std::vector<Value>> items, size_t index)
        : items_(std::move(items)), index_(index) {}

    std::string_view type_name() const override { return "LoopContext"; }

    Value attr(std::string_view name) const override {
        const auto i = static_cast<int64_t>(index_);
        const auto n = static_cast<int64_t>(items_->size());
        if (name == "index") return Value::integer(i + 1);
        if (name == "index0") return Value::integer(i);
        if (name == "revindex") return Value::integer(n - i);
        if (name == "revindex0") return Value::integer(n - i - 1);
        if (name == "first") return Value::boolean(i == 0);
        if (name == "last") return Value::boolean(i == n - 1);
        if (name == "length") return Value::integer(n);
        if (name == "depth") return Value::integer(1);
        if (name == "depth0") return Value::integer(0);
        if (name == "previtem") {
            if (i == 0) return Value::undefined("there is no previous item");
            return (*items_)[index_ - 1];
        }
        if (name == "nextitem") {
            if (i == n - 1) return Value::undefined("there is no next item");
            return (*items_)[index_ + 1];
        }
        if (name == "cycle") {
            auto fn = std::make_shared<Function>();
            fn->name = "loop.cycle";
            const size_t index = index_;
            fn->call = [index](Runtime&, const CallArgs& args) {
                if (args.pos.empty())
                    fail(ErrorKind::kInvalidArgument, "no items for cycling given");
                return args.pos[index % args.pos.size()];
            };
            return Value::function(std::move(fn));
        }
        return Value::undefined(fmt::format("'LoopContext object' has no attribute '{}'", name));
    }

   private:
    std::shared_ptr<const std::vector<Value>> items_;
    size_t index_;
};

}  // namespace

const Value* Scope::lookup(std::string_view name) const {
    for (const Scope* s = this; s != nullptr; s = s->parent_.get()) {
        for (const auto& [k, v] : s->vars_) {
            if (k == name) return &v;
        }
    }
    return nullptr;
}

void Scope::set(std::string_view name, Value v) {
    for (auto& [k, old] : vars_) {
        if (k == name) {
            old = std::move(v);
            return;
        }
    }
    vars_.emplace_back(std::string(name), std::move(v));
}

void Scope::clear() {
    vars_.clear();
    parent_.reset();
}

struct Runtime::Enter {
    Enter(Runtime& rt, int line) : rt_(rt) {
        rt.line_ = line;
        if (++rt.steps_ > rt.limits_.max_steps) {
            fail(ErrorKind::kResourceExhausted, "rendering took more than {} evaluation steps",
                 rt.limits_.max_steps);
        }
        if (rt.depth_ >= rt.limits_.max_eval_depth) {
            fail(ErrorKind::kResourceExhausted, "evaluation nested more than {} levels deep",
                 rt.limits_.max_eval_depth);
        }
        ++rt.depth_;
    }
    ~Enter() { --rt_.depth_; }
    Enter(const Enter&) = delete;
    Enter& operator=(const Enter&) = delete;
    Runtime& rt_;
};

Runtime::Runtime(const RenderLimits& limits, const std::tm& now) : limits_(limits), now_(now) {}

Runtime::~Runtime() {
    // Macros hold the scope they were defined in and live in it; namespaces can hold
    // themselves. Clearing both breaks every cycle a render can build.
    for (const auto& ns : namespaces_) ns->clear();
    for (const auto& s : closures_) s->clear();
}

std::string Runtime::render(const Program& program,
                            std::vector<std::pair<std::string, Value>> vars) {
    auto globals = std::make_shared<Scope>(nullptr);
    add_globals(*globals);
    auto root = std::make_shared<Scope>(globals);
    for (auto& [k, v] : vars) root->set(k, std::move(v));
    std::string out;
    out_ = &out;
    try {
        exec_body(program.body, *root);
    } catch (const Error& e) {
        throw Error(e.kind(), fmt::format("template line {}: {}", line_, e.what()));
    }
    out_ = nullptr;
    return out;
}

Value Runtime::make_string(std::string s, bool markup) {
    if (s.size() > limits_.max_output_bytes) {
        fail(ErrorKind::kResourceExhausted, "string longer than the limit of {} bytes",
             limits_.max_output_bytes);
    }
    charge(s.size());
    return Value::string(std::move(s), markup);
}

Value Runtime::make_list(std::vector<Value> items, bool tuple) {
    if (static_cast<int64_t>(items.size()) > limits_.max_list_items) {
        fail(ErrorKind::kResourceExhausted, "list longer than the limit of {} items",
             limits_.max_list_items);
    }
    charge(items.size() * sizeof(Value));
    return Value::list(std::move(items), tuple);
}

void Runtime::charge(uint64_t bytes) {
    work_bytes_ += bytes;
    if (work_bytes_ > limits_.max_work_bytes) {
        fail(ErrorKind::kResourceExhausted, "rendering built more than {} bytes of strings",
             limits_.max_work_bytes);
    }
}

std::string Runtime::str(const Value& v) {
    std::string s = to_str(v, limits_.max_output_bytes);
    charge(s.size());
    return s;
}

std::shared_ptr<Namespace> Runtime::new_namespace() {
    auto ns = std::make_shared<Namespace>();
    namespaces_.push_back(ns);
    return ns;
}

Value Runtime::call(const Value& callee, const CallArgs& args) {
    if (callee.is_function()) return callee.as_function().call(*this, args);
    if (callee.is_undefined()) fail(ErrorKind::kInvalidArgument, "{}", callee.undefined_hint());
    fail(ErrorKind::kInvalidArgument, "'{}' object is not callable", type_name(callee));
}

Value Runtime::apply_filter(std::string_view name, const Value& input, const CallArgs& args) {
    const FilterFn f = find_filter(name);
    if (f == nullptr) fail(ErrorKind::kUnsupported, "no filter named '{}'", name);
    return f(*this, input, args);
}

bool Runtime::apply_test(std::string_view name, const Value& input, const CallArgs& args) {
    const TestFn t = find_test(name);
    if (t == nullptr) fail(ErrorKind::kUnsupported, "no test named '{}'", name);
    return t(*this, input, args);
}

void Runtime::write(std::string_view s) {
    if (out_->size() + s.size() > limits_.max_output_bytes) {
        fail(ErrorKind::kResourceExhausted, "output longer than the limit of {} bytes",
             limits_.max_output_bytes);
    }
    charge(s.size());
    out_->append(s);
}

std::string Runtime::capture(const Body& body, Scope& scope) {
    std::string buf;
    std::string* saved = out_;
    out_ = &buf;
    try {
        exec_body(body, scope);
    } catch (...) {
        out_ = saved;
        throw;
    }
    out_ = saved;
    return buf;
}

// ---- statements ---------------------------------------------------------------------------

Runtime::Flow Runtime::exec_body(const Body& body, Scope& scope) {
    for (const StmtPtr& s : body) {
        const Flow f = exec(*s, scope);
        if (f != Flow::kNormal) return f;
    }
    return Flow::kNormal;
}

Runtime::Flow Runtime::exec(const Stmt& s, Scope& scope) {
    Enter enter(*this, s.line);
    Flow flow = Flow::kNormal;
    switch (s.kind) {
        case Stmt::Kind::kText:
            write(static_cast<const TextStmt&>(s).text);
            break;
        case Stmt::Kind::kOutput: {
            const Value v = eval(*static_cast<const OutputStmt&>(s).expr, scope);
            if (v.is_string()) {
                write(v.as_string());
            } else {
                write(str(v));
            }
            break;
        }
        case Stmt::Kind::kIf:
            exec_if(static_cast<const IfStmt&>(s), scope, flow);
            break;
        case Stmt::Kind::kFor:
            flow = exec_for(static_cast<const ForStmt&>(s), scope);
            break;
        case Stmt::Kind::kSet:
            exec_set(static_cast<const SetStmt&>(s), scope);
            break;
        case Stmt::Kind::kSetBlock:
            exec_set_block(static_cast<const SetBlockStmt&>(s), scope);
            break;
        case Stmt::Kind::kMacro:
            exec_macro_def(static_cast<const MacroStmt&>(s), scope);
            break;
        case Stmt::Kind::kFilterBlock:
            exec_filter_block(static_cast<const FilterBlockStmt&>(s), scope);
            break;
        case Stmt::Kind::kWith:
            exec_with(static_cast<const WithStmt&>(s), scope);
            break;
        case Stmt::Kind::kScope: {
            auto inner = std::make_shared<Scope>(scope.shared_from_this());
            flow = exec_body(static_cast<const ScopeStmt&>(s).body, *inner);
            break;
        }
        case Stmt::Kind::kBreak:
            flow = Flow::kBreak;
            break;
        case Stmt::Kind::kContinue:
            flow = Flow::kContinue;
            break;
    }
    return flow;
}

void Runtime::exec_if(const IfStmt& s, Scope& scope, Flow& flow) {
    for (const auto& [cond, body] : s.branches) {
        if (truthy(eval(*cond, scope))) {
            flow = exec_body(body, scope);
            return;
        }
    }
    flow = exec_body(s.otherwise, scope);
}

Runtime::Flow Runtime::exec_for(const ForStmt& s, Scope& scope) {
    const Value iterable = eval(*s.iter, scope);
    std::vector<Value> items = iterate(*this, iterable);
    const std::shared_ptr<Scope> outer = scope.shared_from_this();
    if (s.filter) {
        // `for x in xs if cond`: the filter sees the loop target but not `loop`.
        std::vector<Value> kept;
        for (Value& item : items) {
            auto fs = std::make_shared<Scope>(outer);
            assign(s.target, item, *fs);
            if (truthy(eval(*s.filter, *fs))) kept.push_back(std::move(item));
        }
        items = std::move(kept);
    }
    if (items.empty()) {
        // A break/continue in the else body belongs to an enclosing loop, as in Python.
        auto es = std::make_shared<Scope>(outer);
        return exec_body(s.otherwise, *es);
    }
    const auto shared = std::make_shared<const std::vector<Value>>(std::move(items));
    for (size_t i = 0; i < shared->size(); ++i) {
        if (++loop_iterations_ > limits_.max_loop_iterations) {
            fail(ErrorKind::kResourceExhausted, "loops ran more than {} iterations",
                 limits_.max_loop_iterations);
        }
        // Each iteration starts from the enclosing scope: what the body sets does not survive.
        auto it = std::make_shared<Scope>(outer);
        assign(s.target, (*shared)[i], *it);
        it->set("loop", Value::object(std::make_shared<LoopObject>(shared, i)));
        if (exec_body(s.body, *it) == Flow::kBreak) break;
    }
    return Flow::kNormal;
}

void Runtime::assign(const Target& t, Value v, Scope& scope) {
    if (!t.attr.empty()) {
        const Value* ns = scope.lookup(t.names[0]);
        if (ns == nullptr || !ns->is_namespace()) {
            fail(ErrorKind::kInvalidArgument,
                 "cannot assign attribute '{}' on '{}': it is not a namespace() object", t.attr,
                 t.names[0]);
        }
        ns->as_namespace().set(t.attr, std::move(v));
        return;
    }
    if (!t.unpack) {
        scope.set(t.names[0], std::move(v));
        return;
    }
    const std::vector<Value> parts = iterate(*this, v);
    if (parts.size() != t.names.size()) {
        fail(ErrorKind::kInvalidArgument, "{} values to unpack (expected {}, got {})",
             parts.size() > t.names.size() ? "too many" : "not enough", t.names.size(),
             parts.size());
    }
    for (size_t i = 0; i < parts.size(); ++i) scope.set(t.names[i], parts[i]);
}

void Runtime::exec_set(const SetStmt& s, Scope& scope) {
    assign(s.target, eval(*s.value, scope), scope);
}

void Runtime::exec_set_block(const SetBlockStmt& s, Scope& scope) {
    auto inner = std::make_shared<Scope>(scope.shared_from_this());
    Value v = make_string(capture(s.body, *inner));
    if (s.filter) v = apply_chain(*s.filter, scope, std::move(v));
    assign(s.target, std::move(v), scope);
}

void Runtime::exec_macro_def(const MacroStmt& s, Scope& scope) {
    std::shared_ptr<Scope> closure = scope.shared_from_this();
    if (closures_.empty() || closures_.back() != closure) closures_.push_back(closure);
    auto fn = std::make_shared<Function>();
    fn->name = s.name;
    const MacroStmt* m = &s;
    fn->call = [m, closure](Runtime& rt, const CallArgs& args) {
        return rt.call_macro(*m, closure, args);
    };
    scope.set(s.name, Value::function(std::move(fn)));
}

Value Runtime::call_macro(const MacroStmt& m, const std::shared_ptr<Scope>& closure,
                          const CallArgs& args) {
    if (call_depth_ >= limits_.max_call_depth) {
        fail(ErrorKind::kResourceExhausted, "macro '{}' nested more than {} calls deep", m.name,
             limits_.max_call_depth);
    }
    const size_t n = m.params.size();
    if (args.pos.size() > n && !m.uses_varargs) {
        fail(ErrorKind::kInvalidArgument, "macro '{}' takes not more than {} argument(s)", m.name,
             n);
    }
    auto scope = std::make_shared<Scope>(closure);
    std::vector<bool> given(n, false);
    for (size_t i = 0; i < n && i < args.pos.size(); ++i) {
        scope->set(m.params[i], args.pos[i]);
        given[i] = true;
    }
    auto extra_kw = std::make_shared<Dict>();
    for (const auto& [k, v] : args.kw) {
        const auto it = std::find(m.params.begin(), m.params.end(), k);
        if (it == m.params.end()) {
            if (!m.uses_kwargs)
                fail(ErrorKind::kInvalidArgument, "macro '{}' has no argument '{}'", m.name, k);
            extra_kw->insert(Value::string(k), v);
            continue;
        }
        const auto i = static_cast<size_t>(it - m.params.begin());
        if (given[i])
            fail(ErrorKind::kInvalidArgument, "macro '{}' got multiple values for argument '{}'",
                 m.name, k);
        scope->set(k, v);
        given[i] = true;
    }
    for (size_t i = 0; i < n; ++i) {
        if (given[i]) continue;
        scope->set(m.params[i], m.defaults[i]
                                    ? eval(*m.defaults[i], *scope)
                                    : Value::undefined(fmt::format(
                                          "parameter '{}' was not provided", m.params[i])));
    }
    std::vector<Value> extra;
    for (size_t i = n; i < args.pos.size(); ++i) extra.push_back(args.pos[i]);
    scope->set("varargs", make_list(std::move(extra), true));
    scope->set("kwargs", Value::dict(std::move(extra_kw)));
    ++call_depth_;
    std::string out = capture(m.body, *scope);
    --call_depth_;
    return make_string(std::move(out));
}

void Runtime::exec_filter_block(const FilterBlockStmt& s, Scope& scope) {
    auto inner = std::make_shared<Scope>(scope.shared_from_this());
    const Value body = make_string(capture(s.body, *inner));
    const Value v = apply_chain(*s.filter, scope, body);
    write(v.is_string() ? v.as_string() : str(v));
}

void Runtime::exec_with(const WithStmt& s, Scope& scope) {
    auto inner = std::make_shared<Scope>(scope.shared_from_this());
    for (const auto& [target, expr] : s.assigns) assign(target, eval(*expr, scope), *inner);
    exec_body(s.body, *inner);
}

// ---- expressions --------------------------------------------------------------------------

Value Runtime::eval(const Expr& e, Scope& scope) {
    Enter enter(*this, e.line);
    switch (e.kind) {
        case Expr::Kind::kLiteral:
            return static_cast<const LiteralExpr&>(e).value;
        case Expr::Kind::kName:
            return eval_name(static_cast<const NameExpr&>(e), scope);
        case Expr::Kind::kList:
            return eval_list(static_cast<const ListExpr&>(e), scope);
        case Expr::Kind::kDict:
            return eval_dict(static_cast<const DictExpr&>(e), scope);
        case Expr::Kind::kAttr: {
            const auto& x = static_cast<const AttrExpr&>(e);
            return get_attr(*this, eval(*x.obj, scope), x.name);
        }
        case Expr::Kind::kItem:
            return eval_item(static_cast<const ItemExpr&>(e), scope);
        case Expr::Kind::kSlice:
            fail(ErrorKind::kUnsupported, "a slice is only allowed as a single subscript");
        case Expr::Kind::kCall:
            return eval_call(static_cast<const CallExpr&>(e), scope);
        case Expr::Kind::kFilter:
            return eval_filter(static_cast<const FilterExpr&>(e), scope, nullptr);
        case Expr::Kind::kTest:
            return eval_test(static_cast<const TestExpr&>(e), scope);
        case Expr::Kind::kUnary: {
            const auto& x = static_cast<const UnaryExpr&>(e);
            const Value v = eval(*x.operand, scope);
            if (x.op == UnaryOp::kNot) return Value::boolean(!truthy(v));
            return unary_op(*this, x.op, v);
        }
        case Expr::Kind::kBinary:
            return eval_binary(static_cast<const BinaryExpr&>(e), scope);
        case Expr::Kind::kCompare:
            return eval_compare(static_cast<const CompareExpr&>(e), scope);
        case Expr::Kind::kCond: {
            const auto& x = static_cast<const CondExpr&>(e);
            if (truthy(eval(*x.test, scope))) return eval(*x.then, scope);
            if (x.otherwise) return eval(*x.otherwise, scope);
            return Value::undefined(
                "the inline if-expression evaluated to false and no else section was defined");
        }
    }
    return Value();
}

Value Runtime::eval_name(const NameExpr& e, Scope& scope) {
    const Value* v = scope.lookup(e.name);
    if (v != nullptr) return *v;
    return Value::undefined(fmt::format("'{}' is undefined", e.name));
}

Value Runtime::eval_list(const ListExpr& e, Scope& scope) {
    std::vector<Value> items;
    items.reserve(e.items.size());
    for (const ExprPtr& item : e.items) items.push_back(eval(*item, scope));
    return make_list(std::move(items), e.tuple);
}

Value Runtime::eval_dict(const DictExpr& e, Scope& scope) {
    auto d = std::make_shared<Dict>();
    for (const auto& [k, v] : e.items) {
        Value key = eval(*k, scope);
        d->insert(std::move(key), eval(*v, scope));
    }
    return Value::dict(std::move(d));
}

Value Runtime::eval_item(const ItemExpr& e, Scope& scope) {
    const Value obj = eval(*e.obj, scope);
    if (e.index->kind != Expr::Kind::kSlice) return get_item(*this, obj, eval(*e.index, scope));
    const auto& s = static_cast<const SliceExpr&>(*e.index);
    Value parts[3];
    const ExprPtr* exprs[3] = {&s.start, &s.stop, &s.step};
    const Value* ptrs[3] = {nullptr, nullptr, nullptr};
    for (int i = 0; i < 3; ++i) {
        if (*exprs[i]) {
            parts[i] = eval(**exprs[i], scope);
            if (!parts[i].is_none()) ptrs[i] = &parts[i];  // x[None:] is x[:]
        }
    }
    return slice(*this, obj, ptrs[0], ptrs[1], ptrs[2]);
}

CallArgs Runtime::eval_args(const Args& a, Scope& scope) {
    CallArgs args;
    args.pos.reserve(a.pos.size());
    for (const ExprPtr& e : a.pos) args.pos.push_back(eval(*e, scope));
    for (const auto& [k, e] : a.kw) args.kw.emplace_back(k, eval(*e, scope));
    return args;
}

Value Runtime::eval_call(const CallExpr& e, Scope& scope) {
    const Value callee = eval(*e.callee, scope);
    return call(callee, eval_args(e.args, scope));
}

Value Runtime::eval_filter(const FilterExpr& e, Scope& scope, const Value* input) {
    const Value v = input != nullptr ? *input : eval(*e.value, scope);
    return apply_filter(e.name, v, eval_args(e.args, scope));
}

Value Runtime::apply_chain(const Expr& chain, Scope& scope, Value input) {
    const auto& f = static_cast<const FilterExpr&>(chain);
    const Value inner = f.value ? apply_chain(*f.value, scope, std::move(input)) : std::move(input);
    return eval_filter(f, scope, &inner);
}

Value Runtime::eval_test(const TestExpr& e, Scope& scope) {
    const Value v = eval(*e.value, scope);
    return Value::boolean(apply_test(e.name, v, eval_args(e.args, scope)) != e.negated);
}

Value Runtime::eval_binary(const BinaryExpr& e, Scope& scope) {
    if (e.op == BinaryOp::kAnd || e.op == BinaryOp::kOr) {
        // Python returns the deciding operand itself, not a bool.
        Value left = eval(*e.left, scope);
        if (truthy(left) == (e.op == BinaryOp::kOr)) return left;
        return eval(*e.right, scope);
    }
    const Value left = eval(*e.left, scope);
    const Value right = eval(*e.right, scope);
    return binary_op(*this, e.op, left, right);
}

Value Runtime::eval_compare(const CompareExpr& e, Scope& scope) {
    Value left = eval(*e.first, scope);
    for (const auto& [op, expr] : e.rest) {
        Value right = eval(*expr, scope);
        if (!compare_op(op, left, right)) return Value::boolean(false);
        left = std::move(right);
    }
    return Value::boolean(true);
}

}  // namespace sobre::chat::jinja
