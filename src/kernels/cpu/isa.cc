#include "kernels/cpu/isa.h"

#include <cstdlib>
#include <string_view>
#include <vector>

namespace sobre::kernels {
namespace {

Isa hardware_isa() {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni")) {
        return Isa::kAvx512;
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        __builtin_cpu_supports("f16c")) {
        return Isa::kAvx2;
    }
    return Isa::kScalar;
}

Isa capped_by_env(Isa hw) {
    const char* env = std::getenv("SOBRE_ISA");
    if (!env) return hw;
    const std::string_view want(env);
    Isa cap = hw;
    if (want == "scalar") cap = Isa::kScalar;
    if (want == "avx2") cap = Isa::kAvx2;
    if (want == "avx512") cap = Isa::kAvx512;
    return cap < hw ? cap : hw;
}

}  // namespace

Isa detect_isa() {
    static const Isa isa = capped_by_env(hardware_isa());
    return isa;
}

std::span<const Isa> supported_isas() {
    static const std::vector<Isa> levels = [] {
        std::vector<Isa> v;
        const Isa hw = hardware_isa();
        for (Isa i : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
            if (i <= hw) v.push_back(i);
        }
        return v;
    }();
    return levels;
}

std::string_view isa_name(Isa isa) {
    switch (isa) {
        case Isa::kScalar: return "scalar";
        case Isa::kAvx2: return "avx2";
        case Isa::kAvx512: return "avx512";
    }
    return "?";
}

}  // namespace sobre::kernels
