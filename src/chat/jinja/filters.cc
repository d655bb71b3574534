// Built-in filters. ref: jinja2/filters.py (Jinja2 3.1) and Hugging Face's tojson
// (transformers/utils/chat_template_utils.py).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <unordered_map>

#include "chat/jinja/builtins.h"
#include "chat/jinja/ops.h"
#include "chat/jinja/pystr.h"
#include "chat/jinja/runtime.h"
#include "core/error.h"

namespace sobre::chat::jinja {

namespace {

// Stops a filter whose result is growing past the string size limit.
void check_length(Runtime& rt, const std::string& s) {
    if (s.size() > rt.limits().max_output_bytes) {
        fail(ErrorKind::kResourceExhausted, "string longer than the limit of {} bytes",
             rt.limits().max_output_bytes);
    }
}

Value str_result(Runtime& rt, std::string s, const Value& in) {
    return rt.make_string(std::move(s), in.is_markup());
}

// Jinja2's make_attrgetter: "a.b.0" looks up each dotted part as an item (digits as indexes).
Value lookup_attribute(Runtime& rt, const Value& item, const Value& attribute) {
    if (attribute.is_int()) return get_item(rt, item, attribute);
    const std::string& path = arg_string(attribute, "filter", "attribute");
    Value cur = item;
    size_t pos = 0;
    while (true) {
        const size_t dot = path.find('.', pos);
        const std::string part =
            path.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
        const bool digits = !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit);
        cur = get_item(rt, cur,
                       digits ? Value::integer(std::atoll(part.c_str())) : Value::string(part));
        if (dot == std::string::npos) return cur;
        pos = dot + 1;
    }
}

// A sort/unique key: strings are lowered unless case_sensitive.
Value fold_case(Runtime& rt, const Value& v, bool case_sensitive) {
    if (case_sensitive || !v.is_string()) return v;
    return rt.make_string(py_lower_str(v.as_string()));
}

Value f_tojson(Runtime& rt, const Value& in, const CallArgs& args) {
    ArgBinder b(args, "tojson", {"ensure_ascii", "indent", "separators", "sort_keys"});
    JsonOptions o;
    o.ensure_ascii = b.has(0) && truthy(*b.get(0));
    if (b.has(1) && !b.get(1)->is_none()) {
        const Value& ind = *b.get(1);
        o.has_indent = true;
        o.item_sep.assign(1, ',');  // json.dumps with indent; assign(): g++ 12 -Wrestrict bug
        if (ind.is_string()) {
            o.indent = ind.as_string();
        } else {
            o.indent.assign(
                static_cast<size_t>(std::clamp<int64_t>(arg_int(ind, "tojson", "indent"), 0, 1024)),
                ' ');
        }
    }
    if (b.has(2) && !b.get(2)->is_none()) {
        const Value& sep = *b.get(2);
        if (!sep.is_list() || sep.items().size() != 2) {
            fail(ErrorKind::kInvalidArgument, "tojson(): separators must be a pair of strings");
        }
        o.item_sep = arg_string(sep.items()[0], "tojson", "separators");
        o.key_sep = arg_string(sep.items()[1], "tojson", "separators");
    }
    o.sort_keys = b.has(3) && truthy(*b.get(3));
    std::string out;
    append_json(out, in, o, rt.limits().max_output_bytes);
    return rt.make_string(std::move(out));
}

Value f_string(Runtime& rt, const Value& in, const CallArgs& args) {
    ArgBinder b(args, "string", {});
    return in.is_string() ? in : rt.make_string(rt.str(in));
}

Value f_safe(Runtime& rt, const Value& in, const CallArgs& args) {
    ArgBinder b(args, "safe", {});
    return rt.make_string(rt.str(in), true);
}

Value f_escape(Runtime& rt, const Value& in, const CallArgs& args) {
    ArgBinder b(args, "escape", {});
    if (in.is_markup()) return in;
    return rt.make_string(html_escape(rt.str(in)), true);
}

int64_t length_of(const Value& in) {
    switch (in.kind()) {
        case Value::Kind::kUndefined:
            return 0;
        case Value::Kind::kString:
            return static_cast<int64_t>(utf8_length(in.as_string()));
        case Value::Kind::kList:
            return static_cast<int64_t>(in.items().size());
        case Value::Kind::kDict:
            return static_cast<int64_t>(in.as_dict().size());
        default:
            fail(ErrorKind::kInvalidArgument, "object of type '{}' has no len()", type_name(in));
    }
}

Value f_length(Runtime&, const Value& in, const CallArgs& args) {
    ArgBinder b(args, "length", {});
    return Value::integer(length_of(in));
}

Value f_trim(Runtime& rt, const Value& in, const CallArgs& args) {
    ArgBinder b(args, "trim", {"chars"});
    const std::string* chars = nullptr;
    if (b.has(0) && !b.get(0)->is_none()) chars = &arg_string(*b.get(0), "trim", "chars");
    return str_result(rt, py_strip(rt.str(in), chars, true, true), in);
}

Value f_items(Runtime& rt, const Value& in, const CallArgs& args) {
    ArgBinder b(args, "items", {});
    if (in.is_undefined()) return rt.make_list({});
    if (!in.is_dict()) fail(ErrorKind::kInvalidArgument, "Can only get item pairs from a mapping.");
    std::vector<Value> pairs;
    for (const auto& [k, v] : in.as_dict().items()) pairs.push_back(rt.make_list({k, v}, true));
    return rt.make_list(std::move(pairs));
}

Value f_join(Runtime& rt, const Value& in, const CallArgs& args) {
    ArgBinder b(args, "join", {"d", "attribute"});
    const std::string sep = b.has(0) ? rt.str(*b.get(0)) : std::string();
    std::string out;
    bool first = true;
    for (const Value& item : iterate(rt, in)) {
        if (!first) out += sep;
        first = false;
        const bool by_attr = b.has(1) && !b.get(1)->is_none();
        out += rt.str(by_attr ? lookup_attribute(rt, item, *b.get(1)) : item);
        check_length(rt, out);
    }
    return rt.make_string(std::move(out));
}

// select/reject/selectattr/rejectattr: keep items whose test result equals `keep`.
Value select_impl(Runtime& rt, const Value& in, const CallArgs& args, bool keep, bool by_attr) {
    const char* name =
        keep ? (by_attr ? "selectattr" : "select") : (by_attr ? "rejectattr" : "reject");
    size_t at = 0;
    Value attribute;
    if (by_attr) {
        if (args.pos.empty())
            fail(ErrorKind::kInvalidArgument, "{}() missing the attribute argument", name);
        attribute = args.pos[at++];
    }
    std::string test;
    if (at < args.pos.size()) test = arg_string(args.pos[at++], name, "test");
    CallArgs test_args;
    test_args.pos.assign(args.pos.begin() + static_cast<std::ptrdiff_t>(at), args.pos.end());
    test_args.kw = args.kw;
    std::vector<Value> out;
    for (const Value& item : iterate(rt, in)) {
        const Value subject = by_attr ? lookup_attribute(rt, item, attribute) : item;
        const bool pass = test.empty() ? truthy(subject) : rt.apply_test(test, subject, test_args);
        if (pass == keep) out.push_back(item);
    }
    return rt.make_list(std::move(out));
}

Value f_select(Runtime& rt, const Value& in, const CallArgs& a) {
    return select_impl(rt, in, a, true, false);
}
Value f_reject(Runtime& rt, const Value& in, const CallArgs& a) {
    return select_impl(rt, in, a, false, false);
}
Value f_selectattr(Runtime& rt, const Value& in, const CallArgs& a) {
    return select_impl(rt, in, a, true, true);
}
Value f_rejectattr(Runtime& rt, const Value& in, const CallArgs& a) {
    return select_impl(rt, in, a, false, true);
}

Value f_map(Runtime& rt, const Value& in, const CallArgs& args) {
    std::vector<Value> out;
    const auto attr_kw = std::find_if(args.kw.begin(), args.kw.end(),
                                      [](const auto& kv) { return kv.first == "attribute"; });
    if (attr_kw != args.kw.end()) {
        ArgBinder b(args, "map", {"attribute", "default"});
        for (const Value& item : iterate(rt, in)) {
            Value v = lookup_attribute(rt, item, *b.get(0));
            if (v.is_undefined() && b.has(1)) v = *b.get(1);
            out.push_back(std::move(v));
        }
        return rt.make_list(std::move(out));
    }
    if (args.pos.empty())
        fail(ErrorKind::kInvalidArgument, "map() needs a filter name or attribute=");
    const std::string& filter = arg_string(args.pos[0], "map", "filter");
    CallArgs rest;
    rest.pos.assign(args.pos.begin() + 1, args.pos.end());
    rest.kw = args.kw;
    for (const Value& item : iterate(rt, in)) out.push_back(rt.apply_filter(filter, item, rest));
    return rt.make_list(std::move(out));
}

Value f_upper(Runtime& rt, const Value& in, const CallArgs& args) {
    ArgBinder b(args, "upper", {});
    return str_result(rt, py_upper_str(rt.str(in)), in);
}

Value f_lower(Runtime& rt, const Value& in, const CallArgs& args) {
    ArgBinder b(args, "lower", {});
    return str_result(rt, py_lower_str(rt.str(in)), in);
}

Value f_capitalize(Runtime& rt, const Value& in, const CallArgs& args) {
    ArgBinder b(args, "capitalize", {});
    std::u32string cps = decode_utf8(rt.str(in));
    for (size_t i = 0; i < cps.size(); ++i) cps[i] = i == 0 ? py_upper(cps[i]) : py_lower(cps[i]);
    return str_result(rt, encode_utf8(cps), in);
}

Value f_title(Runtime& rt, const Value& in, const CallArgs& args) {
    ArgBinder b(args, "title", {});
    // Jinja2 capitalizes after whitespace and - ( { [ <, lowering the rest of each word.
    std::u32string cps = decode_utf8(rt.str(in));
    bool start = true;
    for (char32_t& cp : cps) {
        const bool sep =
            py_isspace(cp) || cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<';
        if (sep) {
            start = true;
            continue;
        }
        cp = start ? py_upper(cp) : py_lower(cp);
        start = false;
    }
    return str_result(rt, encode_utf8(cps), in);
}

Value f_replace(Runtime& rt, const Value& in, const CallArgs& args) {
    ArgBinder b(args, "replace", {"old", "new", "count"});
    if (!b.has(0) || !b.has(1)) fail(ErrorKind::kInvalidArgument, "replace() needs old and new");
    const int64_t count =
        b.has(2) && !b.get(2)->is_none() ? arg_int(*b.get(2), "replace", "count") : -1;
    const std::string s = rt.str(in);
    const std::string old_s = rt.str(*b.get(0));
    const std::string new_s = rt.str(*b.get(1));
    if (!new_s.empty() && s.size() / std::max<size_t>(old_s.size(), 1) * new_s.size() >
                              rt.limits().max_output_bytes) {
        fail(ErrorKind::kResourceExhausted, "replace() result longer than the limit of {} bytes",
             rt.limits().max_output_bytes);
    }
    return str_result(rt, py_replace(s, old_s, new_s, count), in);
}

Value f_first(Runtime& rt, const Value& in, const CallArgs& args) {
    ArgBinder b(args, "first", {});
    const std::vector<Value> items = iterate(rt, in);
    return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();
}

Value f_last(Runtime& rt, const Value& in, const CallArgs& args) {
    ArgBinder b(args, "last", {});
    const std::vector<Value> items = iterate(rt, in);
    return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
}

Value f_list(Runtime& rt, const Value& in, const CallArgs& args) {
    ArgBinder b(args, "list", {});
    return rt.make_list(iterate(rt, in));
}

Value f_reverse(Runtime& rt, const Value& in, const CallArgs& args) {
    ArgBinder b(args, "reverse", {});
    if (in.is_string()) {
        std::u32string cps = decode_utf8(in.as_string());
        std::reverse(cps.begin(), cps.end());
        return str_result(rt, encode_utf8(cps), in);
    }
    std::vector<Value> items = iterate(rt, in);
    std::reverse(items.begin(), items.end());
    return rt.make_list(std::move(items));
}

Value f_sort(Runtime& rt, const Value& in, const CallArgs& args) {
    ArgBinder b(args, "sort", {"reverse", "case_sensitive", "attribute"});
    const bool reverse = b.has(0) && truthy(*b.get(0));
    const bool cs = b.has(1) && truthy(*b.get(1));
    std::vector<std::pair<Value, Value>> keyed;
    for (const Value& item : iterate(rt, in)) {
        const Value k =
            b.has(2) && !b.get(2)->is_none() ? lookup_attribute(rt, item, *b.get(2)) : item;
        keyed.emplace_back(fold_case(rt, k, cs), item);
    }
    std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
        return reverse ? compare(y.first, x.first) < 0 : compare(x.first, y.first) < 0;
    });
    std::vector<Value> out;
    for (auto& kv : keyed) out.push_back(std::move(kv.second));
    return rt.make_list(std::move(out));
}

