#include "server/job.h"

#include <algorithm>

namespace sobre::server {

TokenTable TokenTable::from(const tokenizer::Tokenizer& tok) {
    std::vector<std::string> pieces;
    std::vector<bool> eog;
    for (int32_t id = 0; id < tok.n_tokens(); ++id) {
        pieces.push_back(tok.token_to_piece(id, false));
        eog.push_back(tok.is_eog(id));
    }
    return TokenTable(std::move(pieces), std::move(eog));
}

Job::Job(runtime::Scheduler& sched, const tokenizer::Tokenizer& tok, const TokenTable& table, const GenParams& params,
         std::vector<int32_t> prompt, int64_t n_ctx)
    : sched_(sched), tok_(tok), table_(table), params_(params), text_(tok, params.stop) {
    if (params.json_mode) {
        if (params.schemas.empty()) json_.emplace(nullptr);
        else json_.emplace(params.schemas);
    }
    runtime::GenerationRequest r;
    r.max_tokens = params.max_tokens > 0 ? params.max_tokens : n_ctx;
    r.prompt = std::move(prompt);
    r.sampling = params.sampling;
    for (int32_t id = 0; id < tok.n_tokens(); ++id) {
        if (table.eog[id]) r.stop_tokens.push_back(id);
    }
    if (params.presence_penalty != 0 || params.frequency_penalty != 0) counts_.assign(static_cast<size_t>(tok.n_tokens()), 0);
    if (!counts_.empty() || json_) r.filter = [this](float* logits, int64_t n) { filter(logits, n); };
    r.on_token = [this](const runtime::TokenEvent& e) { return on_token(e); };
    r.on_done = [this](runtime::FinishReason f, int64_t p, int64_t c, int64_t g) { on_done(f, p, c, g); };
    id_ = sched.submit(std::move(r));
}

Job::~Job() {
    cancel();
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return done_; });  // the scheduler must be done with our callbacks
}

void Job::cancel() {
    bool done;
    {
        std::lock_guard<std::mutex> lock(mu_);
        done = done_;
    }
    if (!done) sched_.cancel(id_);
}

// Penalties (OpenAI semantics: presence subtracts once per token seen, frequency once per
// occurrence), then the grammar of response_format.
void Job::filter(float* logits, int64_t n_vocab) const {
    for (int64_t i = 0; i < n_vocab && i < static_cast<int64_t>(counts_.size()); ++i) {
        if (counts_[i] > 0) logits[i] -= params_.presence_penalty + params_.frequency_penalty * static_cast<float>(counts_[i]);
    }
    if (json_) mask_logits(*json_, table_, logits, n_vocab);
}

bool Job::on_token(const runtime::TokenEvent& e) {
    if (!counts_.empty()) counts_[e.token]++;
    if (json_) json_->feed(table_.pieces[e.token]);
    JobPiece piece;
    piece.text = text_.push(e.token);
    if (params_.logprobs) piece.logprobs = token_logprobs(tok_, e.token, e.logits, e.n_vocab, params_.top_logprobs);
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (!piece.text.empty() || !piece.logprobs.is_null()) pieces_.push_back(std::move(piece));
    }
    cv_.notify_all();
    return !text_.stopped();
}

void Job::on_done(runtime::FinishReason reason, int64_t prompt, int64_t cached, int64_t completion) {
    JobPiece tail;
    tail.text = text_.finish();
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (!tail.text.empty()) pieces_.push_back(std::move(tail));
        result_ = {reason, prompt, cached, completion, std::chrono::steady_clock::now() - start_};
        done_ = true;
    }
    cv_.notify_all();
}

bool Job::next(JobPiece& piece, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return done_ || !pieces_.empty(); });
    if (pieces_.empty()) return false;
    piece = std::move(pieces_.front());
    pieces_.pop_front();
    return true;
}

bool Job::finished() const {
    std::lock_guard<std::mutex> lock(mu_);
    return done_ && pieces_.empty();
}

JobResult Job::result() const {
    std::lock_guard<std::mutex> lock(mu_);
    return result_;
}

}  // namespace sobre::server
