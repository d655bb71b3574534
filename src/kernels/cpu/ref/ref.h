// Scalar reference kernels shared by the ref/ translation units. Every ISA level falls back to
// these (ref::fill runs first), and the tests check every other level against them.
// Included only by ref/ TUs. Scale-unpacking helpers live in core/quant_blocks.h.
#pragma once

#include <cstdint>

namespace sobre::kernels::ref {

// Activation quantizers, one per vec_dot_type: f32 activations -> the layout the dot product of
// that type reads. REQUIRES: n is a multiple of the activation type's block size. Never throw.
void quantize_act_f32(const float* src, void* dst, int64_t n) noexcept;
void quantize_act_f16(const float* src, void* dst, int64_t n) noexcept;
void quantize_act_bf16(const float* src, void* dst, int64_t n) noexcept;
void quantize_act_q8_0(const float* src, void* dst, int64_t n) noexcept;
void quantize_act_q8_1(const float* src, void* dst, int64_t n) noexcept;
void quantize_act_q8_K(const float* src, void* dst, int64_t n) noexcept;

// Float row operations (contracts: CpuOps in kernel_table.h).
void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps);
void softmax(float* x, int64_t n, float scale);
void swiglu(const float* gate, const float* up, float* out, int64_t n);
void axpy_f16(float w, const uint16_t* v, float* out, int64_t n);

}  // namespace sobre::kernels::ref
