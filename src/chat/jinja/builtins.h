// Built-in filters, tests, methods and globals, with Jinja2 3.1 / Python 3 behaviour. Anything
// not listed here fails by name when a template reaches it, never renders silently wrong.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "chat/jinja/value.h"

namespace sobre::chat::jinja {

class Runtime;
class Scope;

using FilterFn = Value (*)(Runtime& rt, const Value& input, const CallArgs& args);
using TestFn = bool (*)(Runtime& rt, const Value& input, const CallArgs& args);

// nullptr when there is no such filter/test.
FilterFn find_filter(std::string_view name);
TestFn find_test(std::string_view name);

// The method `name` of a str, list or dict bound to `self` (a callable value), or undefined
// when the type has no such attribute. Methods that Python has but this engine does not
// implement, and mutating methods the immutable sandbox forbids, come back as callables that
// fail with a message naming them.
Value find_method(const Value& self, std::string_view name);

// Defines range, namespace, dict, raise_exception and strftime_now in `scope`.
void add_globals(Scope& scope);

// Binds call arguments to parameter names the way Python does (positional, then keyword);
// fails naming `fn` for too many arguments, unknown or repeated keywords.
class ArgBinder {
   public:
    ArgBinder(const CallArgs& args, std::string_view fn,
              std::initializer_list<std::string_view> params);
    // The argument for parameter i, or nullptr when not given.
    const Value* get(size_t i) const { return bound_[i]; }
    bool has(size_t i) const { return bound_[i] != nullptr; }

   private:
    std::vector<const Value*> bound_;
};

// Python's `fmt % args` (printf-style: %s %r %d %i %f %x %% with flags, width and precision);
// `args` is a tuple of values, a dict for %(name)s, or a single value.
std::string percent_format(Runtime& rt, std::string_view fmt, const Value& args);

// Argument conversions that fail with a message naming the function and parameter.
int64_t arg_int(const Value& v, std::string_view fn, std::string_view param);
const std::string& arg_string(const Value& v, std::string_view fn, std::string_view param);

}  // namespace sobre::chat::jinja
