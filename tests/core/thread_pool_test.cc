#include "core/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace sobre {
namespace {

TEST(ThreadPool, CoversEveryIndexExactlyOnce) {
    for (int threads : {1, 2, 3, 8}) {
        ThreadPool pool(threads);
        for (int64_t n : {0, 1, 2, 7, 100, 1001}) {
            std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
            pool.parallel_for(n, [&](int64_t b, int64_t e) {
                for (int64_t i = b; i < e; ++i) hits[i]++;
            });
            for (int64_t i = 0; i < n; ++i) EXPECT_EQ(hits[i].load(), 1) << threads << " threads, n " << n;
        }
    }
}

TEST(ThreadPool, BalancedCoversEveryIndexExactlyOnceInGrainPieces) {
    for (int threads : {1, 2, 3, 8}) {
        ThreadPool pool(threads);
        for (int64_t n : {0, 1, 2, 7, 100, 1001}) {
            for (int64_t grain : {1, 3, 64, 5000}) {
                std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
                std::atomic<bool> too_big{false};
                pool.parallel_for_balanced(n, grain, [&](int64_t b, int64_t e) {
                    if (e - b > grain && threads > 1 && n > 1) too_big = true;
                    for (int64_t i = b; i < e; ++i) hits[i]++;
                });
                for (int64_t i = 0; i < n; ++i) {
                    EXPECT_EQ(hits[i].load(), 1) << threads << " threads, n " << n << ", grain " << grain;
                }
                EXPECT_FALSE(too_big) << threads << " threads, n " << n << ", grain " << grain;
            }
        }
    }
}

// A thread held up inside its first piece: the others take over its remaining range.
TEST(ThreadPool, BalancedHandsASlowThreadsRowsToTheOthers) {
    ThreadPool pool(2);
    std::vector<std::atomic<int>> hits(64);
    std::atomic<int64_t> by_caller{0};
    const auto caller = std::this_thread::get_id();
    pool.parallel_for_balanced(64, 1, [&](int64_t b, int64_t e) {
        const bool is_caller = std::this_thread::get_id() == caller;
        if (is_caller && b == 0) std::this_thread::sleep_for(std::chrono::milliseconds(200));
        for (int64_t i = b; i < e; ++i) hits[i]++;
        if (is_caller) by_caller += e - b;
    });
    for (auto& h : hits) EXPECT_EQ(h.load(), 1);
    // The caller's static share would be 32 items; the worker took its pieces while it slept.
    EXPECT_LT(by_caller.load(), 8);
}

TEST(ThreadPool, ReusableManyTimes) {
    ThreadPool pool(4);
    std::atomic<int64_t> sum{0};
    for (int rep = 0; rep < 2000; ++rep) {
        pool.parallel_for(10, [&](int64_t b, int64_t e) { sum += e - b; });
    }
    EXPECT_EQ(sum.load(), 20000);
}

}  // namespace
}  // namespace sobre
