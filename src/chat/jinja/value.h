// Template values: the Python objects Jinja2 renders with (None, bool, int, float, str, list,
// tuple, dict, namespace, functions), with Python's truthiness, str(), repr(), ==, < and
// json.dumps(). Containers are immutable once built and shared by pointer, so copying a Value is
// cheap; only a namespace is mutable, as in Jinja2's ImmutableSandboxedEnvironment.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace sobre::chat::jinja {

class Runtime;
class Value;
class Dict;
class Namespace;
class Object;
struct Function;

// Nesting deeper than this is refused when a list, tuple or dict is built, so printing,
// comparing and destroying values never recurse without bound.
constexpr int kMaxValueDepth = 256;

struct ListData {
    std::vector<Value> items;
    bool tuple = false;
};

class Value {
   public:
    enum class Kind : uint8_t {
        kUndefined,
        kNone,
        kBool,
        kInt,
        kFloat,
        kString,
        kList,
        kDict,
        kNamespace,
        kFunction,
        kObject,
    };

    Value() = default;  // undefined, with no hint
    // An undefined value; `hint` is the error shown when it is misused ("'x' is undefined").
    static Value undefined(std::string hint);
    static Value none();
    static Value boolean(bool b);
    static Value integer(int64_t i);
    static Value number(double f);
    static Value string(std::string s, bool markup = false);
    // Throws Error(kResourceExhausted) when the result would nest deeper than kMaxValueDepth.
    static Value list(std::vector<Value> items, bool tuple = false);
    static Value dict(std::shared_ptr<const Dict> d);
    static Value ns(std::shared_ptr<Namespace> n);
    static Value function(std::shared_ptr<const Function> f);
    static Value object(std::shared_ptr<const Object> o);

    Kind kind() const { return kind_; }
    bool is_undefined() const { return kind_ == Kind::kUndefined; }
    bool is_none() const { return kind_ == Kind::kNone; }
    bool is_bool() const { return kind_ == Kind::kBool; }
    bool is_int() const { return kind_ == Kind::kInt; }
    bool is_float() const { return kind_ == Kind::kFloat; }
    // bool, int or float: Python's numbers (bool is an int subclass).
    bool is_number() const { return is_bool() || is_int() || is_float(); }
    bool is_string() const { return kind_ == Kind::kString; }
    bool is_list() const { return kind_ == Kind::kList; }  // list or tuple
    bool is_dict() const { return kind_ == Kind::kDict; }
    bool is_namespace() const { return kind_ == Kind::kNamespace; }
    bool is_function() const { return kind_ == Kind::kFunction; }
    bool is_object() const { return kind_ == Kind::kObject; }

    // Accessors; each REQUIRES the matching kind.
    bool as_bool() const { return b_; }
    int64_t as_int() const { return kind_ == Kind::kBool ? (b_ ? 1 : 0) : i_; }  // bool or int
    double as_double() const;                                                    // any number
    const std::string& as_string() const { return *static_cast<const std::string*>(p_.get()); }
    bool is_markup() const { return markup_; }  // a string marked safe (markupsafe.Markup)
    const std::vector<Value>& items() const { return list_data().items; }
    bool is_tuple() const { return list_data().tuple; }
    const Dict& as_dict() const { return *static_cast<const Dict*>(p_.get()); }
    Namespace& as_namespace() const { return *static_cast<Namespace*>(p_.get()); }
    const Function& as_function() const { return *static_cast<const Function*>(p_.get()); }
    const Object& as_object() const { return *static_cast<const Object*>(p_.get()); }
    std::shared_ptr<Namespace> namespace_ptr() const;
    // The message for misusing an undefined value.
    std::string undefined_hint() const;
    // Container nesting: 0 for scalars, 1 + the deepest element for lists and dicts.
    int depth() const { return depth_; }
    // Address of the shared payload (identity for `is sameas` and namespace equality).
    const void* identity() const { return p_.get(); }

   private:
    const ListData& list_data() const { return *static_cast<const ListData*>(p_.get()); }