Value f_unique(Runtime& rt, const Value& in, const CallArgs& args) {
    ArgBinder b(args, "unique", {"case_sensitive", "attribute"});
    const bool cs = b.has(0) && truthy(*b.get(0));
    std::vector<Value> out;
    std::vector<std::string> seen;
    for (const Value& item : iterate(rt, in)) {
        const Value k =
            b.has(1) && !b.get(1)->is_none() ? lookup_attribute(rt, item, *b.get(1)) : item;
        std::string h = hash_key(fold_case(rt, k, cs));
        if (std::find(seen.begin(), seen.end(), h) != seen.end()) continue;
        seen.push_back(std::move(h));
        out.push_back(item);
    }
    return rt.make_list(std::move(out));
}

Value f_dictsort(Runtime& rt, const Value& in, const CallArgs& args) {
    ArgBinder b(args, "dictsort", {"case_sensitive", "by", "reverse"});
    if (!in.is_dict())
        fail(ErrorKind::kInvalidArgument, "dictsort() needs a mapping, not '{}'", type_name(in));
    const bool cs = b.has(0) && truthy(*b.get(0));
    const std::string by = b.has(1) ? arg_string(*b.get(1), "dictsort", "by") : "key";
    if (by != "key" && by != "value")
        fail(ErrorKind::kInvalidArgument, "You can only sort by either 'key' or 'value'");
    const bool reverse = b.has(2) && truthy(*b.get(2));
    std::vector<std::pair<Value, Value>> pairs = in.as_dict().items();
    std::stable_sort(pairs.begin(), pairs.end(), [&](const auto& x, const auto& y) {
        const Value a = fold_case(rt, by == "key" ? x.first : x.second, cs);
        const Value c = fold_case(rt, by == "key" ? y.first : y.second, cs);
        return reverse ? compare(c, a) < 0 : compare(a, c) < 0;
    });
    std::vector<Value> out;
    for (auto& [k, v] : pairs) out.push_back(rt.make_list({k, v}, true));
    return rt.make_list(std::move(out));
}

