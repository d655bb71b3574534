// A fixed set of worker threads that run one parallel loop at a time (no per-op thread creation).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
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

   private:
    void worker(int index);
    void run_chunk(int index);

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
    std::mutex mu_;
    std::condition_variable start_cv_;
    std::condition_variable done_cv_;
};

}  // namespace sobre
