// Server counters, rendered as Prometheus text at /metrics.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "runtime/scheduler.h"

namespace sobre::server {

struct Metrics {
    std::atomic<int64_t> requests{0};
    std::atomic<int64_t> requests_failed{0};
    std::atomic<int64_t> prompt_tokens{0};
    std::atomic<int64_t> completion_tokens{0};
    std::atomic<int64_t> generation_ns{0};  // summed per-request generation time
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

    std::string render(const runtime::SchedulerStats& s) const;
};

}  // namespace sobre::server
