#include "kernels/cpu/kernel_table.h"

namespace sobre::kernels {
namespace {

// Fill order gives the fallback: the scalar reference sets every entry, faster ISA levels
// override what they do better (ref: STYLE.md §9.4).
CpuKernels build(Isa isa) {
    CpuKernels k;
    ref::fill(k);
    if (isa >= Isa::kAvx2) avx2::fill(k);
    if (isa >= Isa::kAvx512) avx512::fill(k);
    return k;
}

}  // namespace

const CpuKernels& cpu_kernels() {
    static const CpuKernels& k = cpu_kernels(detect_isa());
    return k;
}

// Tables are built on first use of their level, so asking for the scalar table on an old CPU
// never runs (or even builds) an AVX-512 fill.
const CpuKernels& cpu_kernels(Isa isa) {
    switch (isa) {
        case Isa::kScalar: {
            static const CpuKernels k = build(Isa::kScalar);
            return k;
        }
        case Isa::kAvx2: {
            static const CpuKernels k = build(Isa::kAvx2);
            return k;
        }
        case Isa::kAvx512:
            break;
    }
    static const CpuKernels k = build(Isa::kAvx512);
    return k;
}

}  // namespace sobre::kernels
