#include "chat/jinja/ops.h"

#include <algorithm>
#include <cmath>

#include "chat/jinja/builtins.h"
#include "chat/jinja/pystr.h"
#include "chat/jinja/runtime.h"
#include "core/error.h"

namespace sobre::chat::jinja {

namespace {

[[noreturn]] void overflow() {
    fail(ErrorKind::kUnsupported,
         "integer overflow (Python integers are unbounded; this engine uses 64 bits)");
}

[[noreturn]] void unsupported_operands(std::string_view op, const Value& a, const Value& b) {
    fail(ErrorKind::kInvalidArgument, "unsupported operand type(s) for {}: '{}' and '{}'", op,
         type_name(a), type_name(b));
}

// Python's name for what Jinja2 reports about a missing attribute or item of `obj`.
std::string owner(const Value& obj) {
    if (obj.is_none()) return "'None'";
    return fmt::format("'{} object'", type_name(obj));
}

Value no_attribute(const Value& obj, std::string_view name) {
    return Value::undefined(fmt::format("{} has no attribute '{}'", owner(obj), name));
}

Value no_element(Runtime& rt, const Value& obj, const Value& key) {
    if (key.is_string()) return no_attribute(obj, key.as_string());
    std::string k;
    append_repr(k, key, rt.limits().max_output_bytes);
    return Value::undefined(fmt::format("{} has no element {}", owner(obj), k));
}

bool is_ascii(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return (c & 0x80) == 0; });
}

Value add(Runtime& rt, const Value& a, const Value& b) {
    if (a.is_number() && b.is_number()) {
        if (a.is_float() || b.is_float()) return Value::number(a.as_double() + b.as_double());
        int64_t r;
        if (__builtin_add_overflow(a.as_int(), b.as_int(), &r)) overflow();
        return Value::integer(r);
    }
    if (a.is_string() && b.is_string()) {
        if (a.is_markup() == b.is_markup()) {
            return rt.make_string(a.as_string() + b.as_string(), a.is_markup());
        }
        // markupsafe: Markup + str escapes the plain side, and the result stays Markup.
        const std::string l = a.is_markup() ? a.as_string() : html_escape(a.as_string());
        const std::string r = b.is_markup() ? b.as_string() : html_escape(b.as_string());
        return rt.make_string(l + r, true);
    }
    if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
        std::vector<Value> items = a.items();
        items.insert(items.end(), b.items().begin(), b.items().end());
        return rt.make_list(std::move(items), a.is_tuple());
    }
    if (a.is_string()) {
        fail(ErrorKind::kInvalidArgument, "can only concatenate str (not \"{}\") to str",
             type_name(b));
    }
    if (a.is_list() && !a.is_tuple()) {
        fail(ErrorKind::kInvalidArgument, "can only concatenate list (not \"{}\") to list",
             type_name(b));
    }
    unsupported_operands("+", a, b);
}

// str * n, list * n: repeated, within the size limits.
Value repeat(Runtime& rt, const Value& seq, int64_t n) {
    if (n <= 0) return seq.is_string() ? rt.make_string("") : rt.make_list({}, seq.is_tuple());
    if (seq.is_string()) {
        const size_t len = seq.as_string().size();
        if (len != 0 && static_cast<uint64_t>(n) > rt.limits().max_output_bytes / len) {
            fail(ErrorKind::kResourceExhausted,
                 "string repetition longer than the limit of {} bytes",
                 rt.limits().max_output_bytes);
        }
        std::string out;
        out.reserve(len * static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) out += seq.as_string();
        return rt.make_string(std::move(out), seq.is_markup());
    }
    const size_t len = seq.items().size();
    if (len != 0 && n > rt.limits().max_list_items / static_cast<int64_t>(len)) {
        fail(ErrorKind::kResourceExhausted, "list repetition longer than the limit of {} items",
             rt.limits().max_list_items);
    }
    std::vector<Value> items;
    items.reserve(len * static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i)
        items.insert(items.end(), seq.items().begin(), seq.items().end());
    return rt.make_list(std::move(items), seq.is_tuple());
}

