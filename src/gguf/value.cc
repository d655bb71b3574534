#include "gguf/value.h"

#include <fmt/format.h>

#include <cstring>

namespace sobre::gguf {

std::string_view value_type_name(ValueType t) {
    static constexpr std::string_view kNames[kNumValueTypes] = {
        "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"};
    const auto i = static_cast<uint32_t>(t);
    return i < kNumValueTypes ? kNames[i] : "unknown";
}

size_t value_type_size(ValueType t) {
    switch (t) {
        case ValueType::kU8:
        case ValueType::kI8:
        case ValueType::kBool: return 1;
        case ValueType::kU16:
        case ValueType::kI16: return 2;
        case ValueType::kU32:
        case ValueType::kI32:
        case ValueType::kF32: return 4;
        case ValueType::kU64:
        case ValueType::kI64:
        case ValueType::kF64: return 8;
        case ValueType::kString:
        case ValueType::kArray: return 0;
    }
    return 0;
}

bool Value::is_signed() const {
    return type == ValueType::kI8 || type == ValueType::kI16 || type == ValueType::kI32 ||
           type == ValueType::kI64;
}

bool Value::is_integer() const {
    return is_signed() || type == ValueType::kU8 || type == ValueType::kU16 ||
           type == ValueType::kU32 || type == ValueType::kU64;
}

double Value::as_double() const {
    if (is_float()) return f;
    if (is_signed()) return static_cast<double>(i);
    return static_cast<double>(u);
}

size_t Value::size() const {
    if (type != ValueType::kArray) return 0;
    if (elem_type == ValueType::kString) return strings.size();
    if (elem_type == ValueType::kArray) return arrays.size();
    return packed.size() / value_type_size(elem_type);
}

Value Value::scalar(ValueType t, const uint8_t* p) {
    Value v;
    v.type = t;
    auto load = [p](auto x) {
        std::memcpy(&x, p, sizeof x);
        return x;
    };
    switch (t) {
        case ValueType::kU8: v.u = load(uint8_t{}); break;
        case ValueType::kBool: v.u = load(uint8_t{}); break;
        case ValueType::kI8: v.i = load(int8_t{}); break;
        case ValueType::kU16: v.u = load(uint16_t{}); break;
        case ValueType::kI16: v.i = load(int16_t{}); break;
        case ValueType::kU32: v.u = load(uint32_t{}); break;
        case ValueType::kI32: v.i = load(int32_t{}); break;
        case ValueType::kU64: v.u = load(uint64_t{}); break;
        case ValueType::kI64: v.i = load(int64_t{}); break;
        case ValueType::kF32: v.f = load(float{}); break;
        case ValueType::kF64: v.f = load(double{}); break;
        case ValueType::kString:
        case ValueType::kArray: break;
    }
    return v;
}

Value Value::at(size_t k) const {
    if (elem_type == ValueType::kString) return of_string(strings.at(k));
    if (elem_type == ValueType::kArray) return arrays.at(k);
    const size_t sz = value_type_size(elem_type);
    return scalar(elem_type, packed.data() + k * sz);
}

std::string Value::to_string(size_t max_elems) const {
    if (type == ValueType::kArray) {
        const size_t n = size();
        std::string out = fmt::format("[{}; {}]{{", value_type_name(elem_type), n);
        for (size_t k = 0; k < n && k < max_elems; ++k) out += (k ? ", " : "") + at(k).to_string(max_elems);
        if (n > max_elems) out += ", ...";
        return out + "}";
    }
    if (type == ValueType::kString) {
        return fmt::format("\"{}\"", s.size() > 64 ? s.substr(0, 64) + "..." : s);
    }
    if (type == ValueType::kBool) return u ? "true" : "false";
    if (is_float()) return fmt::format("{}", f);
    if (is_signed()) return fmt::format("{}", i);
    return fmt::format("{}", u);
}

Value Value::of_u32(uint32_t v) {
    Value x;
    x.type = ValueType::kU32;
    x.u = v;
    return x;
}
Value Value::of_i32(int32_t v) {
    Value x;
    x.type = ValueType::kI32;
    x.i = v;
    return x;
}
Value Value::of_u64(uint64_t v) {
    Value x;
    x.type = ValueType::kU64;
    x.u = v;
    return x;
}
Value Value::of_f32(float v) {
    Value x;
    x.type = ValueType::kF32;
    x.f = v;
    return x;
}
Value Value::of_bool(bool v) {
    Value x;
    x.type = ValueType::kBool;
    x.u = v ? 1 : 0;
    return x;
}
Value Value::of_string(std::string v) {
    Value x;
    x.type = ValueType::kString;
    x.s = std::move(v);
    return x;
}
Value Value::of_strings(std::vector<std::string> v) {
    Value x;
    x.type = ValueType::kArray;
    x.elem_type = ValueType::kString;
    x.strings = std::move(v);
    return x;
}

namespace {
template <class T>
Value packed_array(ValueType t, const std::vector<T>& v) {
    Value x;
    x.type = ValueType::kArray;
    x.elem_type = t;
    x.packed.resize(v.size() * sizeof(T));
    if (!v.empty()) std::memcpy(x.packed.data(), v.data(), x.packed.size());
    return x;
}
}  // namespace

Value Value::of_f32s(const std::vector<float>& v) { return packed_array(ValueType::kF32, v); }
Value Value::of_i32s(const std::vector<int32_t>& v) { return packed_array(ValueType::kI32, v); }

}  // namespace sobre::gguf
