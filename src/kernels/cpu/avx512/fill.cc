// avx512::fill: every AVX-512 kernel of this level, one fill per translation unit. Runs after
// avx2::fill, so anything not overridden here keeps its AVX2 (or scalar) entry. The k-quant
// vec_dot products are such entries (a 512-bit per-row version measured no faster): decode of
// Q4_K/Q5_K/Q6_K runs this level's 8-row GEMV instead (gemv_k.cc), and the other k-quants keep
// the AVX2 vec_dot, which ends each super-block with the same fma_step as the GEMM tiles.
#include "kernels/cpu/avx512/simd.h"

namespace sobre::kernels::avx512 {

void fill(CpuKernels& k) {
    fill_quantize(k);
    fill_legacy(k);
    fill_float(k);
    fill_gemm(k);
    fill_gemv_k(k);
    fill_attention(k);
}

}  // namespace sobre::kernels::avx512
