// This level's packed GEMM/GEMV forms (kernels/cpu/gemm_layout.inc with 16-row panels), shared
// by gemm.cc and gemv_k.cc. Include only from avx512/ TUs.
#pragma once

#include <cstdint>
#include <type_traits>

namespace sobre::kernels::avx512 {

constexpr int kPanelRows = 16;

#include "kernels/cpu/gemm_layout.inc"

}  // namespace sobre::kernels::avx512