Value f_default(Runtime&, const Value& in, const CallArgs& args) {
    ArgBinder b(args, "default", {"default_value", "boolean"});
    const bool boolean = b.has(1) && truthy(*b.get(1));
    if (in.is_undefined() || (boolean && !truthy(in)))
        return b.has(0) ? *b.get(0) : Value::string("");
    return in;
}

Value f_int(Runtime& rt, const Value& in, const CallArgs& args) {
    ArgBinder b(args, "int", {"default", "base"});
    const Value dflt = b.has(0) ? *b.get(0) : Value::integer(0);
    const int base = b.has(1) ? static_cast<int>(arg_int(*b.get(1), "int", "base")) : 10;
    if (in.is_int() || in.is_bool()) return Value::integer(in.as_int());
    if (in.is_float()) {
        const double d = std::trunc(in.as_double());
        if (!std::isfinite(d) || std::fabs(d) > 9.2e18) return dflt;
        return Value::integer(static_cast<int64_t>(d));
    }
    if (!in.is_string()) return dflt;
    const std::string s = py_strip(in.as_string(), nullptr, true, true);
    if (base < 2 || base > 36) return dflt;
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(s.c_str(), &end, base);
    if (!s.empty() && end == s.c_str() + s.size() && errno == 0) return Value::integer(v);
    // Jinja2 falls back to float parsing for strings like "3.7".
    const double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && end == s.c_str() + s.size() && std::isfinite(d) && std::fabs(d) < 9.2e18) {
        return Value::integer(static_cast<int64_t>(d));
    }
    (void)rt;
    return dflt;
}

