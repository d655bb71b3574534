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

// Claims up to `grain` items from the front (owner) or the back (anyone else) of r; false when
// it is empty.
bool claim(std::atomic<uint64_t>& r, int64_t grain, bool front, int64_t& begin, int64_t& end) {
    uint64_t cur = r.load(std::memory_order_relaxed);
    for (;;) {
        const int64_t lo = static_cast<int64_t>(cur & 0xffffffffu), hi = static_cast<int64_t>(cur >> 32);
        if (lo >= hi) return false;
        const int64_t nlo = front ? std::min(hi, lo + grain) : lo;
        const int64_t nhi = front ? hi : std::max(lo, hi - grain);
        const uint64_t next = static_cast<uint64_t>(nlo) | (static_cast<uint64_t>(nhi) << 32);
        if (r.compare_exchange_weak(cur, next, std::memory_order_relaxed)) {
            begin = front ? lo : nhi;
            end = front ? nlo : hi;
            return true;
        }
    }
}

}  // namespace

ThreadPool::ThreadPool(int n_threads)
    : n_threads_(std::max(1, n_threads)), ranges_(std::make_unique<Range[]>(static_cast<size_t>(n_threads_))) {
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
    if (job_grain_ > 0) {
        run_balanced(index);
        return;
    }
    const int64_t per = (job_n_ + n_threads_ - 1) / n_threads_;
    const int64_t begin = std::min(job_n_, per * index);
    const int64_t end = std::min(job_n_, begin + per);
    if (begin < end) (*job_)(begin, end);
}

void ThreadPool::run_balanced(int index) {
    int64_t begin = 0, end = 0;
    while (claim(ranges_[index].bounds, job_grain_, true, begin, end)) (*job_)(begin, end);
    for (int k = 1; k < n_threads_; ++k) {
        std::atomic<uint64_t>& other = ranges_[(index + k) % n_threads_].bounds;
        while (claim(other, job_grain_, false, begin, end)) (*job_)(begin, end);
    }
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
    run_job(n, 0, fn);
}

void ThreadPool::parallel_for_balanced(int64_t n, int64_t grain,
                                       const std::function<void(int64_t, int64_t)>& fn) {
    // Ranges hold 32-bit bounds; a loop too long for them keeps the static split.
    run_job(n, n < (int64_t{1} << 31) ? std::max<int64_t>(1, grain) : 0, fn);
}

void ThreadPool::run_job(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
    if (n <= 0) return;
    if (n_threads_ == 1 || n == 1) {
        fn(0, n);
        return;
    }
    job_ = &fn;
    job_n_ = n;
    job_grain_ = grain;
    if (grain > 0) {
        const int64_t per = (n + n_threads_ - 1) / n_threads_;
        for (int i = 0; i < n_threads_; ++i) {
            const auto lo = static_cast<uint64_t>(std::min(n, per * i));
            const auto hi = static_cast<uint64_t>(std::min(n, per * (i + 1)));
            ranges_[i].bounds.store(lo | (hi << 32), std::memory_order_relaxed);
        }
    }
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
