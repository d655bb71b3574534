// Memory-bandwidth probe: how fast this machine streams a buffer much larger than its caches,
// with 1..N threads each reading its own contiguous slice (as the matmul driver splits weight
// rows). Decode speed is bounded by this number divided by the weight bytes read per token.
//   sobre_membw [--threads N] [--mb SIZE] [--reps R]
// The read loop uses the widest loads the CPU has (AVX-512, AVX2, else plain C++ at the baseline
// ISA): with 16-byte loads one core issues too few of them to reach its bandwidth (on the 2-core
// dev box: 11 GB/s per core with SSE2 loads, 15 with AVX-512 ones).
#include <algorithm>
#include <immintrin.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
    int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    int64_t mb = 1024;
    int reps = 5;
};

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
        if (a == "--threads" && v) {
            o.threads = std::max(1, std::atoi(v)), ++i;
        } else if (a == "--mb" && v) {
            o.mb = std::max<int64_t>(64, std::atoll(v)), ++i;
        } else if (a == "--reps" && v) {
            o.reps = std::max(1, std::atoi(v)), ++i;
        } else {
            std::fprintf(stderr, "usage: %s [--threads N] [--mb SIZE] [--reps R]\n", argv[0]);
            std::exit(2);
        }
    }
    return o;
}

uint64_t sum_slice_baseline(const uint64_t* p, size_t n) {
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += p[i];
        s1 += p[i + 1];
        s2 += p[i + 2];
        s3 += p[i + 3];
    }
    for (; i < n; ++i) s0 += p[i];
    return s0 + s1 + s2 + s3;
}

__attribute__((target("avx512f"))) uint64_t sum_slice_avx512(const uint64_t* p, size_t n) {
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm512_add_epi64(a0, _mm512_loadu_si512(p + i));
        a1 = _mm512_add_epi64(a1, _mm512_loadu_si512(p + i + 8));
        a2 = _mm512_add_epi64(a2, _mm512_loadu_si512(p + i + 16));
        a3 = _mm512_add_epi64(a3, _mm512_loadu_si512(p + i + 24));
    }
    alignas(64) uint64_t lanes[8];
    _mm512_store_si512(lanes, _mm512_add_epi64(_mm512_add_epi64(a0, a1), _mm512_add_epi64(a2, a3)));
    uint64_t s = 0;
    for (uint64_t v : lanes) s += v;
    return s + sum_slice_baseline(p + i, n - i);
}

__attribute__((target("avx2"))) uint64_t sum_slice_avx2(const uint64_t* p, size_t n) {
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_add_epi64(a0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i)));
        a1 = _mm256_add_epi64(a1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 4)));
        a2 = _mm256_add_epi64(a2, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 8)));
        a3 = _mm256_add_epi64(a3, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 12)));
    }
    alignas(32) uint64_t lanes[4];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes),
                       _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3)));
    return lanes[0] + lanes[1] + lanes[2] + lanes[3] + sum_slice_baseline(p + i, n - i);
}

using SumFn = uint64_t (*)(const uint64_t*, size_t);

// The widest read loop this CPU runs, and its name.
SumFn pick_sum(const char** name) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) {
        *name = "avx512";
        return sum_slice_avx512;
    }
    if (__builtin_cpu_supports("avx2")) {
        *name = "avx2";
        return sum_slice_avx2;
    }
    *name = "baseline";
    return sum_slice_baseline;
}

// Runs fn(thread_index) on `threads` threads and returns the wall time in seconds.
template <class Fn>
double timed(int threads, Fn fn) {
    std::vector<std::thread> pool;
    const auto t0 = Clock::now();
    for (int t = 1; t < threads; ++t) pool.emplace_back(fn, t);
    fn(0);
    for (std::thread& th : pool) th.join();
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
    const Options o = parse(argc, argv);
    const size_t words = static_cast<size_t>(o.mb << 20) / sizeof(uint64_t);
    std::vector<uint64_t> buf(words);
    std::vector<uint64_t> dst(words / 4);
    std::vector<uint64_t> sink(static_cast<size_t>(o.threads) * 8);
    const char* loads = nullptr;
    const SumFn sum_slice = pick_sum(&loads);
    std::printf("buffer %lld MiB, %d repetitions, best of them reported, %s loads\n",
                static_cast<long long>(o.mb), o.reps, loads);
    std::printf("%8s %14s %14s\n", "threads", "read GB/s", "copy GB/s");
    for (int threads = 1; threads <= o.threads; ++threads) {
        const size_t per = words / static_cast<size_t>(threads);
        // First touch from the threads that will read, then one untimed pass.
        timed(threads, [&](int t) {
            std::memset(buf.data() + per * static_cast<size_t>(t), t + 1, per * sizeof(uint64_t));
        });
        double best_read = 0, best_copy = 0;
        for (int r = 0; r <= o.reps; ++r) {
            const double s = timed(threads, [&](int t) {
                sink[static_cast<size_t>(t) * 8] +=
                    sum_slice(buf.data() + per * static_cast<size_t>(t), per);
            });
            if (r > 0)
                best_read = std::max(
                    best_read, static_cast<double>(per * threads * sizeof(uint64_t)) / s / 1e9);
            const size_t cper = dst.size() / static_cast<size_t>(threads);
            const double c = timed(threads, [&](int t) {
                std::memcpy(dst.data() + cper * static_cast<size_t>(t),
                            buf.data() + cper * static_cast<size_t>(t), cper * sizeof(uint64_t));
            });
            // A copy reads and writes every byte.
            if (r > 0)
                best_copy = std::max(
                    best_copy,
                    2.0 * static_cast<double>(cper * threads * sizeof(uint64_t)) / c / 1e9);
        }
        std::printf("%8d %14.1f %14.1f\n", threads, best_read, best_copy);
    }
    uint64_t total = 0;
    for (uint64_t v : sink) total += v;
    std::printf("(checksum %llu)\n", static_cast<unsigned long long>(total % 1000));
    return 0;
}
