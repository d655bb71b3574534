#include "chat/jinja/value.h"

#include <algorithm>
#include <cmath>

#include "chat/jinja/pystr.h"
#include "core/error.h"

namespace sobre::chat::jinja {

namespace {

// Dicts at least this big keep a hash index; smaller ones are searched linearly.
constexpr size_t kDictIndexMin = 16;

void check_depth(int depth) {
    if (depth > kMaxValueDepth) {
        fail(ErrorKind::kResourceExhausted, "value nested more than {} levels deep",
             kMaxValueDepth);
    }
}

void check_size(const std::string& out, size_t max_bytes) {
    if (out.size() > max_bytes) {
        fail(ErrorKind::kResourceExhausted, "string longer than the limit of {} bytes", max_bytes);
    }
}

}  // namespace

Value Value::undefined(std::string hint) {
    Value v;
    v.p_ = std::make_shared<std::string>(std::move(hint));
    return v;
}

Value Value::none() {
    Value v;
    v.kind_ = Kind::kNone;
    return v;
}

Value Value::boolean(bool b) {
    Value v;
    v.kind_ = Kind::kBool;
    v.b_ = b;
    return v;
}

Value Value::integer(int64_t i) {
    Value v;
    v.kind_ = Kind::kInt;
    v.i_ = i;
    return v;
}

Value Value::number(double f) {
    Value v;
    v.kind_ = Kind::kFloat;
    v.f_ = f;
    return v;
}

Value Value::string(std::string s, bool markup) {
    Value v;
    v.kind_ = Kind::kString;
    v.markup_ = markup;
    v.p_ = std::make_shared<std::string>(std::move(s));
    return v;
}

Value Value::list(std::vector<Value> items, bool tuple) {
    int depth = 0;
    for (const Value& item : items) depth = std::max(depth, static_cast<int>(item.depth_));
    check_depth(depth + 1);
    Value v;
    v.kind_ = Kind::kList;
    v.depth_ = static_cast<int16_t>(depth + 1);
    v.p_ = std::make_shared<ListData>(ListData{std::move(items), tuple});
    return v;
}

Value Value::dict(std::shared_ptr<const Dict> d) {
    Value v;
    v.kind_ = Kind::kDict;
    v.depth_ = static_cast<int16_t>(d->depth());
    v.p_ = std::const_pointer_cast<Dict>(std::move(d));
    return v;
}

Value Value::ns(std::shared_ptr<Namespace> n) {
    Value v;
    v.kind_ = Kind::kNamespace;
    v.p_ = std::move(n);
    return v;
}

Value Value::function(std::shared_ptr<const Function> f) {
    Value v;
    v.kind_ = Kind::kFunction;
    v.p_ = std::const_pointer_cast<Function>(std::move(f));
    return v;
}

Value Value::object(std::shared_ptr<const Object> o) {
    Value v;
    v.kind_ = Kind::kObject;
    v.p_ = std::const_pointer_cast<Object>(std::move(o));
    return v;
}

double Value::as_double() const {
    if (kind_ == Kind::kFloat) return f_;
    return static_cast<double>(as_int());
}

std::shared_ptr<Namespace> Value::namespace_ptr() const {
    return std::static_pointer_cast<Namespace>(p_);
}

std::string Value::undefined_hint() const {
    if (p_ == nullptr) return "value is undefined";
    return *static_cast<const std::string*>(p_.get());
}

void Dict::insert(Value key, Value value) {
    std::string k = hash_key(key);
    depth_ = std::max({depth_, key.depth() + 1, value.depth() + 1});
    check_depth(depth_);
    if (const size_t i = slot(k); i != kNoSlot) {
        items_[i].second = std::move(value);
        return;
    }
    keys_.push_back(std::move(k));
    items_.emplace_back(std::move(key), std::move(value));
    if (!index_.empty()) {
        index_.emplace(keys_.back(), keys_.size() - 1);
    } else if (keys_.size() >= kDictIndexMin) {
        for (size_t i = 0; i < keys_.size(); ++i) index_.emplace(keys_[i], i);
    }
}

size_t Dict::slot(std::string_view k) const {
    if (!index_.empty()) {
        const auto it = index_.find(std::string(k));
        return it == index_.end() ? kNoSlot : it->second;
    }
    for (size_t i = 0; i < keys_.size(); ++i) {
        if (keys_[i] == k) return i;
    }
    return kNoSlot;
}

const Value* Dict::find(const Value& key) const {
    const size_t i = slot(hash_key(key));
    return i == kNoSlot ? nullptr : &items_[i].second;
}

const Value* Dict::find(std::string_view key) const {
    // Same as find(Value::string(key)) without building the value: string keys hash to "s" + key.
    if (!index_.empty()) return find(Value::string(std::string(key)));
    for (size_t i = 0; i < keys_.size(); ++i) {
        const std::string& k = keys_[i];
        if (k.size() == key.size() + 1 && k[0] == 's' && k.compare(1, key.size(), key) == 0) {
            return &items_[i].second;
        }
    }
    return nullptr;
}

const Value* Namespace::find(std::string_view name) const {
    for (const auto& [k, v] : attrs_) {
        if (k == name) return &v;
    }
    return nullptr;
}

void Namespace::set(std::string_view name, Value v) {
    for (auto& [k, old] : attrs_) {
        if (k == name) {
            old = std::move(v);
            return;
        }
    }
    attrs_.emplace_back(std::string(name), std::move(v));
}

std::string_view type_name(const Value& v) {
    switch (v.kind()) {
        case Value::Kind::kUndefined:
            return "Undefined";
        case Value::Kind::kNone:
            return "NoneType";
        case Value::Kind::kBool:
            return "bool";
        case Value::Kind::kInt:
            return "int";
        case Value::Kind::kFloat:
            return "float";
        case Value::Kind::kString:
            return "str";
        case Value::Kind::kList:
            return v.is_tuple() ? "tuple" : "list";
        case Value::Kind::kDict:
            return "dict";
        case Value::Kind::kNamespace:
            return "Namespace";
        case Value::Kind::kFunction:
            return "function";
        case Value::Kind::kObject:
            return v.as_object().type_name();
    }
    return "object";
}

bool truthy(const Value& v) {
    switch (v.kind()) {
        case Value::Kind::kUndefined:
        case Value::Kind::kNone:
            return false;
        case Value::Kind::kBool:
            return v.as_bool();
        case Value::Kind::kInt:
            return v.as_int() != 0;
        case Value::Kind::kFloat:
            return v.as_double() != 0.0;
        case Value::Kind::kString:
            return !v.as_string().empty();
        case Value::Kind::kList:
            return !v.items().empty();
        case Value::Kind::kDict:
            return v.as_dict().size() != 0;
        default:
            return true;
    }
}

std::string hash_key(const Value& v) {
    switch (v.kind()) {
        case Value::Kind::kNone:
            return "N";
        case Value::Kind::kUndefined:
            return "U";
        case Value::Kind::kBool:
        case Value::Kind::kInt:
            return fmt::format("i{}", v.as_int());
        case Value::Kind::kFloat: {
            const double d = v.as_double();
            // Python: hash(1.0) == hash(1) and 1.0 == 1, so both name the same key.
            if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.2e18) {
                return fmt::format("i{}", static_cast<int64_t>(d));
            }
            return fmt::format("f{}", py_float_repr(d));
        }
        case Value::Kind::kString:
            return fmt::format("s{}", v.as_string());
        case Value::Kind::kList:
            if (v.is_tuple()) {
                std::string k = "t";
                for (const Value& item : v.items()) {
                    const std::string sub = hash_key(item);
                    k += fmt::format("{}:{}", sub.size(), sub);
                }
                return k;
            }
            break;
        case Value::Kind::kDict:
            break;
        default:
            return fmt::format("p{}", v.identity());
    }
    fail(ErrorKind::kInvalidArgument, "unhashable type: '{}'", type_name(v));
}

