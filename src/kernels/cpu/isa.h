// CPU feature levels and their detection.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace sobre::kernels {

// Ordered: each level implies the ones before it.
enum class Isa : uint8_t { kScalar, kAvx2, kAvx512 };

// The best level this CPU supports, capped by the SOBRE_ISA environment variable
// (scalar|avx2|avx512) when it is set. Computed once.
Isa detect_isa();
// Every level this CPU can run, lowest first (tests run each against the scalar reference).
std::span<const Isa> supported_isas();
std::string_view isa_name(Isa isa);

}  // namespace sobre::kernels
