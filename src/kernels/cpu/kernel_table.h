// Compute facts per ISA: activation quantizers, dot products, prefill GEMM and the float ops of
// the forward pass. Format facts (block layouts, to_float) live in core/dtype.h.
//
// Every ISA level fills the same table; kernels/cpu/kernel_table.cc builds it by running the
// scalar reference first and then each SIMD level's fill() up to the level asked for, so an
// entry a level does not override falls back to the level below (ggml's `_generic`, at run time).
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

// Activation rows one GEMM tile call handles at most (tile[r - 1] handles r rows).
constexpr int kMaxRows = 8;

// Prefill GEMM of one weight type (STYLE §9.3's gemm_tile[type][rows], with the packing made
// explicit), in three steps that the ISA-agnostic driver (matmul.cc) sequences: weights are
// packed `panel_rows` rows at a time into a cache-resident panel (BLAS-style packing, per call;
// the file's weights are never modified or copied whole), activation rows already in the
// vec_dot_type are converted once into the form the tile reads, and each tile multiplies one
// panel by up to kMaxRows activation rows. The panel and packed activation layouts are private
// to the ISA level that fills the entry. Integer sums per block are exact, as in vec_dot.
struct GemmKernels {
    // Weight rows per panel; 0: no GEMM for this type (the driver uses vec_dot).
    int panel_rows = 0;
    // Bytes of one panel for rows of n elements.
    int64_t (*panel_bytes)(int64_t n) = nullptr;
    // Packs rows [0, n_rows) of `w` (n_rows <= panel_rows, row r at w + r * w_row_bytes) into
    // `panel` (64-byte aligned); rows past n_rows are zero.
    void (*pack)(const uint8_t* w, int64_t w_row_bytes, int n_rows, int64_t n,
                 void* panel) = nullptr;
    // Bytes of one packed activation row of n elements (a multiple of 64).
    int64_t (*act_bytes)(int64_t n) = nullptr;
    // Converts one vec_dot_type activation row of n elements into its packed form (64-byte
    // aligned); the GEMV reads the same form.
    void (*prep_act)(const void* a, int64_t n, void* packed) = nullptr;
    // y[j * ldy + i] = (panel row i) . (packed activation row j) for i < n_rows, j < r, where
    // tile[r - 1] is called and activation row j starts at acts + j * act_stride.
    void (*tile[kMaxRows])(const void* panel, const uint8_t* acts, int64_t act_stride, int64_t n,
                           float* y, int64_t ldy, int n_rows) = {};
    // Decode: y[i] = (weight row i) . (one packed activation row) for i < n_rows, with the weight
    // rows in the file's format (row i at w + i * w_row_bytes). Batch invariance: a token's
    // outputs may not depend on the batch it is computed in, so this must give the tiles' bits;
    // where it is null, the level's vec_dot must (the k-quants end every super-block with the
    // same fma_step in both). Tested by Matmul.OutputsDoNotDependOnTheBatch.
    void (*gemv)(const uint8_t* w, int64_t w_row_bytes, int64_t n_rows, int64_t n,
                 const uint8_t* act, float* y) = nullptr;
};

struct AttnArgs;  // kernels/cpu/attention.h

// Element-wise and row-wise float kernels (the forward's non-matmul hot loops).
struct CpuOps {
    // In place: x = softmax(x * scale) over n values.
    void (*softmax)(float* x, int64_t n, float scale) = nullptr;
    // out[i] = silu(gate[i]) * up[i]; out may alias gate.
    void (*swiglu)(const float* gate, const float* up, float* out, int64_t n) = nullptr;
    // y = x / sqrt(mean(x^2) + eps) * w (w may be null); x and y may alias.
    void (*rms_norm)(const float* x, const float* w, float* y, int64_t n, float eps) = nullptr;
    // out[d] += w * f16 row v[d] for d < n (attention's weighted sum of V rows).
    void (*axpy_f16)(float w, const uint16_t* v, float* out, int64_t n) = nullptr;
    // Attention of queries over one KV head (contract: kernels/cpu/attention.h). Null: the
    // per-row path of kernels/cpu/attention.cc over this table's f16 dot product and axpy.
    void (*attend)(const AttnArgs& a, float* scratch) = nullptr;
};

struct CpuKernels {
    QuantizeActFn quantize_act[kNumDTypes] = {};  // indexed by the activation (vec_dot) type
    VecDotFn vec_dot[kNumDTypes] = {};            // indexed by the weight type
    GemmKernels gemm[kNumDTypes] = {};            // indexed by the weight type
    CpuOps ops;
};

// The table for the ISA picked at start-up (detect_isa()); built once.
const CpuKernels& cpu_kernels();
// The table for an explicit ISA level (tests and bench). REQUIRES: the CPU supports `isa`.
const CpuKernels& cpu_kernels(Isa isa);

// Each level's fill() sets the entries it implements and leaves the others as they are.
namespace ref {
// Scalar reference kernels (kernels/cpu/ref/): fills every entry we support except gemm.
void fill(CpuKernels& k);
}  // namespace ref
namespace avx2 {
// AVX2 + FMA + F16C kernels (kernels/cpu/avx2/).
void fill(CpuKernels& k);
}  // namespace avx2
namespace avx512 {
// AVX-512 F/BW/DQ/VL + VNNI kernels (kernels/cpu/avx512/).
void fill(CpuKernels& k);
}  // namespace avx512

}  // namespace sobre::kernels
