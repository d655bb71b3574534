// A fixed set of worker threads that run one parallel loop at a time (no per-op thread creation).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace sobre {

class ThreadPool {
   public:
    // n_threads includes the calling thread; 1 means everything runs inline.
    explicit ThreadPool(int n_threads);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const { return n_threads_; }

    // Splits [0, n) into one contiguous chunk per thread and calls fn(begin, end) on each;
    // returns when all chunks are done. The split depends only on n and the thread count, so
    // results are deterministic for a given thread count. Not reentrant.
    void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn);

    // As parallel_for, for loops whose items are independent of which thread runs them (each
    // output written by one item, computed the same way wherever it runs): every thread starts
    // on its own contiguous range, in pieces of `grain` items from the front, and a thread that
    // finishes early takes pieces from the back of the others' ranges. On a shared machine one
    // core is often slower for a while; with a static split the other then waits. fn may be
    // called several times per thread, with ranges in any order. REQUIRES: grain >= 1.
    void parallel_for_balanced(int64_t n, int64_t grain,
                               const std::function<void(int64_t, int64_t)>& fn);

   private:
    // One thread's range of a balanced job: begin in the low 32 bits, end in the high; the
    // owner takes from the front, others from the back, each claim one compare-exchange.
    struct alignas(64) Range {
        std::atomic<uint64_t> bounds{0};
    };

    void worker(int index);
    void run_chunk(int index);
    void run_balanced(int index);
    void run_job(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

    int n_threads_;
    std::vector<std::thread> workers_;
    // A decode step runs hundreds of short loops: waking a sleeping thread for each costs more
    // than the loop, so workers (and the caller, waiting for them) spin briefly on these
    // atomics before blocking on the condition variables.
    std::atomic<uint64_t> generation_{0};  // bumped per job, under mu_
    std::atomic<int> pending_{0};          // workers still running the current job
    std::atomic<bool> stop_{false};
    const std::function<void(int64_t, int64_t)>* job_ = nullptr;  // published by generation_
    int64_t job_n_ = 0;
    int64_t job_grain_ = 0;  // 0: the static split of parallel_for
    std::unique_ptr<Range[]> ranges_;
    std::mutex mu_;
    std::condition_variable start_cv_;
    std::condition_variable done_cv_;
};

}  // namespace sobre