Value multiply(Runtime& rt, const Value& a, const Value& b) {
    if (a.is_number() && b.is_number()) {
        if (a.is_float() || b.is_float()) return Value::number(a.as_double() * b.as_double());
        int64_t r;
        if (__builtin_mul_overflow(a.as_int(), b.as_int(), &r)) overflow();
        return Value::integer(r);
    }
    if ((a.is_string() || a.is_list()) && (b.is_int() || b.is_bool()))
        return repeat(rt, a, b.as_int());
    if ((b.is_string() || b.is_list()) && (a.is_int() || a.is_bool()))
        return repeat(rt, b, a.as_int());
    unsupported_operands("*", a, b);
}

Value divide(BinaryOp op, const Value& a, const Value& b) {
    const char* sym = op == BinaryOp::kDiv ? "/" : op == BinaryOp::kFloorDiv ? "//" : "%";
    if (!a.is_number() || !b.is_number()) unsupported_operands(sym, a, b);
    const bool ints = !a.is_float() && !b.is_float();
    if (b.as_double() == 0) {
        fail(ErrorKind::kInvalidArgument, "{}",
             op == BinaryOp::kDiv ? "division by zero"
             : ints               ? "integer division or modulo by zero"
                                  : "float divmod()");
    }
    if (op == BinaryOp::kDiv) return Value::number(a.as_double() / b.as_double());
    if (ints) {
        const int64_t x = a.as_int();
        const int64_t y = b.as_int();
        if (x == INT64_MIN && y == -1) overflow();
        // Python floors toward negative infinity; C++ truncates toward zero.
        int64_t q = x / y;
        int64_t r = x % y;
        if (r != 0 && ((r < 0) != (y < 0))) --q, r += y;
        return Value::integer(op == BinaryOp::kFloorDiv ? q : r);
    }
    const double x = a.as_double();
    const double y = b.as_double();
    if (op == BinaryOp::kFloorDiv) return Value::number(std::floor(x / y));
    double r = std::fmod(x, y);
    if (r != 0 && ((r < 0) != (y < 0))) r += y;
    return Value::number(r);
}

Value power(const Value& a, const Value& b) {
    if (!a.is_number() || !b.is_number()) unsupported_operands("** or pow()", a, b);
    if (a.is_float() || b.is_float() || b.as_int() < 0) {
        return Value::number(std::pow(a.as_double(), b.as_double()));
    }
    int64_t base = a.as_int();
    int64_t e = b.as_int();
    int64_t r = 1;
    while (e > 0) {
        if ((e & 1) != 0 && __builtin_mul_overflow(r, base, &r)) overflow();
        e >>= 1;
        if (e > 0 && __builtin_mul_overflow(base, base, &base)) overflow();
    }
    return Value::integer(r);
}

}  // namespace

void require_defined(const Value& v) {
    if (v.is_undefined()) fail(ErrorKind::kInvalidArgument, "{}", v.undefined_hint());
}

Value binary_op(Runtime& rt, BinaryOp op, const Value& a, const Value& b) {
    if (op == BinaryOp::kConcat) return rt.make_string(rt.str(a) + rt.str(b));
    require_defined(a);
    require_defined(b);
    switch (op) {
        case BinaryOp::kAdd:
            return add(rt, a, b);
        case BinaryOp::kSub:
            if (!a.is_number() || !b.is_number()) unsupported_operands("-", a, b);
            if (a.is_float() || b.is_float()) return Value::number(a.as_double() - b.as_double());
            {
                int64_t r;
                if (__builtin_sub_overflow(a.as_int(), b.as_int(), &r)) overflow();
                return Value::integer(r);
            }
        case BinaryOp::kMul:
            return multiply(rt, a, b);
        case BinaryOp::kMod:
            if (a.is_string())
                return rt.make_string(percent_format(rt, a.as_string(), b), a.is_markup());
            return divide(op, a, b);
        case BinaryOp::kDiv:
        case BinaryOp::kFloorDiv:
            return divide(op, a, b);
        case BinaryOp::kPow:
            return power(a, b);
        default:
            break;
    }
    fail(ErrorKind::kUnsupported, "unsupported binary operator");
}

