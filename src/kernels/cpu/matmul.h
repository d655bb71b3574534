// Matrix products of file-format weights with f32 activations (ISA-agnostic driver).
#pragma once

#include <cstdint>
#include <span>

#include "core/tensor.h"
#include "core/thread_pool.h"
#include "kernels/cpu/kernel_table.h"

namespace sobre::kernels {

// y[t][r] = sum_k W[r][k] * x[t][k] for the n_rows = w.ne[1] rows of a 2-D weight and n_tokens
// activation rows of w.ne[0] floats. Activations are first converted to the weight type's
// vec_dot_type (as llama.cpp does). Few activation rows (decode) take the GEMV path: the level's
// gemv over prepared activations, else one vec_dot per output. Many rows (prefill) take the
// packed GEMM where the level has one for the type (CpuKernels::gemm). Integer sums per block
// are exact on both paths; they differ only in float summation order. Work is split by weight
// rows (whole panels on the GEMM path), so the result does not depend on the thread count.
// REQUIRES: the weight type is computable; x holds n_tokens * w.ne[0] floats, y n_tokens * w.ne[1].
// Throws Error(kCorrupt) if w.ne[0] is not a multiple of the type's block size.
void matmul(const TensorView& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool,
            const CpuKernels& k = cpu_kernels());

// One single-token product of a matmul_vectors batch: y = W x.
struct VectorProduct {
    TensorView w;
    const float* x = nullptr;  // w.ne[0] floats
    float* y = nullptr;        // w.ne[1] floats
};

// Each product as matmul(p.w, p.x, 1, p.y) computes it (the same bits), in one pass of the pool
// over all their rows: decode's many small products (a MoE layer's experts) pay one rendezvous
// instead of one each. Products with the same x and activation type share its conversion.
// REQUIRES and throws as matmul, per product.
void matmul_vectors(std::span<const VectorProduct> products, ThreadPool& pool,
                    const CpuKernels& k = cpu_kernels());

// Several weights applied to the same n_tokens activation rows: outs[i].y = outs[i].w x, the bits
// of a matmul each. One token runs them in one pass of the pool (matmul_vectors); more convert x
// once when all the weights share a type and row length.
struct SharedInputOutput {
    TensorView w;
    float* y = nullptr;  // n_tokens * w.ne[1] floats
};
void matmul_same_input(std::span<const SharedInputOutput> outs, const float* x, int64_t n_tokens,
                       ThreadPool& pool, const CpuKernels& k = cpu_kernels());

// Sees the activations of every matmul the calling thread runs while it is installed (the
// importance-matrix collection of `sobre imatrix`). `w` is the view the caller passed: an
// expert's or a head's slice of a 3-D tensor points into that tensor's data, which tells the
// observer which tensor and which slice it is.
class MatmulObserver {
   public:
    virtual ~MatmulObserver() = default;
    // Called before the product. x holds n_tokens rows of w.ne[0] floats.
    virtual void observe(const TensorView& w, const float* x, int64_t n_tokens) = 0;
};

// Installs an observer for the calling thread's matmuls while it lives and restores the one
// before it at the end. With none installed a matmul pays one thread-local load.
class ScopedMatmulObserver {
   public:
    explicit ScopedMatmulObserver(MatmulObserver* observer);
    ~ScopedMatmulObserver();
    ScopedMatmulObserver(const ScopedMatmulObserver&) = delete;
    ScopedMatmulObserver& operator=(const ScopedMatmulObserver&) = delete;

   private:
    MatmulObserver* previous_;
};

// out[t][:] = row ids[t] of `table` converted to float (embedding lookup).
// REQUIRES: every id is in [0, table.ne[1]).
void get_rows(const TensorView& table, const int32_t* ids, int64_t n, float* out);

}  // namespace sobre::kernels