Value f_float(Runtime&, const Value& in, const CallArgs& args) {
    ArgBinder b(args, "float", {"default"});
    const Value dflt = b.has(0) ? *b.get(0) : Value::number(0.0);
    if (in.is_number()) return Value::number(in.as_double());
    if (!in.is_string()) return dflt;
    const std::string s = py_strip(in.as_string(), nullptr, true, true);
    char* end = nullptr;
    const double d = std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size()) return dflt;
    return Value::number(d);
}

Value f_abs(Runtime& rt, const Value& in, const CallArgs& args) {
    ArgBinder b(args, "abs", {});
    if (!in.is_number())
        fail(ErrorKind::kInvalidArgument, "bad operand type for abs(): '{}'", type_name(in));
    if (in.is_float()) return Value::number(std::fabs(in.as_double()));
    return in.as_int() < 0 ? unary_op(rt, UnaryOp::kNeg, in) : Value::integer(in.as_int());
}

Value f_round(Runtime&, const Value& in, const CallArgs& args) {
    ArgBinder b(args, "round", {"precision", "method"});
    const int64_t precision =
        b.has(0) ? std::clamp<int64_t>(arg_int(*b.get(0), "round", "precision"), -300, 300) : 0;
    const std::string method = b.has(1) ? arg_string(*b.get(1), "round", "method") : "common";
    if (!in.is_number())
        fail(ErrorKind::kInvalidArgument, "round(): '{}' is not a number", type_name(in));
    if (!in.is_float() && method == "common") {
        // Python's round() of an int is an int, rounded half to even at negative precision.
        int64_t v = in.as_int();
        if (precision >= 0) return Value::integer(v);
        if (precision < -18) return Value::integer(0);
        int64_t unit = 1;
        for (int64_t i = 0; i < -precision; ++i) unit *= 10;
        int64_t q = v / unit;
        int64_t r = v % unit;
        if (r < 0) --q, r += unit;
        if (2 * r > unit || (2 * r == unit && (q & 1) != 0)) ++q;
        int64_t out;
        if (__builtin_mul_overflow(q, unit, &out))
            fail(ErrorKind::kUnsupported, "integer overflow in round()");
        return Value::integer(out);
    }
    const double x = in.as_double();
    const double scale = std::pow(10.0, static_cast<double>(precision));
    if (method == "ceil") return Value::number(std::ceil(x * scale) / scale);
    if (method == "floor") return Value::number(std::floor(x * scale) / scale);
    if (method != "common")
        fail(ErrorKind::kInvalidArgument, "method must be 'common', 'ceil' or 'floor'");
    if (precision < 0) return Value::number(std::nearbyint(x * scale) / scale);
    // Python's round() is correctly rounded, half to even, on the exact binary value; printf's
    // %.Nf is too, so format and read back.
    char buf[512];
    std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(precision), x);
    return Value::number(std::strtod(buf, nullptr));
}

