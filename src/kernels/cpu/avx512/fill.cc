// avx512::fill: every AVX-512 kernel of this level, one fill per translation unit. Runs after
// avx2::fill, so anything not overridden here keeps its AVX2 (or scalar) entry.
#include "kernels/cpu/avx512/simd.h"

namespace sobre::kernels::avx512 {

void fill(CpuKernels& k) {
    fill_quantize(k);
    fill_legacy(k);
    fill_kquants(k);
    fill_float(k);
    fill_gemm(k);
    fill_attention(k);
}

}  // namespace sobre::kernels::avx512
