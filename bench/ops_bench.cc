// The float row operations per ISA level on forward-pass sizes: softmax over a 512-position
// attention row, SwiGLU over Qwen3-0.6B's n_ff, RMSNorm over n_embd, f16 axpy over a head.
#include <benchmark/benchmark.h>

#include "bench_util.h"
#include "core/thread_pool.h"

namespace sobre::bench {
namespace {

void bm_softmax(benchmark::State& state, kernels::Isa isa) {
    std::mt19937 rng(4);
    const std::vector<float> x0 = random_floats(512, rng);
    std::vector<float> x = x0;
    for (auto _ : state) {
        x = x0;
        kernels::cpu_kernels(isa).ops.softmax(x.data(), 512, 0.088f);
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations() * 512);
}

void bm_swiglu(benchmark::State& state, kernels::Isa isa) {
    std::mt19937 rng(5);
    const std::vector<float> g = random_floats(3072, rng), u = random_floats(3072, rng);
    std::vector<float> out(3072);
    for (auto _ : state) {
        kernels::cpu_kernels(isa).ops.swiglu(g.data(), u.data(), out.data(), 3072);
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations() * 3072);
}

void bm_rms_norm(benchmark::State& state, kernels::Isa isa) {
    std::mt19937 rng(6);
    const std::vector<float> x = random_floats(1024, rng), w = random_floats(1024, rng);
    std::vector<float> y(1024);
    for (auto _ : state) {
        kernels::cpu_kernels(isa).ops.rms_norm(x.data(), w.data(), y.data(), 1024, 1e-6f);
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations() * 1024);
}

void bm_axpy_f16(benchmark::State& state, kernels::Isa isa) {
    std::vector<uint16_t> v(128, fp32_to_fp16(0.5f));
    std::vector<float> out(128, 0.0f);
    for (auto _ : state) {
        kernels::cpu_kernels(isa).ops.axpy_f16(0.25f, v.data(), out.data(), 128);
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations() * 128);
}

// The fixed cost of one parallel_for (wake the workers, run empty chunks, wait): a decode step
// of Qwen3-0.6B runs about 250 of them, so this bounds how fast tg can be on small models.
void bm_parallel_for(benchmark::State& state) {
    ThreadPool pool(static_cast<int>(state.range(0)));
    int64_t sink = 0;
    for (auto _ : state) {
        pool.parallel_for(1024, [&](int64_t begin, int64_t end) {
            benchmark::DoNotOptimize(sink += end - begin);
        });
    }
}
BENCHMARK(bm_parallel_for)
    ->Name("threadpool/parallel_for")
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->UseRealTime();

const bool kRegistered = [] {
    for (kernels::Isa isa : kernels::supported_isas()) {
        const std::string level(kernels::isa_name(isa));
        benchmark::RegisterBenchmark(("ops/" + level + "/softmax512").c_str(), bm_softmax, isa);
        benchmark::RegisterBenchmark(("ops/" + level + "/swiglu3072").c_str(), bm_swiglu, isa);
        benchmark::RegisterBenchmark(("ops/" + level + "/rms_norm1024").c_str(), bm_rms_norm, isa);
        benchmark::RegisterBenchmark(("ops/" + level + "/axpy_f16_128").c_str(), bm_axpy_f16, isa);
    }
    return true;
}();

}  // namespace
}  // namespace sobre::bench
