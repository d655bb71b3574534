// avx2::fill: every AVX2 kernel of this level, one fill per translation unit.
#include "kernels/cpu/avx2/simd.h"

namespace sobre::kernels::avx2 {

void fill(CpuKernels& k) {
    fill_quantize(k);
    fill_legacy(k);
    fill_kquants(k);
    fill_float(k);
    fill_gemm(k);
}

}  // namespace sobre::kernels::avx2