Value f_sum(Runtime& rt, const Value& in, const CallArgs& args) {
    ArgBinder b(args, "sum", {"attribute", "start"});
    Value total = b.has(1) ? *b.get(1) : Value::integer(0);
    if (total.is_string())
        fail(ErrorKind::kInvalidArgument, "sum() can't sum strings [use ''.join(seq) instead]");
    for (const Value& item : iterate(rt, in)) {
        const Value v =
            b.has(0) && !b.get(0)->is_none() ? lookup_attribute(rt, item, *b.get(0)) : item;
        total = binary_op(rt, BinaryOp::kAdd, total, v);
    }
    return total;
}

Value min_max(Runtime& rt, const Value& in, const CallArgs& args, bool want_max) {
    ArgBinder b(args, want_max ? "max" : "min", {"case_sensitive", "attribute"});
    const bool cs = b.has(0) && truthy(*b.get(0));
    const std::vector<Value> items = iterate(rt, in);
    if (items.empty())
        return Value::undefined(fmt::format("No aggregated item, sequence was empty."));
    const Value* best = &items[0];
    Value best_key;
    for (const Value& item : items) {
        Value k = fold_case(
            rt, b.has(1) && !b.get(1)->is_none() ? lookup_attribute(rt, item, *b.get(1)) : item,
            cs);
        if (&item == &items[0] ||
            (want_max ? compare(k, best_key) > 0 : compare(k, best_key) < 0)) {
            best = &item;
            best_key = std::move(k);
        }
    }
    return *best;
}

