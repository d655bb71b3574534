#include "kernels/cpu/kernel_table.h"

namespace sobre::kernels {
namespace {

// Fill order gives the fallback: the scalar reference sets every entry, faster ISA levels
// override what they do better (none yet: the SIMD kernels belong to the speed issue).
CpuKernels build(Isa isa) {
    CpuKernels k;
    ref::fill(k);
    (void)isa;
    return k;
}

}  // namespace

const CpuKernels& cpu_kernels() { return cpu_kernels(detect_isa()); }

const CpuKernels& cpu_kernels(Isa isa) {
    static const CpuKernels tables[] = {build(Isa::kScalar), build(Isa::kAvx2), build(Isa::kAvx512)};
    return tables[static_cast<int>(isa)];
}

}  // namespace sobre::kernels
