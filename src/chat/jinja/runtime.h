// Template runtime: renders a parsed Program against variables with Jinja2's scoping (a for
// body and a macro body are scopes of their own, an if is not) and within hard limits, so a
// hostile template stops with an Error instead of running away with time, memory or stack.
#pragma once

#include <cstdint>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chat/jinja/ast.h"
#include "chat/jinja/limits.h"
#include "chat/jinja/value.h"

namespace sobre::chat::jinja {

// Variables of one scope, looked up through the parents.
class Scope : public std::enable_shared_from_this<Scope> {
   public:
    explicit Scope(std::shared_ptr<Scope> parent) : parent_(std::move(parent)) {}
    const Value* lookup(std::string_view name) const;
    void set(std::string_view name, Value v);
    // Drops every variable and the parent link (breaks reference cycles after a render).
    void clear();

   private:
    std::shared_ptr<Scope> parent_;
    std::vector<std::pair<std::string, Value>> vars_;
};

class Runtime {
   public:
    // `now` is what strftime_now() formats.
    Runtime(const RenderLimits& limits, const std::tm& now);
    ~Runtime();
    Runtime(const Runtime&) = delete;
    Runtime& operator=(const Runtime&) = delete;

    // Renders `program` with `vars` as the template's variables (globals sit below them).
    // Throws Error "template line N: ..." for runtime errors and exceeded limits.
    std::string render(const Program& program, std::vector<std::pair<std::string, Value>> vars);

    // ---- services for filters, tests, methods and globals ---------------------------------
    const RenderLimits& limits() const { return limits_; }
    const std::tm& now() const { return now_; }
    // A string value; counts its bytes against the work budget and the string size limit.
    Value make_string(std::string s, bool markup = false);
    // A list value; refuses more than max_list_items items.
    Value make_list(std::vector<Value> items, bool tuple = false);
    // Counts bytes of work; throws when the budget is spent.
    void charge(uint64_t bytes);
    // str(v) within the string size limit.
    std::string str(const Value& v);
    // A new namespace(), released (cycles broken) when the render ends.
    std::shared_ptr<Namespace> new_namespace();

    Value call(const Value& callee, const CallArgs& args);
    Value apply_filter(std::string_view name, const Value& input, const CallArgs& args);
    bool apply_test(std::string_view name, const Value& input, const CallArgs& args);

   private:
    enum class Flow : uint8_t { kNormal, kBreak, kContinue };
    struct Enter;  // depth and step accounting for one nested evaluation

    Flow exec_body(const Body& body, Scope& scope);
    Flow exec(const Stmt& s, Scope& scope);
    void exec_if(const IfStmt& s, Scope& scope, Flow& flow);
    Flow exec_for(const ForStmt& s, Scope& scope);
    void exec_set(const SetStmt& s, Scope& scope);
    void exec_set_block(const SetBlockStmt& s, Scope& scope);
    void exec_macro_def(const MacroStmt& s, Scope& scope);
    void exec_filter_block(const FilterBlockStmt& s, Scope& scope);
    void exec_with(const WithStmt& s, Scope& scope);
    void assign(const Target& t, Value v, Scope& scope);
    // Renders `body` in `scope` into a string of its own.
    std::string capture(const Body& body, Scope& scope);
    Value call_macro(const MacroStmt& m, const std::shared_ptr<Scope>& closure,
                     const CallArgs& args);
    void write(std::string_view s);

    Value eval(const Expr& e, Scope& scope);
    Value eval_name(const NameExpr& e, Scope& scope);
    Value eval_list(const ListExpr& e, Scope& scope);
    Value eval_dict(const DictExpr& e, Scope& scope);
    Value eval_item(const ItemExpr& e, Scope& scope);
    Value eval_call(const CallExpr& e, Scope& scope);
    Value eval_filter(const FilterExpr& e, Scope& scope, const Value* input);
    Value eval_test(const TestExpr& e, Scope& scope);
    Value eval_binary(const BinaryExpr& e, Scope& scope);
    Value eval_compare(const CompareExpr& e, Scope& scope);
    CallArgs eval_args(const Args& a, Scope& scope);
    // Applies a {% filter %}/{% set %} chain (innermost value nullptr) to `input`.
    Value apply_chain(const Expr& chain, Scope& scope, Value input);

    RenderLimits limits_;
    std::tm now_;
    std::string* out_ = nullptr;
    int line_ = 0;
    int depth_ = 0;
    int call_depth_ = 0;
    int64_t steps_ = 0;
    int64_t loop_iterations_ = 0;
    uint64_t work_bytes_ = 0;
    std::vector<std::shared_ptr<Namespace>> namespaces_;  // cleared at the end: breaks cycles
    std::vector<std::shared_ptr<Scope>> closures_;        // scopes macros captured: likewise
};

}  // namespace sobre::chat::jinja