Value f_min(Runtime& rt, const Value& in, const CallArgs& a) { return min_max(rt, in, a, false); }
Value f_max(Runtime& rt, const Value& in, const CallArgs& a) { return min_max(rt, in, a, true); }

Value f_indent(Runtime& rt, const Value& in, const CallArgs& args) {
    ArgBinder b(args, "indent", {"width", "first", "blank"});
    std::string ind = "    ";
    if (b.has(0)) {
        ind = b.get(0)->is_string()
                  ? b.get(0)->as_string()
                  : std::string(static_cast<size_t>(std::clamp<int64_t>(
                                    arg_int(*b.get(0), "indent", "width"), 0, 1024)),
                                ' ');
    }
    const bool first = b.has(1) && truthy(*b.get(1));
    const bool blank = b.has(2) && truthy(*b.get(2));
    // Jinja2 appends a newline before splitlines() so a trailing newline survives.
    const std::vector<std::string> lines = py_splitlines(rt.str(in) + "\n");
    std::string out;
    for (size_t i = 0; i < lines.size(); ++i) {
        if (i > 0) {
            out += "\n";
            if (blank || !lines[i].empty()) out += ind;
        }
        out += lines[i];
        check_length(rt, out);
    }
    if (first) out = ind + out;
    return str_result(rt, std::move(out), in);
}

Value f_format(Runtime& rt, const Value& in, const CallArgs& args) {
    if (!args.pos.empty() && !args.kw.empty()) {
        fail(ErrorKind::kInvalidArgument,
             "format() can't handle positional and keyword arguments at the same time");
    }
    Value packed;
    if (!args.kw.empty()) {
        auto d = std::make_shared<Dict>();
        for (const auto& [k, v] : args.kw) d->insert(Value::string(k), v);
        packed = Value::dict(std::move(d));
    } else {
        packed = rt.make_list(args.pos, true);
    }
    return str_result(rt, percent_format(rt, rt.str(in), packed), in);
}

