// avx512::fill: every AVX-512 kernel of this level, one fill per translation unit. Runs after
// avx2::fill, so anything not overridden here keeps its AVX2 (or scalar) entry. The k-quant dot
// products are such entries: 512-bit versions (maddubs/madd over 64 codes, vpermw for the
// scales) measured no faster than the AVX2 ones (bench vec_dot/*/q*_K), so they were dropped.
// The AVX2 ones end each super-block with the same fma_step as this level's GEMM tiles.
#include "kernels/cpu/avx512/simd.h"

namespace sobre::kernels::avx512 {

void fill(CpuKernels& k) {
    fill_quantize(k);
    fill_legacy(k);
    fill_float(k);
    fill_gemm(k);
    fill_attention(k);
}

}  // namespace sobre::kernels::avx512
