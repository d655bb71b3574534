// One generation request in flight: submits to the scheduler and hands the produced text (and
// logprobs) to the HTTP thread that waits for it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>

#include "runtime/scheduler.h"
#include "server/json_constraint.h"
#include "server/openai.h"
#include "server/text_stream.h"

namespace sobre::server {

// Every token's text and whether it ends generation, built once per server (constrained decoding
// tries each token's text against the grammar).
struct TokenTable : ConstraintVocab {
    using ConstraintVocab::ConstraintVocab;
    static TokenTable from(const tokenizer::Tokenizer& tok);
};

struct JobPiece {
    std::string text;
    json logprobs;  // null unless requested
};

struct JobResult {
    runtime::FinishReason reason = runtime::FinishReason::kStop;
    int64_t prompt_tokens = 0;
    int64_t cached_tokens = 0;
    int64_t completion_tokens = 0;
    std::chrono::steady_clock::duration latency{};
};

class Job {
   public:
    // Queues the generation. Throws Error(kResourceExhausted) when the server is full and
    // Error(kInvalidArgument) when the prompt does not fit.
    Job(runtime::Scheduler& sched, const tokenizer::Tokenizer& tok, const TokenTable& table, const GenParams& params,
        std::vector<int32_t> prompt, int64_t n_ctx);
    ~Job();  // cancels the generation if it is still running

    // Waits up to `timeout` for the next piece. Returns true with a piece, false when the job has
    // finished (all pieces taken) or on timeout (check finished()).
    bool next(JobPiece& piece, std::chrono::milliseconds timeout);
    bool finished() const;
    JobResult result() const;  // REQUIRES: finished()
    void cancel();

   private:
    bool on_token(const runtime::TokenEvent& e);
    void on_done(runtime::FinishReason reason, int64_t prompt, int64_t cached, int64_t completion);
    void filter(float* logits, int64_t n_vocab) const;

    runtime::Scheduler& sched_;
    const tokenizer::Tokenizer& tok_;
    const TokenTable& table_;
    GenParams params_;
    std::optional<JsonMachine> json_;  // response_format: the document so far
    TextStream text_;
    std::vector<int32_t> counts_;  // generated count per token id (penalties)
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
    uint64_t id_ = 0;

    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<JobPiece> pieces_;
    bool done_ = false;
    JobResult result_;
};

}  // namespace sobre::server