Value unary_op(Runtime& rt, UnaryOp op, const Value& v) {
    require_defined(v);
    if (!v.is_number()) {
        fail(ErrorKind::kInvalidArgument, "bad operand type for unary {}: '{}'",
             op == UnaryOp::kNeg ? "-" : "+", type_name(v));
    }
    if (v.is_float()) return Value::number(op == UnaryOp::kNeg ? -v.as_double() : v.as_double());
    if (op == UnaryOp::kPos) return Value::integer(v.as_int());
    if (v.as_int() == INT64_MIN) overflow();
    (void)rt;
    return Value::integer(-v.as_int());
}

bool compare_op(CompareOp op, const Value& a, const Value& b) {
    switch (op) {
        case CompareOp::kEq:
            return equals(a, b);
        case CompareOp::kNe:
            return !equals(a, b);
        case CompareOp::kIn:
            return contains(b, a);
        case CompareOp::kNotIn:
            return !contains(b, a);
        default:
            break;
    }
    require_defined(a);
    require_defined(b);
    const int c = compare(a, b);
    switch (op) {
        case CompareOp::kLt:
            return c < 0;
        case CompareOp::kLe:
            return c <= 0;
        case CompareOp::kGt:
            return c > 0;
        default:
            return c >= 0;
    }
}

bool contains(const Value& container, const Value& item) {
    switch (container.kind()) {
        case Value::Kind::kString:
            if (!item.is_string()) {
                fail(ErrorKind::kInvalidArgument,
                     "'in <string>' requires string as left operand, not {}", type_name(item));
            }
            return container.as_string().find(item.as_string()) != std::string::npos;
        case Value::Kind::kList:
            return std::any_of(container.items().begin(), container.items().end(),
                               [&](const Value& v) { return equals(v, item); });
        case Value::Kind::kDict:
            return container.as_dict().find(item) != nullptr;
        case Value::Kind::kUndefined:
            return false;  // Jinja2's Undefined iterates as empty
        default:
            fail(ErrorKind::kInvalidArgument, "argument of type '{}' is not iterable",
                 type_name(container));
    }
}

Value get_attr(Runtime& rt, const Value& obj, std::string_view name) {
    (void)rt;
    switch (obj.kind()) {
        case Value::Kind::kUndefined:
            require_defined(obj);
            break;
        case Value::Kind::kDict: {
            Value m = find_method(obj, name);
            if (!m.is_undefined()) return m;
            const Value* v = obj.as_dict().find(name);
            return v != nullptr ? *v : no_attribute(obj, name);
        }
        case Value::Kind::kString:
        case Value::Kind::kList: {
            Value m = find_method(obj, name);
            return m.is_undefined() ? no_attribute(obj, name) : m;
        }
        case Value::Kind::kNamespace: {
            const Value* v = obj.as_namespace().find(name);
            return v != nullptr ? *v : no_attribute(obj, name);
        }
        case Value::Kind::kObject:
            return obj.as_object().attr(name);
        default:
            break;
    }
    return no_attribute(obj, name);
}