bool equals(const Value& a, const Value& b) {
    if (a.is_number() && b.is_number()) {
        if (a.is_float() || b.is_float()) return a.as_double() == b.as_double();
        return a.as_int() == b.as_int();
    }
    if (a.kind() != b.kind()) return false;
    switch (a.kind()) {
        case Value::Kind::kUndefined:
        case Value::Kind::kNone:
            return true;
        case Value::Kind::kString:
            return a.as_string() == b.as_string();
        case Value::Kind::kList: {
            if (a.is_tuple() != b.is_tuple() || a.items().size() != b.items().size()) return false;
            for (size_t i = 0; i < a.items().size(); ++i) {
                if (!equals(a.items()[i], b.items()[i])) return false;
            }
            return true;
        }
        case Value::Kind::kDict: {
            if (a.as_dict().size() != b.as_dict().size()) return false;
            for (const auto& [k, va] : a.as_dict().items()) {
                const Value* vb = b.as_dict().find(k);
                if (vb == nullptr || !equals(va, *vb)) return false;
            }
            return true;
        }
        default:
            return a.identity() == b.identity();
    }
}

int compare(const Value& a, const Value& b) {
    if (a.is_number() && b.is_number()) {
        if (a.is_float() || b.is_float()) {
            const double x = a.as_double();
            const double y = b.as_double();
            return x < y ? -1 : (x > y ? 1 : 0);
        }
        return a.as_int() < b.as_int() ? -1 : (a.as_int() > b.as_int() ? 1 : 0);
    }
    if (a.is_string() && b.is_string()) {
        const int c = a.as_string().compare(b.as_string());
        return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
        const auto& x = a.items();
        const auto& y = b.items();
        for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
            if (!equals(x[i], y[i])) return compare(x[i], y[i]);
        }
        return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
    }
    fail(ErrorKind::kInvalidArgument, "'<' not supported between instances of '{}' and '{}'",
         type_name(a), type_name(b));
}

