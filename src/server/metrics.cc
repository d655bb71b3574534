#include "server/metrics.h"

#include <fmt/format.h>

namespace sobre::server {

std::string Metrics::render(const runtime::SchedulerStats& s) const {
    std::string out;
    auto metric = [&out](const char* name, const char* type, const char* help, double value) {
        out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, value);
    };
    const double uptime = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const double gen_s = static_cast<double>(generation_ns.load()) * 1e-9;
    metric("sobre_requests_total", "counter", "Requests received on /v1 routes.", static_cast<double>(requests.load()));
    metric("sobre_requests_failed_total", "counter", "Requests answered with an error.",
           static_cast<double>(requests_failed.load()));
    metric("sobre_prompt_tokens_total", "counter", "Prompt tokens processed.", static_cast<double>(prompt_tokens.load()));
    metric("sobre_prompt_tokens_cached_total", "counter", "Prompt tokens reused from the prefix cache.",
           static_cast<double>(s.cached_prompt_tokens));
    metric("sobre_completion_tokens_total", "counter", "Tokens generated.", static_cast<double>(completion_tokens.load()));
    metric("sobre_tokens_per_second", "gauge", "Generated tokens per second of generation time.",
           gen_s > 0 ? static_cast<double>(completion_tokens.load()) / gen_s : 0.0);
    metric("sobre_queue_depth", "gauge", "Requests waiting for a slot.", static_cast<double>(s.queue_depth));
    metric("sobre_active_sequences", "gauge", "Sequences being generated.", static_cast<double>(s.active));
    metric("sobre_kv_cache_usage_ratio", "gauge", "Share of KV cache blocks in use.",
           s.kv_blocks_total ? static_cast<double>(s.kv_blocks_used) / static_cast<double>(s.kv_blocks_total) : 0.0);
    metric("sobre_uptime_seconds", "gauge", "Seconds since the server started.", uptime);
    return out;
}

}  // namespace sobre::server
