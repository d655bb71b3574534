// Helpers shared by the kernel tests: the kernel tables under test (one per ISA level this CPU
// runs) and random weight rows of every computable type.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/fp16.h"
#include "core/quant_blocks.h"
#include "kernels/cpu/isa.h"
#include "kernels/cpu/kernel_table.h"

namespace sobre::kernels::testing_util {

struct KernelSet {
    std::string name;
    Isa isa;
    const CpuKernels* kernels;
};

// One entry per level in supported_isas(), lowest first ("scalar" is the reference itself).
inline const std::vector<KernelSet>& kernel_sets() {
    static const std::vector<KernelSet> sets = [] {
        std::vector<KernelSet> v;
        for (Isa isa : supported_isas())
            v.push_back({std::string(isa_name(isa)), isa, &cpu_kernels(isa)});
        return v;
    }();
    return sets;
}

inline const CpuKernels& reference_kernels() { return cpu_kernels(Isa::kScalar); }

constexpr DType kPlainTypes[] = {DType::kF32, DType::kF16, DType::kBF16};
constexpr DType kLegacyTypes[] = {DType::kQ4_0, DType::kQ4_1, DType::kQ5_0, DType::kQ5_1,
                                  DType::kQ8_0};
constexpr DType kKTypes[] = {DType::kQ2_K, DType::kQ3_K, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K};
constexpr DType kActTypes[] = {DType::kF32,  DType::kF16,  DType::kBF16,
                               DType::kQ8_0, DType::kQ8_1, DType::kQ8_K};

inline size_t idx(DType t) { return static_cast<size_t>(t); }

inline size_t row_size(DType t, int64_t n) {
    const DTypeTraits& tr = dtype_traits(t);
    return static_cast<size_t>(n / tr.block_elems * tr.block_bytes);
}

// Random floats in [-1, 1], each 32-element group scaled by its own factor in [0.1, 10] so
// blocks of one row get different scales.
inline std::vector<float> random_floats(int64_t n, std::mt19937& rng) {
    std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
    std::vector<float> x(static_cast<size_t>(n));
    float scale = 1.0f;
    for (int64_t i = 0; i < n; ++i) {
        if (i % kQK == 0) scale = std::pow(10.0f, unit(rng));
        x[static_cast<size_t>(i)] = unit(rng) * scale;
    }
    return x;
}

// K-quant rows have no reference quantizer: random bytes for codes and packed scales, then
// small random super-block scales so the values stay in a realistic range.
template <class Block>
void randomize_k_blocks(uint8_t* row, size_t bytes, std::mt19937& rng) {
    std::uniform_int_distribution<int> byte(0, 255);
    for (size_t i = 0; i < bytes; ++i) row[i] = static_cast<uint8_t>(byte(rng));
    std::uniform_real_distribution<float> mag(1e-3f, 1e-2f);
    auto* blocks = reinterpret_cast<Block*>(row);
    for (size_t b = 0; b < bytes / sizeof(Block); ++b) {
        const float sign = byte(rng) & 1 ? -1.0f : 1.0f;
        blocks[b].d = fp32_to_fp16(sign * mag(rng));
        if constexpr (requires { blocks[b].dmin; }) blocks[b].dmin = fp32_to_fp16(mag(rng));
    }
}

// `rows` weight rows of n elements of type t, back to back.
inline std::vector<uint8_t> make_weights(DType t, int64_t n, std::mt19937& rng, int64_t rows = 1) {
    const size_t rb = row_size(t, n);
    std::vector<uint8_t> w(rb * static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r) {
        uint8_t* row = w.data() + rb * static_cast<size_t>(r);
        switch (t) {
            case DType::kQ2_K:
                randomize_k_blocks<BlockQ2_K>(row, rb, rng);
                break;
            case DType::kQ3_K:
                randomize_k_blocks<BlockQ3_K>(row, rb, rng);
                break;
            case DType::kQ4_K:
                randomize_k_blocks<BlockQ4_K>(row, rb, rng);
                break;
            case DType::kQ5_K:
                randomize_k_blocks<BlockQ5_K>(row, rb, rng);
                break;
            case DType::kQ6_K:
                randomize_k_blocks<BlockQ6_K>(row, rb, rng);
                break;
            default: {
                const std::vector<float> x = random_floats(n, rng);
                dtype_traits(t).from_float(x.data(), row, n);
            }
        }
    }
    return w;
}

inline std::vector<float> dequant(DType t, const uint8_t* row, int64_t n) {
    std::vector<float> y(static_cast<size_t>(n));
    dtype_traits(t).to_float(row, y.data(), n);
    return y;
}

}  // namespace sobre::kernels::testing_util
