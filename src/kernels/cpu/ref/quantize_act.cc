// Scalar activation quantizers. Each is the reference from_float of the activation type, which
// is what ggml's quantize_row_*_generic does too (ref: ggml-cpu/quants.c), so activations are
// rounded exactly as llama.cpp rounds them before its dot products.
#include "core/dtype.h"
#include "kernels/cpu/ref/ref.h"

namespace sobre::kernels::ref {

void quantize_act_f32(const float* src, void* dst, int64_t n) noexcept {
    sobre::ref::from_float_f32(src, dst, n);
}

void quantize_act_f16(const float* src, void* dst, int64_t n) noexcept {
    sobre::ref::from_float_f16(src, dst, n);
}

void quantize_act_bf16(const float* src, void* dst, int64_t n) noexcept {
    sobre::ref::from_float_bf16(src, dst, n);
}

void quantize_act_q8_0(const float* src, void* dst, int64_t n) noexcept {
    sobre::ref::from_float_q8_0(src, dst, n);
}

void quantize_act_q8_1(const float* src, void* dst, int64_t n) noexcept {
    sobre::ref::from_float_q8_1(src, dst, n);
}

void quantize_act_q8_K(const float* src, void* dst, int64_t n) noexcept {
    sobre::ref::from_float_q8_K(src, dst, n);
}

}  // namespace sobre::kernels::ref
