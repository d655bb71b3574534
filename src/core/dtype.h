// Tensor element types: GGUF type ids and format facts (one table row per type).
// Compute facts (dot products per ISA) live in kernels/cpu/kernel_table.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace sobre {

// Values are GGUF/ggml type ids; never renumber.
enum class DType : uint32_t {
    kF32 = 0,
    kF16 = 1,
    kQ4_0 = 2,
    kQ4_1 = 3,
    kQ5_0 = 6,
    kQ5_1 = 7,
    kQ8_0 = 8,
    kQ8_1 = 9,
    kQ2_K = 10,
    kQ3_K = 11,
    kQ4_K = 12,
    kQ5_K = 13,
    kQ6_K = 14,
    kQ8_K = 15,
    kIQ2_XXS = 16,
    kIQ2_XS = 17,
    kIQ3_XXS = 18,
    kIQ1_S = 19,
    kIQ4_NL = 20,
    kIQ3_S = 21,
    kIQ2_S = 22,
    kIQ4_XS = 23,
    kI8 = 24,
    kI16 = 25,
    kI32 = 26,
    kI64 = 27,
    kF64 = 28,
    kIQ1_M = 29,
    kBF16 = 30,
    kTQ1_0 = 34,
    kTQ2_0 = 35,
    kMXFP4 = 39,
};
constexpr uint32_t kNumDTypes = 40;  // one past the largest GGUF id we know of (MXFP4 = 39)

// Converts n elements (a multiple of block_elems) of a row to float.
using ToFloatFn = void (*)(const void* src, float* dst, int64_t n);
// Quantizes n floats (a multiple of block_elems) into blocks of this type.
using FromFloatFn = void (*)(const float* src, void* dst, int64_t n);

// Quantizes one row of n_per_row floats under importance weights (one per element, from an
// imatrix), as ggml's quantize_row_*_impl does for llama-quantize --imatrix.
using FromFloatWeightedFn = void (*)(const float* src, void* dst, int64_t n_per_row, const float* weights);

struct DTypeTraits {
    std::string_view name;     // ggml's name ("q4_K"); empty for ids we do not know
    int64_t block_elems = 0;   // elements per block (1 for plain types)
    int64_t block_bytes = 0;   // bytes per block
    bool is_quantized = false;
    ToFloatFn to_float = nullptr;      // scalar reference; nullptr if we cannot compute with it
    FromFloatFn from_float = nullptr;  // scalar reference; nullptr if we cannot write it
    DType vec_dot_type = DType::kF32;  // activation format the dot product pairs with this type
};

// Returns the traits row for a GGUF type id; name is empty for unknown ids.
const DTypeTraits& dtype_traits(DType t);
// Whether `id` is a type id we know the block layout of (and can therefore size).
bool dtype_known(uint32_t id);
// Whether we can compute with this type (to_float exists and a dot product is registered).
bool dtype_computable(DType t);
std::string_view dtype_name(DType t);
std::optional<DType> dtype_from_name(std::string_view name);  // case-insensitive ("Q4_K", "q4_k")

// The importance-weighted quantizer of a type, or nullptr where ggml ignores the weights
// (f32, f16, bf16, q8_0) or we have none.
FromFloatWeightedFn from_float_weighted(DType t);

// Bytes of a row of n elements. Throws Error(kCorrupt) if n is not a block multiple.
int64_t row_bytes(DType t, int64_t n);

// Scalar reference converters (core/quant_ref.cc; the k-quant from_float in
// core/quant_kquants.cc), written from the block layouts.
namespace ref {
void to_float_f32(const void* src, float* dst, int64_t n);
void to_float_f16(const void* src, float* dst, int64_t n);
void to_float_bf16(const void* src, float* dst, int64_t n);
void to_float_q4_0(const void* src, float* dst, int64_t n);
void to_float_q4_1(const void* src, float* dst, int64_t n);
void to_float_q5_0(const void* src, float* dst, int64_t n);
void to_float_q5_1(const void* src, float* dst, int64_t n);
void to_float_q8_0(const void* src, float* dst, int64_t n);
void to_float_q8_1(const void* src, float* dst, int64_t n);
void to_float_q2_K(const void* src, float* dst, int64_t n);
void to_float_q3_K(const void* src, float* dst, int64_t n);
void to_float_q4_K(const void* src, float* dst, int64_t n);
void to_float_q5_K(const void* src, float* dst, int64_t n);
void to_float_q6_K(const void* src, float* dst, int64_t n);
void to_float_q8_K(const void* src, float* dst, int64_t n);

void from_float_f32(const float* src, void* dst, int64_t n);
void from_float_f16(const float* src, void* dst, int64_t n);
void from_float_bf16(const float* src, void* dst, int64_t n);
void from_float_q4_0(const float* src, void* dst, int64_t n);
void from_float_q4_1(const float* src, void* dst, int64_t n);
void from_float_q5_0(const float* src, void* dst, int64_t n);
void from_float_q5_1(const float* src, void* dst, int64_t n);
void from_float_q8_0(const float* src, void* dst, int64_t n);
void from_float_q8_1(const float* src, void* dst, int64_t n);
void from_float_q8_K(const float* src, void* dst, int64_t n);
// Byte-identical to ggml's quantize_row_q*_K_ref (no importance matrix).
void from_float_q2_K(const float* src, void* dst, int64_t n);
void from_float_q3_K(const float* src, void* dst, int64_t n);
void from_float_q4_K(const float* src, void* dst, int64_t n);
void from_float_q5_K(const float* src, void* dst, int64_t n);
void from_float_q6_K(const float* src, void* dst, int64_t n);
// Byte-identical to ggml's quantize_row_*_impl with importance weights (one row at a time: the
// legacy types weigh by the whole row's mean square).
void from_float_weighted_q4_0(const float* src, void* dst, int64_t n_per_row, const float* weights);
void from_float_weighted_q4_1(const float* src, void* dst, int64_t n_per_row, const float* weights);
void from_float_weighted_q5_0(const float* src, void* dst, int64_t n_per_row, const float* weights);
void from_float_weighted_q5_1(const float* src, void* dst, int64_t n_per_row, const float* weights);
void from_float_weighted_q2_K(const float* src, void* dst, int64_t n_per_row, const float* weights);
void from_float_weighted_q3_K(const float* src, void* dst, int64_t n_per_row, const float* weights);
void from_float_weighted_q4_K(const float* src, void* dst, int64_t n_per_row, const float* weights);
void from_float_weighted_q5_K(const float* src, void* dst, int64_t n_per_row, const float* weights);
void from_float_weighted_q6_K(const float* src, void* dst, int64_t n_per_row, const float* weights);
}  // namespace ref

}  // namespace sobre