Value f_attr(Runtime& rt, const Value& in, const CallArgs& args) {
    ArgBinder b(args, "attr", {"name"});
    if (!b.has(0)) fail(ErrorKind::kInvalidArgument, "attr() missing the name argument");
    const std::string& name = arg_string(*b.get(0), "attr", "name");
    // Only real attributes: attr() never falls back to dict items.
    if (in.is_namespace() || in.is_object()) return get_attr(rt, in, name);
    const Value m = find_method(in, name);
    return m.is_undefined()
               ? Value::undefined(fmt::format("'{}' has no attribute '{}'", type_name(in), name))
               : m;
}

Value f_wordcount(Runtime& rt, const Value& in, const CallArgs& args) {
    ArgBinder b(args, "wordcount", {});
    return Value::integer(static_cast<int64_t>(py_split(rt.str(in), nullptr, -1, false).size()));
}

Value f_center(Runtime& rt, const Value& in, const CallArgs& args) {
    ArgBinder b(args, "center", {"width"});
    CallArgs width;
    width.pos.push_back(b.has(0) ? *b.get(0) : Value::integer(80));
    return rt.call(find_method(rt.make_string(rt.str(in)), "center"), width);
}

Value f_batch(Runtime& rt, const Value& in, const CallArgs& args) {
    ArgBinder b(args, "batch", {"linecount", "fill_with"});
    if (!b.has(0)) fail(ErrorKind::kInvalidArgument, "batch() missing the linecount argument");
    const int64_t n = arg_int(*b.get(0), "batch", "linecount");
    if (n <= 0) fail(ErrorKind::kInvalidArgument, "batch(): linecount must be positive");
    std::vector<Value> out;
    std::vector<Value> cur;
    for (const Value& item : iterate(rt, in)) {
        cur.push_back(item);
        if (static_cast<int64_t>(cur.size()) == n)
            out.push_back(rt.make_list(std::move(cur))), cur.clear();
    }
    if (!cur.empty()) {
        if (b.has(1) && !b.get(1)->is_none()) {
            while (static_cast<int64_t>(cur.size()) < n) cur.push_back(*b.get(1));
        }
        out.push_back(rt.make_list(std::move(cur)));
    }
    return rt.make_list(std::move(out));
}

const std::unordered_map<std::string_view, FilterFn>& filter_table() {
    static const std::unordered_map<std::string_view, FilterFn> kTable = {
        {"abs", f_abs},
        {"attr", f_attr},
        {"batch", f_batch},
        {"capitalize", f_capitalize},
        {"center", f_center},
        {"count", f_length},
        {"d", f_default},
        {"default", f_default},
        {"dictsort", f_dictsort},
        {"e", f_escape},
        {"escape", f_escape},
        {"first", f_first},
        {"float", f_float},
        {"format", f_format},
        {"indent", f_indent},
        {"int", f_int},
        {"items", f_items},
        {"join", f_join},
        {"last", f_last},
        {"length", f_length},
        {"list", f_list},
        {"lower", f_lower},
        {"map", f_map},
        {"max", f_max},
        {"min", f_min},
        {"reject", f_reject},
        {"rejectattr", f_rejectattr},
        {"replace", f_replace},
        {"reverse", f_reverse},
        {"round", f_round},
        {"safe", f_safe},
        {"select", f_select},
        {"selectattr", f_selectattr},
        {"sort", f_sort},
        {"string", f_string},
        {"sum", f_sum},
        {"title", f_title},
        {"tojson", f_tojson},
        {"trim", f_trim},
        {"unique", f_unique},
        {"upper", f_upper},
        {"wordcount", f_wordcount},
    };
    return kTable;
}

}  // namespace

FilterFn find_filter(std::string_view name) {
    const auto& t = filter_table();
    const auto it = t.find(name);
    return it == t.end() ? nullptr : it->second;
}

}  // namespace sobre::chat::jinja
