// Built-in tests (`x is defined`, `x is string`, ...). ref: jinja2/tests.py (Jinja2 3.1).
#include <unordered_map>

#include "chat/jinja/builtins.h"
#include "chat/jinja/ops.h"
#include "chat/jinja/pystr.h"
#include "chat/jinja/runtime.h"
#include "core/error.h"

namespace sobre::chat::jinja {

namespace {

// The one argument of a comparison-style test.
const Value& operand(const CallArgs& args, std::string_view test) {
    ArgBinder b(args, test, {"other"});
    if (!b.has(0)) fail(ErrorKind::kInvalidArgument, "test '{}' needs an argument", test);
    return *b.get(0);
}

void no_args(const CallArgs& args, std::string_view test) { ArgBinder b(args, test, {}); }

bool t_defined(Runtime&, const Value& v, const CallArgs& a) {
    return no_args(a, "defined"), !v.is_undefined();
}
bool t_undefined(Runtime&, const Value& v, const CallArgs& a) {
    return no_args(a, "undefined"), v.is_undefined();
}
bool t_none(Runtime&, const Value& v, const CallArgs& a) { return no_args(a, "none"), v.is_none(); }
bool t_boolean(Runtime&, const Value& v, const CallArgs& a) {
    return no_args(a, "boolean"), v.is_bool();
}
bool t_true(Runtime&, const Value& v, const CallArgs& a) {
    return no_args(a, "true"), v.is_bool() && v.as_bool();
}
bool t_false(Runtime&, const Value& v, const CallArgs& a) {
    return no_args(a, "false"), v.is_bool() && !v.as_bool();
}
bool t_integer(Runtime&, const Value& v, const CallArgs& a) {
    return no_args(a, "integer"), v.is_int();
}
bool t_float(Runtime&, const Value& v, const CallArgs& a) {
    return no_args(a, "float"), v.is_float();
}
bool t_number(Runtime&, const Value& v, const CallArgs& a) {
    return no_args(a, "number"), v.is_number();
}
bool t_string(Runtime&, const Value& v, const CallArgs& a) {
    return no_args(a, "string"), v.is_string();
}
bool t_mapping(Runtime&, const Value& v, const CallArgs& a) {
    return no_args(a, "mapping"), v.is_dict();
}
bool t_escaped(Runtime&, const Value& v, const CallArgs& a) {
    return no_args(a, "escaped"), v.is_markup();
}

// Jinja2's Undefined defines __iter__, __len__, __getitem__ and __call__, so it passes
// `iterable`, `sequence` and `callable`.
bool t_iterable(Runtime&, const Value& v, const CallArgs& a) {
    no_args(a, "iterable");
    return v.is_string() || v.is_list() || v.is_dict() || v.is_undefined() || v.is_object();
}
bool t_sequence(Runtime&, const Value& v, const CallArgs& a) {
    no_args(a, "sequence");
    return v.is_string() || v.is_list() || v.is_dict() || v.is_undefined();
}
bool t_callable(Runtime&, const Value& v, const CallArgs& a) {
    no_args(a, "callable");
    return v.is_function() || v.is_undefined();
}

bool t_eq(Runtime&, const Value& v, const CallArgs& a) { return equals(v, operand(a, "eq")); }
bool t_ne(Runtime&, const Value& v, const CallArgs& a) { return !equals(v, operand(a, "ne")); }
bool t_lt(Runtime&, const Value& v, const CallArgs& a) {
    return compare_op(CompareOp::kLt, v, operand(a, "lt"));
}
bool t_le(Runtime&, const Value& v, const CallArgs& a) {
    return compare_op(CompareOp::kLe, v, operand(a, "le"));
}
bool t_gt(Runtime&, const Value& v, const CallArgs& a) {
    return compare_op(CompareOp::kGt, v, operand(a, "gt"));
}
bool t_ge(Runtime&, const Value& v, const CallArgs& a) {
    return compare_op(CompareOp::kGe, v, operand(a, "ge"));
}
bool t_in(Runtime&, const Value& v, const CallArgs& a) { return contains(operand(a, "in"), v); }

bool t_sameas(Runtime&, const Value& v, const CallArgs& a) {
    const Value& o = operand(a, "sameas");
    if (v.kind() != o.kind()) return false;
    switch (v.kind()) {
        case Value::Kind::kNone:
        case Value::Kind::kUndefined:
            return true;
        case Value::Kind::kBool:
        case Value::Kind::kInt:
        case Value::Kind::kFloat:
            return equals(v, o);
        default:
            return v.identity() == o.identity();
    }
}

bool remainder_is_zero(Runtime& rt, const Value& v, const Value& by) {
    return !truthy(binary_op(rt, BinaryOp::kMod, v, by));
}
bool t_odd(Runtime& rt, const Value& v, const CallArgs& a) {
    no_args(a, "odd");
    return !remainder_is_zero(rt, v, Value::integer(2));
}
bool t_even(Runtime& rt, const Value& v, const CallArgs& a) {
    no_args(a, "even");
    return remainder_is_zero(rt, v, Value::integer(2));
}
bool t_divisibleby(Runtime& rt, const Value& v, const CallArgs& a) {
    return remainder_is_zero(rt, v, operand(a, "divisibleby"));
}

// str.islower()/isupper(): some cased character, and none of the other case.
bool case_test(Runtime& rt, const Value& v, bool upper) {
    bool cased = false;
    for (char32_t cp : decode_utf8(rt.str(v))) {
        if (upper ? py_islower_cp(cp) : py_isupper_cp(cp)) return false;
        cased = cased || (upper ? py_isupper_cp(cp) : py_islower_cp(cp));
    }
    return cased;
}
bool t_lower(Runtime& rt, const Value& v, const CallArgs& a) {
    return no_args(a, "lower"), case_test(rt, v, false);
}
bool t_upper(Runtime& rt, const Value& v, const CallArgs& a) {
    return no_args(a, "upper"), case_test(rt, v, true);
}

bool t_filter(Runtime&, const Value& v, const CallArgs& a) {
    no_args(a, "filter");
    return v.is_string() && find_filter(v.as_string()) != nullptr;
}
bool t_test(Runtime&, const Value& v, const CallArgs& a) {
    no_args(a, "test");
    return v.is_string() && find_test(v.as_string()) != nullptr;
}

const std::unordered_map<std::string_view, TestFn>& test_table() {
    static const std::unordered_map<std::string_view, TestFn> kTable = {
        {"boolean", t_boolean},
        {"callable", t_callable},
        {"defined", t_defined},
        {"divisibleby", t_divisibleby},
        {"eq", t_eq},
        {"equalto", t_eq},
        {"==", t_eq},
        {"escaped", t_escaped},
        {"even", t_even},
        {"false", t_false},
        {"filter", t_filter},
        {"float", t_float},
        {"ge", t_ge},
        {">=", t_ge},
        {"gt", t_gt},
        {">", t_gt},
        {"greaterthan", t_gt},
        {"in", t_in},
        {"integer", t_integer},
        {"iterable", t_iterable},
        {"le", t_le},
        {"<=", t_le},
        {"lower", t_lower},
        {"lt", t_lt},
        {"<", t_lt},
        {"lessthan", t_lt},
        {"mapping", t_mapping},
        {"ne", t_ne},
        {"!=", t_ne},
        {"none", t_none},
        {"number", t_number},
        {"odd", t_odd},
        {"sameas", t_sameas},
        {"sequence", t_sequence},
        {"string", t_string},
        {"test", t_test},
        {"true", t_true},
        {"undefined", t_undefined},
        {"upper", t_upper},
    };
    return kTable;
}

}  // namespace

TestFn find_test(std::string_view name) {
    const auto& t = test_table();
    const auto it = t.find(name);
    return it == t.end() ? nullptr : it->second;
}

}  // namespace sobre::chat::jinja