namespace {

void append_value(std::string& out, const Value& v, size_t max_bytes, bool repr, int depth);

void append_items(std::string& out, const Value& v, size_t max_bytes, int depth) {
    const bool tuple = v.is_tuple();
    out.push_back(tuple ? '(' : '[');
    bool first = true;
    for (const Value& item : v.items()) {
        if (!first) out.append(", ");
        first = false;
        append_value(out, item, max_bytes, true, depth + 1);
        check_size(out, max_bytes);
    }
    if (tuple && v.items().size() == 1) out.push_back(',');
    out.push_back(tuple ? ')' : ']');
}

template <class Pairs, class KeyFn>
void append_pairs(std::string& out, const Pairs& pairs, KeyFn key, size_t max_bytes, int depth) {
    out.push_back('{');
    bool first = true;
    for (const auto& kv : pairs) {
        if (!first) out.append(", ");
        first = false;
        key(kv.first);
        out.append(": ");
        append_value(out, kv.second, max_bytes, true, depth + 1);
        check_size(out, max_bytes);
    }
    out.push_back('}');
}

void append_value(std::string& out, const Value& v, size_t max_bytes, bool repr, int depth) {
    // Namespaces can hold themselves, so only this guard bounds the recursion through them.
    if (depth > 2 * kMaxValueDepth) {
        fail(ErrorKind::kResourceExhausted, "value nested too deeply to print");
    }
    switch (v.kind()) {
        case Value::Kind::kUndefined:
            break;
        case Value::Kind::kNone:
            out.append("None");
            break;
        case Value::Kind::kBool:
            out.append(v.as_bool() ? "True" : "False");
            break;
        case Value::Kind::kInt:
            out.append(std::to_string(v.as_int()));
            break;
        case Value::Kind::kFloat:
            out.append(py_float_repr(v.as_double()));
            break;
        case Value::Kind::kString:
            if (repr) {
                append_py_repr(out, v.as_string());
            } else {
                if (out.size() + v.as_string().size() > max_bytes) {
                    fail(ErrorKind::kResourceExhausted, "string longer than the limit of {} bytes",
                         max_bytes);
                }
                out.append(v.as_string());
            }
            break;
        case Value::Kind::kList:
            append_items(out, v, max_bytes, depth);
            break;
        case Value::Kind::kDict:
            append_pairs(
                out, v.as_dict().items(),
                [&](const Value& k) { append_value(out, k, max_bytes, true, depth + 1); },
                max_bytes, depth);
            break;
        case Value::Kind::kNamespace:
            out.append("<Namespace ");
            append_pairs(
                out, v.as_namespace().attrs(),
                [&](const std::string& k) { append_py_repr(out, k); }, max_bytes, depth);
            out.append(">");
            break;
        case Value::Kind::kFunction:
            out.append(fmt::format("<function {}>", v.as_function().name));
            break;
        case Value::Kind::kObject:
            out.append(fmt::format("<{} object>", type_name(v)));
            break;
    }
    check_size(out, max_bytes);
}

}  // namespace

void append_str(std::string& out, const Value& v, size_t max_bytes) {
    append_value(out, v, max_bytes, false, 0);
}

void append_repr(std::string& out, const Value& v, size_t max_bytes) {
    append_value(out, v, max_bytes, true, 0);
}

std::string to_str(const Value& v, size_t max_bytes) {
    if (v.is_string()) {
        if (v.as_string().size() > max_bytes) check_size(v.as_string(), max_bytes);
        return v.as_string();
    }
    std::string out;
    append_str(out, v, max_bytes);
    return out;
}

}  // namespace sobre::chat::jinja
