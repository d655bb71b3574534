// GGUF metadata values: every GGUF value type, including arrays of strings and nested arrays.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sobre::gguf {

// Values are GGUF on-disk type ids; never renumber.
enum class ValueType : uint32_t {
    kU8 = 0,
    kI8 = 1,
    kU16 = 2,
    kI16 = 3,
    kU32 = 4,
    kI32 = 5,
    kF32 = 6,
    kBool = 7,
    kString = 8,
    kArray = 9,
    kU64 = 10,
    kI64 = 11,
    kF64 = 12,
};
constexpr uint32_t kNumValueTypes = 13;

std::string_view value_type_name(ValueType t);
// Bytes one scalar of this type takes on disk; 0 for string and array.
size_t value_type_size(ValueType t);

// One metadata value. Scalars keep their exact value in the field matching their kind. Arrays
// keep their element type; scalar elements stay packed as on disk (so a hostile element count
// cannot inflate memory), strings and nested arrays are held as objects.
struct Value {
    ValueType type = ValueType::kU8;
    uint64_t u = 0;  // kU8, kU16, kU32, kU64, kBool
    int64_t i = 0;   // kI8, kI16, kI32, kI64
    double f = 0;    // kF32, kF64
    std::string s;   // kString

    ValueType elem_type = ValueType::kU8;  // kArray
    std::vector<uint8_t> packed;           // kArray of scalars: little-endian elements
    std::vector<std::string> strings;      // kArray of strings
    std::vector<Value> arrays;             // kArray of arrays

    bool is_integer() const;
    bool is_signed() const;
    bool is_float() const { return type == ValueType::kF32 || type == ValueType::kF64; }
    // The value of a numeric scalar as double (integers exactly up to 2^53).
    double as_double() const;
    // Number of elements of an array (0 for scalars).
    size_t size() const;
    // Element k of an array as a Value (copies; for scalar and string arrays).
    Value at(size_t k) const;
    // Short human-readable rendering (arrays abbreviated after `max_elems`).
    std::string to_string(size_t max_elems = 8) const;

    static Value scalar(ValueType t, const uint8_t* le_bytes);  // decodes one packed scalar
    static Value of_u32(uint32_t v);
    static Value of_i32(int32_t v);
    static Value of_u64(uint64_t v);
    static Value of_f32(float v);
    static Value of_bool(bool v);
    static Value of_string(std::string v);
    static Value of_strings(std::vector<std::string> v);
    static Value of_f32s(const std::vector<float>& v);
    static Value of_i32s(const std::vector<int32_t>& v);
};

}  // namespace sobre::gguf