    Kind kind_ = Kind::kUndefined;
    bool markup_ = false;
    int16_t depth_ = 0;
    union {
        bool b_;
        int64_t i_ = 0;
        double f_;
    };
    std::shared_ptr<void> p_;  // string, list, dict, namespace, function, object, undefined hint
};

// Arguments of a call: positional, then keyword in call order.
struct CallArgs {
    std::vector<Value> pos;
    std::vector<std::pair<std::string, Value>> kw;
};

// Callable values: globals, macros and bound methods.
struct Function {
    std::string name;
    std::function<Value(Runtime&, const CallArgs&)> call;
};

// Objects with computed attributes (the `loop` variable).
class Object {
   public:
    virtual ~Object() = default;
    virtual std::string_view type_name() const = 0;
    // The attribute, or undefined when it has none.
    virtual Value attr(std::string_view name) const = 0;
};

// A Python dict: insertion-ordered, keys of any hashable value.
class Dict {
   public:
    // Inserts or, for an existing key, replaces the value in place (Python keeps the position).
    // Throws Error naming the type for an unhashable key (list, dict).
    void insert(Value key, Value value);
    const Value* find(const Value& key) const;
    const Value* find(std::string_view key) const;
    size_t size() const { return items_.size(); }
    const std::vector<std::pair<Value, Value>>& items() const { return items_; }
    int depth() const { return depth_; }

   private:
    static constexpr size_t kNoSlot = static_cast<size_t>(-1);
    size_t slot(std::string_view hashed) const;

    std::vector<std::pair<Value, Value>> items_;
    std::vector<std::string> keys_;                  // hash_key() of each key, parallel to items_
    std::unordered_map<std::string, size_t> index_;  // hashed key -> slot, for big dicts only
    int depth_ = 1;
};

// Jinja2's namespace(): the one mutable object, whose attributes `{% set ns.x = ... %}` assigns.
class Namespace {
   public:
    const Value* find(std::string_view name) const;
    void set(std::string_view name, Value v);
    const std::vector<std::pair<std::string, Value>>& attrs() const { return attrs_; }
    // Drops every attribute (the renderer breaks reference cycles with it at the end).
    void clear() { attrs_.clear(); }

   private:
    std::vector<std::pair<std::string, Value>> attrs_;
};

// Python's type name of a value ('str', 'int', 'NoneType', 'list', 'dict', ...).
std::string_view type_name(const Value& v);
// Python truthiness: "", 0, 0.0, None, undefined, empty containers are false.
bool truthy(const Value& v);
// A canonical string for a hashable value; equal Python keys (1, 1.0, True) give the same one.
// Throws Error for unhashable values.
std::string hash_key(const Value& v);
// Python ==.
bool equals(const Value& a, const Value& b);
// Python <, for numbers, strings and sequences: negative, zero or positive. Throws Error
// ("'<' not supported between instances of 'X' and 'Y'") for other types.
int compare(const Value& a, const Value& b);

// str(v) appended to out; undefined prints nothing. Throws Error(kResourceExhausted) when out
// would grow past max_bytes.
void append_str(std::string& out, const Value& v, size_t max_bytes);
// repr(v) appended to out, as Python prints list and dict elements.
void append_repr(std::string& out, const Value& v, size_t max_bytes);
std::string to_str(const Value& v, size_t max_bytes);

// Hugging Face's tojson: json.dumps(v, ensure_ascii, indent, separators, sort_keys).
struct JsonOptions {
    bool ensure_ascii = false;
    bool has_indent = false;
    std::string indent;           // the per-level indentation when has_indent
    std::string item_sep = ", ";  // json.dumps defaults; "," when indented
    std::string key_sep = ": ";
    bool sort_keys = false;
};
// Appends the JSON text. Throws Error for values JSON cannot hold (undefined, namespace,
// functions: "Object of type X is not JSON serializable") and for output past max_bytes.
void append_json(std::string& out, const Value& v, const JsonOptions& opt, size_t max_bytes);

}  // namespace sobre::chat::jinja
