// Python operators and lookups as Jinja2's sandbox applies them: arithmetic, comparison,
// membership, attribute and item access, slicing and iteration.
#pragma once

#include <string_view>
#include <vector>

#include "chat/jinja/ast.h"
#include "chat/jinja/value.h"

namespace sobre::chat::jinja {

class Runtime;

// Arithmetic and `~` (not `and`/`or`, which short-circuit in the runtime). Throws Error for
// Python's TypeError/ZeroDivisionError cases and for an undefined operand.
Value binary_op(Runtime& rt, BinaryOp op, const Value& a, const Value& b);
Value unary_op(Runtime& rt, UnaryOp op, const Value& v);
bool compare_op(CompareOp op, const Value& a, const Value& b);
// Python's `item in container`.
bool contains(const Value& container, const Value& item);

// Jinja2's getattr: a method or attribute of the value, else its item, else undefined.
// Undefined values raise (UndefinedError) instead.
Value get_attr(Runtime& rt, const Value& obj, std::string_view name);
// Jinja2's getitem: the item, else (for a string key) the attribute, else undefined.
Value get_item(Runtime& rt, const Value& obj, const Value& key);
// obj[start:stop:step] for strings, lists and tuples; omitted parts are nullptr.
Value slice(Runtime& rt, const Value& obj, const Value* start, const Value* stop,
            const Value* step);
// The items a for loop visits: list/tuple items, dict keys, string characters; nothing for
// undefined. Throws Error for values that are not iterable.
std::vector<Value> iterate(Runtime& rt, const Value& v);
// Throws UndefinedError's message when `v` is undefined (using it would be an error in Jinja2).
void require_defined(const Value& v);

}  // namespace sobre::chat::jinja
