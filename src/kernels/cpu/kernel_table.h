// Compute facts per ISA: activation quantizers and dot products, one entry per weight type.
// Format facts (block layouts, to_float) live in core/dtype.h.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "kernels/cpu/isa.h"

namespace sobre::kernels {

// Dot product of one weight row (type W, n elements) with one activation row already converted
// to W's vec_dot_type. REQUIRES: n is a multiple of W's block size. Never throws.
using VecDotFn = float (*)(int64_t n, const void* w, const void* a);
// Converts n floats into the vec_dot_type layout (f32 copy, f16/bf16 rounding, q8 blocks).
using QuantizeActFn = void (*)(const float* src, void* dst, int64_t n);

struct CpuKernels {
    QuantizeActFn quantize_act[kNumDTypes] = {};  // indexed by the activation (vec_dot) type
    VecDotFn vec_dot[kNumDTypes] = {};            // indexed by the weight type
};

// The table for the ISA picked at start-up (detect_isa()); built once.
const CpuKernels& cpu_kernels();
// The table for an explicit ISA level (tests and bench).
const CpuKernels& cpu_kernels(Isa isa);

namespace ref {
// Scalar reference kernels (kernels/cpu/ref/): fills every entry we support.
void fill(CpuKernels& k);
}  // namespace ref

}  // namespace sobre::kernels
