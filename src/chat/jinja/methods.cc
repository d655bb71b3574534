// Methods of str, list and dict values (`content.split('</think>')`, `message.get('x')`), as
// Python defines them and Jinja2's ImmutableSandboxedEnvironment exposes them.
#include <algorithm>
#include <unordered_map>

#include "chat/jinja/builtins.h"
#include "chat/jinja/ops.h"
#include "chat/jinja/pystr.h"
#include "chat/jinja/runtime.h"
#include "core/error.h"

namespace sobre::chat::jinja {

namespace {

using MethodFn = Value (*)(Runtime& rt, const Value& self, const CallArgs& args);

Value list_of_strings(Runtime& rt, std::vector<std::string> parts) {
    std::vector<Value> items;
    items.reserve(parts.size());
    for (std::string& p : parts) items.push_back(Value::string(std::move(p)));
    return rt.make_list(std::move(items));
}

const std::string* optional_string(const ArgBinder& b, size_t i, std::string_view fn) {
    if (!b.has(i) || b.get(i)->is_none()) return nullptr;
    return &arg_string(*b.get(i), fn, "chars");
}

Value m_strip_impl(Runtime& rt, const Value& self, const CallArgs& args, const char* fn, bool l,
                   bool r) {
    ArgBinder b(args, fn, {"chars"});
    return rt.make_string(py_strip(self.as_string(), optional_string(b, 0, fn), l, r),
                          self.is_markup());
}
Value m_strip(Runtime& rt, const Value& s, const CallArgs& a) {
    return m_strip_impl(rt, s, a, "strip", true, true);
}
Value m_lstrip(Runtime& rt, const Value& s, const CallArgs& a) {
    return m_strip_impl(rt, s, a, "lstrip", true, false);
}
Value m_rstrip(Runtime& rt, const Value& s, const CallArgs& a) {
    return m_strip_impl(rt, s, a, "rstrip", false, true);
}

Value m_split_impl(Runtime& rt, const Value& self, const CallArgs& args, const char* fn,
                   bool right) {
    ArgBinder b(args, fn, {"sep", "maxsplit"});
    const std::string* sep = optional_string(b, 0, fn);
    if (sep != nullptr && sep->empty()) fail(ErrorKind::kInvalidArgument, "empty separator");
    const int64_t maxsplit = b.has(1) ? arg_int(*b.get(1), fn, "maxsplit") : -1;
    return list_of_strings(rt, py_split(self.as_string(), sep, maxsplit, right));
}
Value m_split(Runtime& rt, const Value& s, const CallArgs& a) {
    return m_split_impl(rt, s, a, "split", false);
}
Value m_rsplit(Runtime& rt, const Value& s, const CallArgs& a) {
    return m_split_impl(rt, s, a, "rsplit", true);
}

Value m_splitlines(Runtime& rt, const Value& self, const CallArgs& args) {
    ArgBinder b(args, "splitlines", {"keepends"});
    if (b.has(0) && truthy(*b.get(0)))
        fail(ErrorKind::kUnsupported, "splitlines(keepends=True) is not supported");
    return list_of_strings(rt, py_splitlines(self.as_string()));
}

// The code-point range [start, end) of str.startswith/endswith/find/count, as a substring.
std::string str_window(const Value& self, const ArgBinder& b, size_t first, std::string_view fn) {
    if (!b.has(first) && !b.has(first + 1)) return self.as_string();
    const std::u32string cps = decode_utf8(self.as_string());
    const auto n = static_cast<int64_t>(cps.size());
    auto bound = [&](size_t i, int64_t dflt) {
        if (!b.has(i) || b.get(i)->is_none()) return dflt;
        int64_t v = arg_int(*b.get(i), fn, i == first ? "start" : "end");
        if (v < 0) v += n;
        return std::clamp<int64_t>(v, 0, n);
    };
    const int64_t s = bound(first, 0);
    const int64_t e = bound(first + 1, n);
    if (e <= s) return std::string();
    return encode_utf8(
        std::u32string_view(cps).substr(static_cast<size_t>(s), static_cast<size_t>(e - s)));
}

Value m_affix_impl(const Value& self, const CallArgs& args, const char* fn, bool start) {
    ArgBinder b(args, fn, {"prefix", "start", "end"});
    if (!b.has(0))
        fail(ErrorKind::kInvalidArgument, "{}() takes at least 1 argument (0 given)", fn);
    const std::string s = str_window(self, b, 1, fn);
    auto match = [&](const Value& a) {
        const std::string& x = arg_string(a, fn, "prefix");
        if (x.size() > s.size()) return false;
        return start ? s.compare(0, x.size(), x) == 0
                     : s.compare(s.size() - x.size(), x.size(), x) == 0;
    };
    const Value& p = *b.get(0);
    if (p.is_list() && p.is_tuple())
        return Value::boolean(std::any_of(p.items().begin(), p.items().end(), match));
    return Value::boolean(match(p));
}
Value m_startswith(Runtime&, const Value& s, const CallArgs& a) {
    return m_affix_impl(s, a, "startswith", true);
}
Value m_endswith(Runtime&, const Value& s, const CallArgs& a) {
    return m_affix_impl(s, a, "endswith", false);
}

Value m_upper(Runtime& rt, const Value& s, const CallArgs& a) {
    ArgBinder b(a, "upper", {});
    return rt.make_string(py_upper_str(s.as_string()), s.is_markup());
}
Value m_lower(Runtime& rt, const Value& s, const CallArgs& a) {
    ArgBinder b(a, "lower", {});
    return rt.make_string(py_lower_str(s.as_string()), s.is_markup());
}
Value m_capitalize(Runtime& rt, const Value& s, const CallArgs& a) {
    ArgBinder b(a, "capitalize", {});
    std::u32string cps = decode_utf8(s.as_string());
    for (size_t i = 0; i < cps.size(); ++i) cps[i] = i == 0 ? py_upper(cps[i]) : py_lower(cps[i]);
    return rt.make_string(encode_utf8(cps), s.is_markup());
}
Value m_title(Runtime& rt, const Value& s, const CallArgs& a) {
    ArgBinder b(a, "title", {});
    // Python's str.title(): a cased letter after an uncased character starts a word.
    std::u32string cps = decode_utf8(s.as_string());
    bool prev_cased = false;
    for (char32_t& cp : cps) {
        const bool cased = py_isupper_cp(cp) || py_islower_cp(cp);
        if (cased) cp = prev_cased ? py_lower(cp) : py_upper(cp);
        prev_cased = cased;
    }
    return rt.make_string(encode_utf8(cps), s.is_markup());
}

Value m_replace(Runtime& rt, const Value& self, const CallArgs& args) {
    ArgBinder b(args, "replace", {"old", "new", "count"});
    if (!b.has(0) || !b.has(1))
        fail(ErrorKind::kInvalidArgument, "replace() expected at least 2 arguments");
    const std::string& old_s = arg_string(*b.get(0), "replace", "old");
    const std::string& new_s = arg_string(*b.get(1), "replace", "new");
    const int64_t count = b.has(2) ? arg_int(*b.get(2), "replace", "count") : -1;
    const std::string& s = self.as_string();
    if (!new_s.empty() && (s.size() + 1) / std::max<size_t>(old_s.size(), 1) * new_s.size() >
                              rt.limits().max_output_bytes) {
        fail(ErrorKind::kResourceExhausted, "replace() result longer than the limit of {} bytes",
             rt.limits().max_output_bytes);
    }
    return rt.make_string(py_replace(s, old_s, new_s, count), self.is_markup());
}

// find/rfind/index/rindex/count share their arguments: (sub, start, end).
Value m_find_impl(const Value& self, const CallArgs& args, const char* fn, bool right, bool raise) {
    ArgBinder b(args, fn, {"sub", "start", "end"});
    if (!b.has(0))
        fail(ErrorKind::kInvalidArgument, "{}() takes at least 1 argument (0 given)", fn);
    const std::string& sub = arg_string(*b.get(0), fn, "sub");
    const std::u32string cps = decode_utf8(self.as_string());
    const auto n = static_cast<int64_t>(cps.size());
    auto bound = [&](size_t i, int64_t dflt) {
        if (!b.has(i) || b.get(i)->is_none()) return dflt;
        int64_t v = arg_int(*b.get(i), fn, "start/end");
        if (v < 0) v += n;
        return std::clamp<int64_t>(v, 0, n);
    };
    const int64_t s = bound(1, 0);
    const int64_t e = bound(2, n);
    const std::u32string needle = decode_utf8(sub);
    int64_t found = -1;
    if (e - s >= static_cast<int64_t>(needle.size())) {
        const std::u32string_view hay =
            std::u32string_view(cps).substr(static_cast<size_t>(s), static_cast<size_t>(e - s));
        const size_t at = right ? hay.rfind(needle) : hay.find(needle);
        if (at != std::u32string_view::npos) found = s + static_cast<int64_t>(at);
    }
    if (found < 0 && raise) fail(ErrorKind::kInvalidArgument, "substring not found");
    return Value::integer(found);
}
Value m_find(Runtime&, const Value& s, const CallArgs& a) {
    return m_find_impl(s, a, "find", false, false);
}
Value m_rfind(Runtime&, const Value& s, const CallArgs& a) {
    return m_find_impl(s, a, "rfind", true, false);
}
Value m_index(Runtime&, const Value& s, const CallArgs& a) {
    return m_find_impl(s, a, "index", false, true);
}
Value m_rindex(Runtime&, const Value& s, const CallArgs& a) {
    return m_find_impl(s, a, "rindex", true, true);
}

Value m_count(Runtime&, const Value& self, const CallArgs& args) {
    ArgBinder b(args, "count", {"sub", "start", "end"});
    if (!b.has(0)) fail(ErrorKind::kInvalidArgument, "count() takes at least 1 argument (0 given)");
    const std::string s = str_window(self, b, 1, "count");
    const std::string& sub = arg_string(*b.get(0), "count", "sub");
    if (sub.empty()) return Value::integer(static_cast<int64_t>(utf8_length(s)) + 1);
    int64_t n = 0;
    for (size_t p = s.find(sub); p != std::string::npos; p = s.find(sub, p + sub.size())) ++n;
    return Value::integer(n);
}

Value m_join(Runtime& rt, const Value& self, const CallArgs& args) {
    ArgBinder b(args, "join", {"iterable"});
    if (!b.has(0)) fail(ErrorKind::kInvalidArgument, "join() takes exactly one argument (0 given)");
    std::string out;
    size_t i = 0;
    for (const Value& item : iterate(rt, *b.get(0))) {
        if (!item.is_string()) {
            fail(ErrorKind::kInvalidArgument, "sequence item {}: expected str instance, {} found",
                 i, type_name(item));
        }
        if (i++ > 0) out += self.as_string();
        out += item.as_string();
        if (out.size() > rt.limits().max_output_bytes) {
            fail(ErrorKind::kResourceExhausted, "join() result longer than the limit of {} bytes",
                 rt.limits().max_output_bytes);
        }
    }
    return rt.make_string(std::move(out));
}

Value m_affix_remove(Runtime& rt, const Value& self, const CallArgs& args, const char* fn,
                     bool prefix) {
    ArgBinder b(args, fn, {"affix"});
    if (!b.has(0))
        fail(ErrorKind::kInvalidArgument, "{}() takes exactly one argument (0 given)", fn);
    const std::string& a = arg_string(*b.get(0), fn, "affix");
    const std::string& s = self.as_string();
    if (a.size() <= s.size()) {
        if (prefix && s.compare(0, a.size(), a) == 0) return rt.make_string(s.substr(a.size()));
        if (!prefix && s.compare(s.size() - a.size(), a.size(), a) == 0)
            return rt.make_string(s.substr(0, s.size() - a.size()));
    }
    return self;
}
Value m_removeprefix(Runtime& rt, const Value& s, const CallArgs& a) {
    return m_affix_remove(rt, s, a, "removeprefix", true);
}
Value m_removesuffix(Runtime& rt, const Value& s, const CallArgs& a) {
    return m_affix_remove(rt, s, a, "removesuffix", false);
}

Value m_partition_impl(Runtime& rt, const Value& self, const CallArgs& args, const char* fn,
                       bool right) {
    ArgBinder b(args, fn, {"sep"});
    if (!b.has(0))
        fail(ErrorKind::kInvalidArgument, "{}() takes exactly one argument (0 given)", fn);
    const std::string& sep = arg_string(*b.get(0), fn, "sep");
    if (sep.empty()) fail(ErrorKind::kInvalidArgument, "empty separator");
    const std::string& s = self.as_string();
    const size_t at = right ? s.rfind(sep) : s.find(sep);
    std::vector<std::string> parts;
    if (at == std::string::npos) {
        parts = right ? std::vector<std::string>{"", "", s} : std::vector<std::string>{s, "", ""};
    } else {
        parts = {s.substr(0, at), sep, s.substr(at + sep.size())};
    }
    std::vector<Value> items;
    for (std::string& p : parts) items.push_back(Value::string(std::move(p)));
    return rt.make_list(std::move(items), true);
}
Value m_partition(Runtime& rt, const Value& s, const CallArgs& a) {
    return m_partition_impl(rt, s, a, "partition", false);
}
Value m_rpartition(Runtime& rt, const Value& s, const CallArgs& a) {
    return m_partition_impl(rt, s, a, "rpartition", true);
}

// is*() predicates: true when the string is non-empty and every code point passes.
template <bool (*Pred)(char32_t)>
Value m_is(Runtime&, const Value& self, const CallArgs& args) {
    ArgBinder b(args, "is...", {});
    const std::u32string cps = decode_utf8(self.as_string());
    return Value::boolean(!cps.empty() && std::all_of(cps.begin(), cps.end(), Pred));
}
bool cp_digit(char32_t c) { return c >= '0' && c <= '9'; }
// Letters: ASCII, the cased scripts pystr knows, and the CJK, kana and Hangul blocks.
bool cp_alpha(char32_t c) {
    return py_isupper_cp(c) || py_islower_cp(c) || (c >= 0x3040 && c <= 0x30FF) ||
           (c >= 0x3400 && c <= 0x9FFF) || (c >= 0xAC00 && c <= 0xD7AF);
}
bool cp_alnum(char32_t c) { return cp_alpha(c) || cp_digit(c); }

Value m_isupper(Runtime&, const Value& self, const CallArgs& args) {
    ArgBinder b(args, "isupper", {});
    bool cased = false;
    for (char32_t cp : decode_utf8(self.as_string())) {
        if (py_islower_cp(cp)) return Value::boolean(false);
        cased = cased || py_isupper_cp(cp);
    }
    return Value::boolean(cased);
}
Value m_islower(Runtime&, const Value& self, const CallArgs& args) {
    ArgBinder b(args, "islower", {});
    bool cased = false;
    for (char32_t cp : decode_utf8(self.as_string())) {
        if (py_isupper_cp(cp)) return Value::boolean(false);
        cased = cased || py_islower_cp(cp);
    }
    return Value::boolean(cased);
}

// ljust/rjust/center/zfill: pad to `width` code points.
Value m_pad_impl(Runtime& rt, const Value& self, const CallArgs& args, const char* fn) {
    const bool zfill = std::string_view(fn) == "zfill";
    ArgBinder b(args, fn, {"width", "fillchar"});
    if (!b.has(0))
        fail(ErrorKind::kInvalidArgument, "{}() takes at least 1 argument (0 given)", fn);
    const int64_t width = arg_int(*b.get(0), fn, "width");
    std::string fill = " ";
    if (b.has(1)) {
        if (zfill) fail(ErrorKind::kInvalidArgument, "zfill() takes exactly one argument");
        fill = arg_string(*b.get(1), fn, "fillchar");
        if (utf8_length(fill) != 1)
            fail(ErrorKind::kInvalidArgument,
                 "The fill character must be exactly one character long");
    }
    const std::string& s = self.as_string();
    const auto len = static_cast<int64_t>(utf8_length(s));
    if (width <= len) return self;
    if (static_cast<uint64_t>(width - len) * fill.size() > rt.limits().max_output_bytes) {
        fail(ErrorKind::kResourceExhausted, "{}() result longer than the limit of {} bytes", fn,
             rt.limits().max_output_bytes);
    }
    const int64_t pad = width - len;
    auto repeat = [&](int64_t n) {
        std::string r;
        for (int64_t i = 0; i < n; ++i) r += zfill ? "0" : fill;
        return r;
    };
    std::string_view name(fn);
    if (name == "ljust") return rt.make_string(s + repeat(pad));
    if (name == "rjust") return rt.make_string(repeat(pad) + s);
    if (zfill) {
        // The sign stays in front of the zeros.
        const bool sign = !s.empty() && (s[0] == '+' || s[0] == '-');
        return rt.make_string(sign ? s.substr(0, 1) + repeat(pad) + s.substr(1) : repeat(pad) + s);
    }
    // center: CPython puts the odd extra character on the left when the width is odd.
    const int64_t left = pad / 2 + (pad & width & 1);
    return rt.make_string(repeat(left) + s + repeat(pad - left));
}
Value m_ljust(Runtime& rt, const Value& s, const CallArgs& a) {
    return m_pad_impl(rt, s, a, "ljust");
}
Value m_rjust(Runtime& rt, const Value& s, const CallArgs& a) {
    return m_pad_impl(rt, s, a, "rjust");
}
Value m_center(Runtime& rt, const Value& s, const CallArgs& a) {
    return m_pad_impl(rt, s, a, "center");
}
Value m_zfill(Runtime& rt, const Value& s, const CallArgs& a) {
    return m_pad_impl(rt, s, a, "zfill");
}

// ---- list and dict --------------------------------------------------------------------------

Value m_list_count(Runtime&, const Value& self, const CallArgs& args) {
    ArgBinder b(args, "count", {"value"});
    if (!b.has(0))
        fail(ErrorKind::kInvalidArgument, "count() takes exactly one argument (0 given)");
    return Value::integer(std::count_if(self.items().begin(), self.items().end(),
                                        [&](const Value& v) { return equals(v, *b.get(0)); }));
}
Value m_list_index(Runtime&, const Value& self, const CallArgs& args) {
    ArgBinder b(args, "index", {"value"});
    if (!b.has(0)) fail(ErrorKind::kInvalidArgument, "index() takes at least 1 argument (0 given)");
    const auto& items = self.items();
    const auto it = std::find_if(items.begin(), items.end(),
                                 [&](const Value& v) { return equals(v, *b.get(0)); });
    if (it == items.end()) fail(ErrorKind::kInvalidArgument, "value is not in list");
    return Value::integer(it - items.begin());
}
Value m_copy(Runtime&, const Value& self, const CallArgs& args) {
    ArgBinder b(args, "copy", {});
    return self;  // values are immutable, so sharing is a copy
}

Value m_items(Runtime& rt, const Value& self, const CallArgs& args) {
    ArgBinder b(args, "items", {});
    std::vector<Value> pairs;
    for (const auto& [k, v] : self.as_dict().items()) pairs.push_back(rt.make_list({k, v}, true));
    return rt.make_list(std::move(pairs));
}
Value m_keys(Runtime& rt, const Value& self, const CallArgs& args) {
    ArgBinder b(args, "keys", {});
    std::vector<Value> keys;
    for (const auto& [k, v] : self.as_dict().items()) keys.push_back(k);
    return rt.make_list(std::move(keys));
}
Value m_values(Runtime& rt, const Value& self, const CallArgs& args) {
    ArgBinder b(args, "values", {});
    std::vector<Value> values;
    for (const auto& [k, v] : self.as_dict().items()) values.push_back(v);
    return rt.make_list(std::move(values));
}
Value m_get(Runtime&, const Value& self, const CallArgs& args) {
    ArgBinder b(args, "get", {"key", "default"});
    if (!b.has(0)) fail(ErrorKind::kInvalidArgument, "get expected at least 1 argument, got 0");
    const Value& key = *b.get(0);
    if (key.is_dict() || (key.is_list() && !key.is_tuple())) {
        fail(ErrorKind::kInvalidArgument, "unhashable type: '{}'", type_name(key));
    }
    const Value* v = self.as_dict().find(key);
    if (v != nullptr) return *v;
    return b.has(1) ? *b.get(1) : Value::none();
}

using Table = std::unordered_map<std::string_view, MethodFn>;

const Table& str_methods() {
    static const Table kTable = {
        {"strip", m_strip},
        {"lstrip", m_lstrip},
        {"rstrip", m_rstrip},
        {"split", m_split},
        {"rsplit", m_rsplit},
        {"splitlines", m_splitlines},
        {"startswith", m_startswith},
        {"endswith", m_endswith},
        {"upper", m_upper},
        {"lower", m_lower},
        {"capitalize", m_capitalize},
        {"title", m_title},
        {"replace", m_replace},
        {"find", m_find},
        {"rfind", m_rfind},
        {"index", m_index},
        {"rindex", m_rindex},
        {"count", m_count},
        {"join", m_join},
        {"removeprefix", m_removeprefix},
        {"removesuffix", m_removesuffix},
        {"partition", m_partition},
        {"rpartition", m_rpartition},
        {"isdigit", m_is<cp_digit>},
        {"isdecimal", m_is<cp_digit>},
        {"isnumeric", m_is<cp_digit>},
        {"isalpha", m_is<cp_alpha>},
        {"isalnum", m_is<cp_alnum>},
        {"isspace", m_is<py_isspace>},
        {"isupper", m_isupper},
        {"islower", m_islower},
        {"ljust", m_ljust},
        {"rjust", m_rjust},
        {"center", m_center},
        {"zfill", m_zfill},
    };
    return kTable;
}
const Table& list_methods() {
    static const Table kTable = {
        {"count", m_list_count}, {"index", m_list_index}, {"copy", m_copy}};
    return kTable;
}
const Table& dict_methods() {
    static const Table kTable = {
        {"items", m_items}, {"keys", m_keys}, {"values", m_values},
        {"get", m_get},     {"copy", m_copy},
    };
    return kTable;
}

// Python attributes of these types that this engine does not implement.
constexpr std::string_view kOtherStrMethods[] = {
    "casefold",     "encode",      "expandtabs", "format",    "format_map", "isascii",
    "isidentifier", "isprintable", "istitle",    "maketrans", "swapcase",   "translate",
};
// Mutating methods, which Hugging Face's ImmutableSandboxedEnvironment refuses.
constexpr std::string_view kMutatingListMethods[] = {
    "append", "clear", "extend", "insert", "pop", "remove", "reverse", "sort",
};
constexpr std::string_view kMutatingDictMethods[] = {"clear", "pop", "popitem", "setdefault",
                                                     "update"};
constexpr std::string_view kOtherDictMethods[] = {"fromkeys"};

Value failing_method(std::string name, std::string message) {
    auto f = std::make_shared<Function>();
    f->name = std::move(name);
    f->call = [message](Runtime&, const CallArgs&) -> Value {
        fail(ErrorKind::kUnsupported, "{}", message);
    };
    return Value::function(std::move(f));
}

bool listed(std::string_view name, const std::string_view* begin, const std::string_view* end) {
    return std::find(begin, end, name) != end;
}

}  // namespace

Value find_method(const Value& self, std::string_view name) {
    const Table* table = nullptr;
    std::string_view type;
    if (self.is_string()) {
        table = &str_methods(), type = "str";
    } else if (self.is_list()) {
        table = &list_methods(), type = self.is_tuple() ? "tuple" : "list";
    } else if (self.is_dict()) {
        table = &dict_methods(), type = "dict";
    } else {
        return Value();
    }
    const auto it = table->find(name);
    if (it != table->end()) {
        auto f = std::make_shared<Function>();
        f->name = fmt::format("{}.{}", type, name);
        const MethodFn fn = it->second;
        f->call = [self, fn](Runtime& rt, const CallArgs& args) { return fn(rt, self, args); };
        return Value::function(std::move(f));
    }
    const bool mutating = (type == "list" && listed(name, std::begin(kMutatingListMethods),
                                                    std::end(kMutatingListMethods))) ||
                          (type == "dict" && listed(name, std::begin(kMutatingDictMethods),
                                                    std::end(kMutatingDictMethods)));
    if (mutating) {
        return failing_method(
            std::string(name),
            fmt::format("'{}.{}' is not allowed: templates cannot modify lists or dicts "
                        "(immutable sandbox, as in Hugging Face); use namespace() to carry state",
                        type, name));
    }
    const bool known =
        (type == "str" && listed(name, std::begin(kOtherStrMethods), std::end(kOtherStrMethods))) ||
        (type == "dict" &&
         listed(name, std::begin(kOtherDictMethods), std::end(kOtherDictMethods)));
    if (known)
        return failing_method(std::string(name),
                              fmt::format("{} method '{}' is not supported", type, name));
    return Value();
}

}  // namespace sobre::chat::jinja
