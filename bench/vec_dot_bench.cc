// One weight row times one activation row, per weight type and ISA level, with both rows in L1
// (4096 elements): the kernels' raw speed. Reported as weights/s and weight bytes/s.
#include <benchmark/benchmark.h>

#include "bench_util.h"

namespace sobre::bench {
namespace {

constexpr int64_t kN = 4096;

void bm_vec_dot(benchmark::State& state, kernels::Isa isa, DType t) {
    const kernels::CpuKernels& k = kernels::cpu_kernels(isa);
    std::mt19937 rng(1);
    const std::vector<uint8_t> w = random_rows(t, kN, 1, rng);
    const DType at = dtype_traits(t).vec_dot_type;
    std::vector<uint8_t> a(static_cast<size_t>(row_bytes(at, kN)));
    const std::vector<float> x = random_floats(kN, rng);
    k.quantize_act[static_cast<size_t>(at)](x.data(), a.data(), kN);
    const kernels::VecDotFn dot = k.vec_dot[static_cast<size_t>(t)];
    for (auto _ : state) {
        float r = dot(kN, w.data(), a.data());
        benchmark::DoNotOptimize(r);
    }
    state.SetItemsProcessed(state.iterations() * kN);
    state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(w.size()));
}

// 16 rows (L2-resident) against one activation row: the decode GEMV on prepared activations
// where the level has one, else 16 vec_dot calls, as the matmul driver would run them.
void bm_rows16(benchmark::State& state, kernels::Isa isa, DType t) {
    const kernels::CpuKernels& k = kernels::cpu_kernels(isa);
    constexpr int64_t kRows = 16;
    std::mt19937 rng(1);
    const std::vector<uint8_t> w = random_rows(t, kN, kRows, rng);
    const int64_t rb = row_bytes(t, kN);
    const DType at = dtype_traits(t).vec_dot_type;
    std::vector<uint8_t> a(static_cast<size_t>(row_bytes(at, kN)));
    const std::vector<float> x = random_floats(kN, rng);
    k.quantize_act[static_cast<size_t>(at)](x.data(), a.data(), kN);
    const kernels::GemmKernels& g = k.gemm[static_cast<size_t>(t)];
    std::vector<uint8_t> packed(g.gemv ? static_cast<size_t>(g.act_bytes(kN)) + 64 : 0);
    uint8_t* p =
        packed.data() + (g.gemv ? (64 - reinterpret_cast<uintptr_t>(packed.data()) % 64) % 64 : 0);
    if (g.gemv) g.prep_act(a.data(), kN, p);
    float y[kRows];
    for (auto _ : state) {
        if (g.gemv) {
            g.gemv(w.data(), rb, kRows, kN, p, y);
        } else {
            for (int64_t r = 0; r < kRows; ++r)
                y[r] = k.vec_dot[static_cast<size_t>(t)](kN, w.data() + r * rb, a.data());
        }
        benchmark::DoNotOptimize(y);
    }
    state.SetItemsProcessed(state.iterations() * kN * kRows);
    state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(w.size()));
}

void bm_quantize(benchmark::State& state, kernels::Isa isa, DType at) {
    const kernels::CpuKernels& k = kernels::cpu_kernels(isa);
    std::mt19937 rng(2);
    const std::vector<float> x = random_floats(kN, rng);
    std::vector<uint8_t> a(static_cast<size_t>(row_bytes(at, kN)));
    for (auto _ : state) {
        k.quantize_act[static_cast<size_t>(at)](x.data(), a.data(), kN);
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations() * kN);
}

const bool kRegistered = [] {
    for (kernels::Isa isa : kernels::supported_isas()) {
        const std::string level(kernels::isa_name(isa));
        for (DType t : kBenchTypes) {
            benchmark::RegisterBenchmark(("vec_dot/" + level + "/" + type_name(t)).c_str(),
                                         bm_vec_dot, isa, t);
            benchmark::RegisterBenchmark(("rows16/" + level + "/" + type_name(t)).c_str(),
                                         bm_rows16, isa, t);
        }
        for (DType at : {DType::kQ8_0, DType::kQ8_1, DType::kQ8_K, DType::kF16, DType::kBF16}) {
            benchmark::RegisterBenchmark(("quantize/" + level + "/" + type_name(at)).c_str(),
                                         bm_quantize, isa, at);
        }
    }
    return true;
}();

}  // namespace
}  // namespace sobre::bench
