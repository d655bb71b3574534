#include "core/thread_pool.h"

#include <algorithm>

namespace sobre {
namespace {

constexpr int kSpinIterations = 20000;  // about a millisecond of polling before sleeping

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

template <class Pred>
bool spin_until(Pred done) {
    for (int i = 0; i < kSpinIterations; ++i) {
        if (done()) return true;
        cpu_relax();
    }
    return done();
}

}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)) {
    for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stop_.store(true, std::memory_order_release);
    }
    start_cv_.notify_all();
    for (std::thread& t : workers_) t.join();
}

void ThreadPool::run_chunk(int index) {
    const int64_t per = (job_n_ + n_threads_ - 1) / n_threads_;
    const int64_t begin = std::min(job_n_, per * index);
    const int64_t end = std::min(job_n_, begin + per);
    if (begin < end) (*job_)(begin, end);
}

void ThreadPool::worker(int index) {
    uint64_t seen = 0;
    for (;;) {
        auto ready = [&] {
            return stop_.load(std::memory_order_acquire) || generation_.load(std::memory_order_acquire) != seen;
        };
        if (!spin_until(ready)) {
            std::unique_lock<std::mutex> lock(mu_);
            start_cv_.wait(lock, ready);
        }
        if (stop_.load(std::memory_order_acquire)) return;
        seen = generation_.load(std::memory_order_acquire);
        run_chunk(index);
        if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            std::lock_guard<std::mutex> lock(mu_);  // the caller may be about to sleep
            done_cv_.notify_one();
        }
    }
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
    if (n <= 0) return;
    if (n_threads_ == 1 || n == 1) {
        fn(0, n);
        return;
    }
    job_ = &fn;
    job_n_ = n;
    pending_.store(n_threads_ - 1, std::memory_order_relaxed);
    {
        std::lock_guard<std::mutex> lock(mu_);
        generation_.fetch_add(1, std::memory_order_release);
    }
    start_cv_.notify_all();
    run_chunk(0);
    auto done = [&] { return pending_.load(std::memory_order_acquire) == 0; };
    if (!spin_until(done)) {
        std::unique_lock<std::mutex> lock(mu_);
        done_cv_.wait(lock, done);
    }
    job_ = nullptr;
}

}  // namespace sobre
