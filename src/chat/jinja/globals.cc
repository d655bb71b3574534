// Global functions (range, namespace, dict, raise_exception, strftime_now), argument binding and
// Python's %-formatting.
#include <cstdio>
#include <ctime>

#include "chat/jinja/builtins.h"
#include "chat/jinja/pystr.h"
#include "chat/jinja/runtime.h"
#include "core/error.h"

namespace sobre::chat::jinja {

namespace {

// Jinja2's sandbox refuses longer ranges (jinja2/sandbox.py MAX_RANGE).
constexpr int64_t kMaxRange = 100000;

Value range_fn(Runtime& rt, const CallArgs& args) {
    if (!args.kw.empty()) fail(ErrorKind::kInvalidArgument, "range() takes no keyword arguments");
    if (args.pos.empty() || args.pos.size() > 3) {
        fail(ErrorKind::kInvalidArgument, "range expected 1 to 3 arguments, got {}",
             args.pos.size());
    }
    int64_t v[3] = {0, 0, 1};
    for (size_t i = 0; i < args.pos.size(); ++i) v[i] = arg_int(args.pos[i], "range", "argument");
    int64_t start = 0, stop = v[0], step = 1;
    if (args.pos.size() >= 2) start = v[0], stop = v[1];
    if (args.pos.size() == 3) step = v[2];
    if (step == 0) fail(ErrorKind::kInvalidArgument, "range() arg 3 must not be zero");
    const __int128 span =
        step > 0 ? static_cast<__int128>(stop) - start : static_cast<__int128>(start) - stop;
    const __int128 st = step > 0 ? step : -static_cast<__int128>(step);
    const __int128 len = span <= 0 ? 0 : (span + st - 1) / st;
    if (len > kMaxRange) {
        fail(ErrorKind::kResourceExhausted, "range too big: the sandbox allows at most {} items",
             kMaxRange);
    }
    std::vector<Value> items;
    for (__int128 i = 0; i < len; ++i)
        items.push_back(Value::integer(static_cast<int64_t>(start + i * step)));
    return rt.make_list(std::move(items));
}

// namespace(dict?, **kwargs) and dict(dict?, **kwargs) take the same arguments.
std::vector<std::pair<Value, Value>> mapping_args(const CallArgs& args, std::string_view fn) {
    std::vector<std::pair<Value, Value>> out;
    if (args.pos.size() > 1)
        fail(ErrorKind::kInvalidArgument, "{}() takes at most 1 positional argument", fn);
    if (args.pos.size() == 1) {
        const Value& src = args.pos[0];
        if (src.is_dict()) {
            out = src.as_dict().items();
        } else if (src.is_list()) {
            for (const Value& pair : src.items()) {
                if (!pair.is_list() || pair.items().size() != 2) {
                    fail(ErrorKind::kInvalidArgument, "{}(): sequence elements must be pairs", fn);
                }
                out.emplace_back(pair.items()[0], pair.items()[1]);
            }
        } else if (!src.is_undefined()) {
            fail(ErrorKind::kInvalidArgument, "{}(): '{}' object is not a mapping", fn,
                 type_name(src));
        }
    }
    for (const auto& [k, v] : args.kw) out.emplace_back(Value::string(k), v);
    return out;
}

Value namespace_fn(Runtime& rt, const CallArgs& args) {
    auto ns = rt.new_namespace();
    for (auto& [k, v] : mapping_args(args, "namespace")) {
        if (!k.is_string()) fail(ErrorKind::kInvalidArgument, "namespace() keys must be strings");
        ns->set(k.as_string(), std::move(v));
    }
    return Value::ns(std::move(ns));
}

Value dict_fn(Runtime&, const CallArgs& args) {
    auto d = std::make_shared<Dict>();
    for (auto& [k, v] : mapping_args(args, "dict")) d->insert(std::move(k), std::move(v));
    return Value::dict(std::move(d));
}

Value raise_exception_fn(Runtime& rt, const CallArgs& args) {
    ArgBinder b(args, "raise_exception", {"message"});
    fail(ErrorKind::kInvalidArgument, "{}", b.has(0) ? rt.str(*b.get(0)) : std::string());
}

Value strftime_now_fn(Runtime& rt, const CallArgs& args) {
    ArgBinder b(args, "strftime_now", {"format"});
    if (!b.has(0)) fail(ErrorKind::kInvalidArgument, "strftime_now() missing argument 'format'");
    const std::string& f = arg_string(*b.get(0), "strftime_now", "format");
    if (f.size() > 256)
        fail(ErrorKind::kInvalidArgument, "strftime_now(): format longer than 256 bytes");
    if (f.empty()) return rt.make_string("");
    char buf[4096];
    const size_t n = std::strftime(buf, sizeof buf, f.c_str(), &rt.now());
    if (n == 0) fail(ErrorKind::kInvalidArgument, "strftime_now(): cannot format '{}'", f);
    return rt.make_string(std::string(buf, n));
}

void define(Scope& scope, const char* name, Value (*fn)(Runtime&, const CallArgs&)) {
    auto f = std::make_shared<Function>();
    f->name = name;
    f->call = fn;
    scope.set(name, Value::function(std::move(f)));
}

}  // namespace

void add_globals(Scope& scope) {
    define(scope, "range", range_fn);
    define(scope, "namespace", namespace_fn);
    define(scope, "dict", dict_fn);
    define(scope, "raise_exception", raise_exception_fn);
    define(scope, "strftime_now", strftime_now_fn);
}

ArgBinder::ArgBinder(const CallArgs& args, std::string_view fn,
                     std::initializer_list<std::string_view> params)
    : bound_(params.size(), nullptr) {
    if (args.pos.size() > params.size()) {
        fail(ErrorKind::kInvalidArgument, "{}() takes at most {} argument(s) ({} given)", fn,
             params.size(), args.pos.size());
    }
    for (size_t i = 0; i < args.pos.size(); ++i) bound_[i] = &args.pos[i];
    for (const auto& [k, v] : args.kw) {
        size_t i = 0;
        for (std::string_view p : params) {
            if (p == k) break;
            ++i;
        }
        if (i == params.size())
            fail(ErrorKind::kInvalidArgument, "{}() got an unexpected keyword argument '{}'", fn,
                 k);
        if (bound_[i] != nullptr)
            fail(ErrorKind::kInvalidArgument, "{}() got multiple values for argument '{}'", fn, k);
        bound_[i] = &v;
    }
}

int64_t arg_int(const Value& v, std::string_view fn, std::string_view param) {
    if (v.is_int() || v.is_bool()) return v.as_int();
    fail(ErrorKind::kInvalidArgument, "{}(): '{}' must be an integer, not '{}'", fn, param,
         type_name(v));
}

const std::string& arg_string(const Value& v, std::string_view fn, std::string_view param) {
    if (v.is_string()) return v.as_string();
    fail(ErrorKind::kInvalidArgument, "{}(): '{}' must be a string, not '{}'", fn, param,
         type_name(v));
}

namespace {

struct Spec {
    std::string flags;
    int width = -1;
    int precision = -1;
    char type = 's';
};

std::string pad(std::string s, const Spec& sp) {
    const auto len = static_cast<int>(utf8_length(s));
    if (sp.width <= len) return s;
    const std::string fill(static_cast<size_t>(sp.width - len), ' ');
    return sp.flags.find('-') != std::string::npos ? s + fill : fill + s;
}

std::string format_one(Runtime& rt, const Spec& sp, const Value& v) {
    char cfmt[32];
    char buf[512];
    const std::string flags = sp.flags;
    const int w = std::min(sp.width, 200);
    const int p = std::min(sp.precision, 200);
    switch (sp.type) {
        case 's': {
            std::string s = rt.str(v);
            if (sp.precision >= 0)
                s = encode_utf8(decode_utf8(s).substr(0, static_cast<size_t>(sp.precision)));
            return pad(std::move(s), sp);
        }
        case 'r':
        case 'a': {
            std::string s;
            append_repr(s, v, rt.limits().max_output_bytes);
            return pad(std::move(s), sp);
        }
        case 'd':
        case 'i':
        case 'u':
        case 'x':
        case 'X':
        case 'o': {
            if (!v.is_number())
                fail(ErrorKind::kInvalidArgument, "%{} format: a real number is required, not {}",
                     sp.type, type_name(v));
            const auto i = v.is_float() ? static_cast<long long>(v.as_double())
                                        : static_cast<long long>(v.as_int());
            const char t = sp.type == 'i' || sp.type == 'u' ? 'd' : sp.type;
            std::snprintf(cfmt, sizeof cfmt, "%%%s*.*ll%c", flags.c_str(), t);
            std::snprintf(buf, sizeof buf, cfmt, w, p, i);
            return buf;
        }
        case 'f':
        case 'F':
        case 'e':
        case 'E':
        case 'g':
        case 'G': {
            if (!v.is_number())
                fail(ErrorKind::kInvalidArgument, "%{} format: a real number is required, not {}",
                     sp.type, type_name(v));
            std::snprintf(cfmt, sizeof cfmt, "%%%s*.*%c", flags.c_str(), sp.type);
            std::snprintf(buf, sizeof buf, cfmt, w, p < 0 ? 6 : p, v.as_double());
            return buf;
        }
        case 'c': {
            if (v.is_string() && utf8_length(v.as_string()) == 1) return pad(v.as_string(), sp);
            if (v.is_int() && v.as_int() >= 0 && v.as_int() <= 0x10FFFF) {
                std::string s;
                append_utf8(s, static_cast<char32_t>(v.as_int()));
                return pad(std::move(s), sp);
            }
            fail(ErrorKind::kInvalidArgument, "%c requires an int or a single character");
        }
        default:
            fail(ErrorKind::kUnsupported, "unsupported format character '{}'",
                 std::string(1, sp.type));
    }
}

// The conversion spec after '%' (and any "(key)"): flags, width, .precision, length, type.
// Leaves `i` on the type character.
Spec parse_spec(std::string_view f, size_t& i) {
    Spec sp;
    while (i < f.size() && std::string_view("-+ #0").find(f[i]) != std::string_view::npos) {
        sp.flags.push_back(f[i++]);
    }
    auto number = [&](int& out_n) {
        if (i < f.size() && f[i] == '*') {
            fail(ErrorKind::kUnsupported, "'*' widths are not supported in % formatting");
        }
        if (i < f.size() && f[i] >= '0' && f[i] <= '9') out_n = 0;
        while (i < f.size() && f[i] >= '0' && f[i] <= '9') {
            out_n = std::min(out_n * 10 + (f[i++] - '0'), 100000);
        }
    };
    number(sp.width);
    if (i < f.size() && f[i] == '.') {
        ++i;
        sp.precision = 0;
        number(sp.precision);
    }
    while (i < f.size() && (f[i] == 'h' || f[i] == 'l' || f[i] == 'L')) ++i;
    if (i >= f.size()) fail(ErrorKind::kInvalidArgument, "incomplete format");
    sp.type = f[i];
    return sp;
}

}  // namespace

std::string percent_format(Runtime& rt, std::string_view f, const Value& args) {
    std::vector<Value> seq;
    if (args.is_list() && args.is_tuple()) {
        seq = args.items();
    } else {
        seq.push_back(args);
    }
    const bool mapping = args.is_dict();
    size_t next = 0;
    std::string out;
    for (size_t i = 0; i < f.size(); ++i) {
        if (f[i] != '%') {
            out.push_back(f[i]);
            continue;
        }
        if (++i >= f.size()) fail(ErrorKind::kInvalidArgument, "incomplete format");
        if (f[i] == '%') {
            out.push_back('%');
            continue;
        }
        const Value* arg = nullptr;
        if (f[i] == '(') {
            const size_t close = f.find(')', i);
            if (close == std::string_view::npos)
                fail(ErrorKind::kInvalidArgument, "incomplete format key");
            if (!mapping) fail(ErrorKind::kInvalidArgument, "format requires a mapping");
            arg = args.as_dict().find(f.substr(i + 1, close - i - 1));
            if (arg == nullptr)
                fail(ErrorKind::kInvalidArgument, "format key '{}' not found",
                     f.substr(i + 1, close - i - 1));
            i = close + 1;
        }
        const Spec sp = parse_spec(f, i);
        if (arg == nullptr) {
            if (mapping) {
                arg = &args;
            } else {
                if (next >= seq.size())
                    fail(ErrorKind::kInvalidArgument, "not enough arguments for format string");
                arg = &seq[next++];
            }
        }
        out += format_one(rt, sp, *arg);
        if (out.size() > rt.limits().max_output_bytes)
            fail(ErrorKind::kResourceExhausted, "formatted string too long");
    }
    if (!mapping && next < seq.size()) {
        fail(ErrorKind::kInvalidArgument, "not all arguments converted during string formatting");
    }
    return out;
}

}  // namespace sobre::chat::jinja
