// A fixed set of worker threads that run one parallel loop at a time (no per-op thread creation).
#pragma once

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
    std::mutex mu_;
    std::condition_variable start_cv_;
    std::condition_variable done_cv_;
    const std::function<void(int64_t, int64_t)>* job_ = nullptr;  // guarded by mu_
    int64_t job_n_ = 0;
    uint64_t generation_ = 0;  // bumped per job
    int pending_ = 0;
    bool stop_ = false;
};

}  // namespace sobre
