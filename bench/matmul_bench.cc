// The matmul driver on Qwen3-0.6B's matrix shapes: one token (decode, bandwidth-bound: the
// weights rotate through copies that together exceed the last-level cache, as a real forward
// streams every layer from DRAM) and 512 tokens (prefill, compute-bound: int8 ops/s).
// Arguments: threads. Example:
//   sobre_kernels_bench --benchmark_filter='matmul/avx512/q8_0/ffn_up/t512' --benchmark_min_time=1
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>

#include "bench_util.h"
#include "core/thread_pool.h"
#include "kernels/cpu/matmul.h"

namespace sobre::bench {
namespace {

struct Shape {
    const char* name;
    int64_t k, rows;
};

// Qwen3-0.6B: n_embd 1024, 16 heads of 128 (q 2048), 8 KV heads (k, v 1024), n_ff 3072,
// vocabulary 151936 (the tied output matrix).
constexpr Shape kShapes[] = {
    {"attn_q", 1024, 2048}, {"attn_kv", 1024, 1024},  {"attn_out", 2048, 1024},
    {"ffn_up", 1024, 3072}, {"ffn_down", 3072, 1024}, {"output", 1024, 151936},
};

constexpr DType kTypes[] = {DType::kQ8_0, DType::kQ4_0, DType::kQ4_K, DType::kQ6_K, DType::kF16};

// Bytes of weight copies the decode benchmarks rotate through (SOBRE_BENCH_POOL_MB, default 512).
int64_t pool_bytes() {
    const char* env = std::getenv("SOBRE_BENCH_POOL_MB");
    return (env ? std::atoll(env) : 512) << 20;
}

void bm_matmul(benchmark::State& state, kernels::Isa isa, DType t, Shape s, int64_t tokens) {
    const kernels::CpuKernels& k = kernels::cpu_kernels(isa);
    const int threads = static_cast<int>(state.range(0));
    std::mt19937 rng(3);
    const std::vector<uint8_t> one = random_rows(t, s.k, s.rows, rng);
    // Decode reads weights from DRAM: keep enough copies to defeat the caches.
    const int64_t copies =
        tokens == 1 ? std::max<int64_t>(1, pool_bytes() / static_cast<int64_t>(one.size())) : 1;
    std::vector<uint8_t> weights(one.size() * static_cast<size_t>(copies));
    for (int64_t c = 0; c < copies; ++c)
        std::memcpy(&weights[one.size() * static_cast<size_t>(c)], one.data(), one.size());
    const std::vector<float> x = random_floats(s.k * tokens, rng);
    std::vector<float> y(static_cast<size_t>(s.rows * tokens));
    ThreadPool pool(threads);
    TensorView w;
    w.type = t;
    w.ne[0] = s.k;
    w.ne[1] = s.rows;
    int64_t c = 0;
    for (auto _ : state) {
        w.data = weights.data() + one.size() * static_cast<size_t>(c);
        c = (c + 1) % copies;
        kernels::matmul(w, x.data(), tokens, y.data(), pool, k);
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(one.size()));
    state.counters["ops"] = benchmark::Counter(
        static_cast<double>(state.iterations()) * 2.0 * static_cast<double>(s.k * s.rows * tokens),
        benchmark::Counter::kIsRate);
}

const bool kRegistered = [] {
    for (kernels::Isa isa : kernels::supported_isas()) {
        for (DType t : kTypes) {
            for (const Shape& s : kShapes) {
                for (int64_t tokens : {1, 512}) {
                    const std::string name = "matmul/" + std::string(kernels::isa_name(isa)) + "/" +
                                             type_name(t) + "/" + s.name + "/t" +
                                             std::to_string(tokens);
                    benchmark::RegisterBenchmark(name.c_str(), bm_matmul, isa, t, s, tokens)
                        ->ArgName("threads")
                        ->Arg(1)
                        ->Arg(2)
                        ->UseRealTime()
                        ->Unit(benchmark::kMillisecond);
                }
            }
        }
    }
    return true;
}();

}  // namespace
}  // namespace sobre::bench