Value get_item(Runtime& rt, const Value& obj, const Value& key) {
    require_defined(obj);
    const bool int_key = key.is_int() || key.is_bool();
    if (obj.is_list() && int_key) {
        const auto n = static_cast<int64_t>(obj.items().size());
        int64_t i = key.as_int();
        if (i < 0) i += n;
        if (i >= 0 && i < n) return obj.items()[static_cast<size_t>(i)];
        return no_element(rt, obj, key);
    }
    if (obj.is_string() && int_key) {
        const std::string& s = obj.as_string();
        int64_t i = key.as_int();
        if (is_ascii(s)) {
            const auto n = static_cast<int64_t>(s.size());
            if (i < 0) i += n;
            if (i >= 0 && i < n) return rt.make_string(std::string(1, s[static_cast<size_t>(i)]));
        } else {
            const std::u32string cps = decode_utf8(s);
            const auto n = static_cast<int64_t>(cps.size());
            if (i < 0) i += n;
            if (i >= 0 && i < n) {
                std::string c;
                append_utf8(c, cps[static_cast<size_t>(i)]);
                return rt.make_string(std::move(c));
            }
        }
        return no_element(rt, obj, key);
    }
    if (obj.is_dict()) {
        const bool hashable = !(key.is_dict() || (key.is_list() && !key.is_tuple()));
        if (hashable) {
            if (const Value* v = obj.as_dict().find(key)) return *v;
        }
    }
    // Jinja2 falls back to the attribute for a string key (d['items'] is the method).
    if (key.is_string()) {
        if (obj.is_dict()) {
            const Value m = find_method(obj, key.as_string());
            return m.is_undefined() ? no_element(rt, obj, key) : m;
        }
        return get_attr(rt, obj, key.as_string());
    }
    return no_element(rt, obj, key);
}

Value slice(Runtime& rt, const Value& obj, const Value* start, const Value* stop,
            const Value* step) {
    require_defined(obj);
    if (!obj.is_string() && !obj.is_list())
        return Value::undefined(fmt::format("{} is not subscriptable", owner(obj)));
    int64_t bounds[3];
    const Value* parts[3] = {start, stop, step};
    const int64_t* ptrs[3] = {nullptr, nullptr, nullptr};
    for (int i = 0; i < 3; ++i) {
        if (parts[i] == nullptr) continue;
        if (!parts[i]->is_int() && !parts[i]->is_bool()) {
            // Python raises TypeError, which Jinja2's getitem turns into undefined.
            return Value::undefined("slice indices must be integers or None");
        }
        bounds[i] = parts[i]->as_int();
        ptrs[i] = &bounds[i];
    }
    if (ptrs[2] != nullptr && bounds[2] == 0)
        fail(ErrorKind::kInvalidArgument, "slice step cannot be zero");
    if (obj.is_list()) {
        const auto& items = obj.items();
        std::vector<Value> out;
        for (int64_t i :
             py_slice_indexes(static_cast<int64_t>(items.size()), ptrs[0], ptrs[1], ptrs[2])) {
            out.push_back(items[static_cast<size_t>(i)]);
        }
        return rt.make_list(std::move(out), obj.is_tuple());
    }
    const std::u32string cps = decode_utf8(obj.as_string());
    std::string out;
    for (int64_t i :
         py_slice_indexes(static_cast<int64_t>(cps.size()), ptrs[0], ptrs[1], ptrs[2])) {
        append_utf8(out, cps[static_cast<size_t>(i)]);
    }
    return rt.make_string(std::move(out), obj.is_markup());
}

std::vector<Value> iterate(Runtime& rt, const Value& v) {
    switch (v.kind()) {
        case Value::Kind::kUndefined:
            return {};
        case Value::Kind::kList:
            return v.items();
        case Value::Kind::kDict: {
            std::vector<Value> keys;
            keys.reserve(v.as_dict().size());
            for (const auto& [k, val] : v.as_dict().items()) keys.push_back(k);
            return keys;
        }
        case Value::Kind::kString: {
            const std::u32string cps = decode_utf8(v.as_string());
            if (static_cast<int64_t>(cps.size()) > rt.limits().max_list_items) {
                fail(ErrorKind::kResourceExhausted,
                     "string of {} characters is too long to iterate", cps.size());
            }
            std::vector<Value> chars;
            chars.reserve(cps.size());
            for (char32_t cp : cps) {
                std::string c;
                append_utf8(c, cp);
                chars.push_back(Value::string(std::move(c), v.is_markup()));
            }
            return chars;
        }
        default:
            fail(ErrorKind::kInvalidArgument, "'{}' object is not iterable", type_name(v));
    }
}

}  // namespace sobre::chat::jinja
