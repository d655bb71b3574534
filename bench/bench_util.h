// Helpers shared by the kernel benchmarks: random weight rows of any computable type.
#pragma once

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/fp16.h"
#include "core/quant_blocks.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/kernel_table.h"

namespace sobre::bench {

// Weight types worth timing: everything with a dot product.
constexpr DType kBenchTypes[] = {DType::kF32,  DType::kF16,  DType::kBF16, DType::kQ8_0,
                                 DType::kQ4_0, DType::kQ4_1, DType::kQ5_0, DType::kQ5_1,
                                 DType::kQ2_K, DType::kQ3_K, DType::kQ4_K, DType::kQ5_K,
                                 DType::kQ6_K};

inline std::vector<float> random_floats(int64_t n, std::mt19937& rng) {
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> x(static_cast<size_t>(n));
    for (float& v : x) v = dist(rng);
    return x;
}

// `rows` rows of n elements. Legacy and float types go through the reference quantizer; k-quant
// blocks are random bytes with small finite scales (the kernels' speed does not depend on the
// values, only on them being finite).
inline std::vector<uint8_t> random_rows(DType t, int64_t n, int64_t rows, std::mt19937& rng) {
    const DTypeTraits& tr = dtype_traits(t);
    const int64_t rb = row_bytes(t, n);
    std::vector<uint8_t> w(static_cast<size_t>(rb * rows));
    if (tr.from_float != nullptr) {
        const std::vector<float> x = random_floats(n, rng);
        for (int64_t r = 0; r < rows; ++r) tr.from_float(x.data(), w.data() + r * rb, n);
        return w;
    }
    std::uniform_int_distribution<int> byte(0, 255);
    for (uint8_t& b : w) b = static_cast<uint8_t>(byte(rng));
    // Every k-quant block keeps its f16 scales either first (d, dmin) or last (d); make both
    // candidates finite.
    const int64_t bb = tr.block_bytes;
    const uint16_t small = fp32_to_fp16(0.01f);
    for (int64_t off = 0; off + bb <= static_cast<int64_t>(w.size()); off += bb) {
        if (t == DType::kQ4_K || t == DType::kQ5_K || t == DType::kQ2_K) {
            const size_t at = t == DType::kQ2_K ? static_cast<size_t>(bb - 4) : 0;
            std::memcpy(&w[static_cast<size_t>(off) + at], &small, 2);
            std::memcpy(&w[static_cast<size_t>(off) + at + 2], &small, 2);
        } else {
            std::memcpy(&w[static_cast<size_t>(off + bb - 2)], &small, 2);
        }
    }
    return w;
}

inline std::string type_name(DType t) { return std::string(dtype_name(t)); }

}  // namespace sobre::bench
