// Continuous batching: every step runs one forward over the next token of every decoding
// sequence plus chunks of the prompts being prefilled, over one shared paged KV cache.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/thread_pool.h"
#include "model/model.h"
#include "runtime/kv_cache.h"
#include "runtime/sampler.h"

namespace sobre::runtime {

enum class FinishReason : uint8_t { kStop, kLength, kCancelled, kError };

struct TokenEvent {
    int32_t token = 0;
    const float* logits = nullptr;  // the distribution the token was drawn from (n_vocab), before filtering
    int64_t n_vocab = 0;
};

struct GenerationRequest {
    std::vector<int32_t> prompt;
    int64_t max_tokens = 256;
    SamplerOptions sampling;
    std::vector<int32_t> stop_tokens;  // finish with kStop after emitting none of these
    // Called on the scheduler thread for each generated token; return false to stop (kStop).
    std::function<bool(const TokenEvent&)> on_token;
    // Optional: edits the logits before sampling (constrained decoding), on the scheduler thread.
    std::function<void(float* logits, int64_t n_vocab)> filter;
    // Called once when the request ends, on the scheduler thread (or in cancel/submit failure).
    std::function<void(FinishReason, int64_t prompt_tokens, int64_t cached_tokens, int64_t completion_tokens)> on_done;
};

struct SchedulerOptions {
    int n_seq = 4;                  // sequences decoded together
    int64_t n_ctx = 4096;           // per-sequence context limit
    int64_t kv_blocks = 0;          // KV budget in blocks (0: n_seq * n_ctx worth)
    int64_t block_size = 16;
    int64_t prefill_chunk = 256;    // prompt tokens per step, shared by all prefilling sequences
    size_t max_queue = 64;          // waiting requests beyond this are refused
    int state_checkpoints = 0;      // recurrent-state checkpoints kept for prefix reuse (0: 2 per slot)
    int threads = 1;
};

struct SchedulerStats {
    int64_t requests_done = 0;
    int64_t prompt_tokens = 0;
    int64_t cached_prompt_tokens = 0;  // reused from the prefix cache
    int64_t generated_tokens = 0;
    int64_t queue_depth = 0;
    int64_t active = 0;
    int64_t kv_blocks_used = 0;
    int64_t kv_blocks_total = 0;
};

class Scheduler {
   public:
    Scheduler(model::Model& model, const SchedulerOptions& options);
    ~Scheduler();  // stops the loop; pending requests end with kCancelled

    // Queues a request. Throws Error(kResourceExhausted) when the queue is full and
    // Error(kInvalidArgument) when the prompt cannot fit the context. Returns its id.
    uint64_t submit(GenerationRequest request);
    // Stops a request; its slot and KV blocks are freed within one step.
    void cancel(uint64_t id);
    SchedulerStats stats() const;
    const SchedulerOptions& options() const { return opt_; }

   private:
    struct Sequence;
    void loop();
    void admit();
    bool step();
    void save_checkpoints();
    void finish(Sequence& s, FinishReason reason);

    model::Model& model_;
    SchedulerOptions opt_;
    KvCache kv_;
    ThreadPool pool_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::unique_ptr<Sequence>> queue_;       // guarded by mu_
    std::vector<uint64_t> cancelled_;                   // guarded by mu_
    std::vector<std::unique_ptr<Sequence>> slots_;      // scheduler thread only
    SchedulerStats stats_;                              // guarded by mu_
    uint64_t next_id_ = 1;                              // guarded by mu_
    bool stop_ = false;                                 // guarded by mu_
    std::thread thread_;
};

}  // namespace sobre::runtime
