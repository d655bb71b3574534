#include "runtime/scheduler.h"

#include <algorithm>

#include "core/error.h"

namespace sobre::runtime {

struct Scheduler::Sequence {
    uint64_t id = 0;
    GenerationRequest req;
    Sampler sampler;
    int slot = -1;
    int64_t n_past = 0;      // positions already in the cache
    int64_t n_cached = 0;    // prompt positions reused from the prefix cache
    int64_t n_generated = 0;
    int32_t last = 0;        // token to feed next while decoding
    bool prefilling = true;
    std::vector<int32_t> tokens;  // the prompt, then each generated token once it is fed
    int64_t checkpointed = 0;     // n_past at the last state checkpoint

    Sequence(uint64_t i, GenerationRequest r) : id(i), req(std::move(r)), sampler(req.sampling), tokens(req.prompt) {}
};

namespace {

// Where a prompt's state is checkpointed: its last block boundary before the final token, the
// furthest point a later request with the same prompt can resume from (attach_prefix always
// leaves the last token to compute). 0: the prompt has no full block to spare.
int64_t prompt_checkpoint(int64_t n_prompt, int64_t block_size) { return (n_prompt - 1) / block_size * block_size; }

}  // namespace

Scheduler::Scheduler(model::Model& model, const SchedulerOptions& o)
    : model_(model),
      opt_(o),
      kv_(model.info().kv, KvCacheOptions{o.kv_blocks > 0 ? o.kv_blocks : o.n_seq * ((o.n_ctx + o.block_size - 1) / o.block_size),
                                          o.block_size, o.n_seq, o.state_checkpoints}),
      pool_(o.threads) {
    slots_.resize(static_cast<size_t>(o.n_seq));
    stats_.kv_blocks_total = kv_.n_blocks();
    thread_ = std::thread([this] { loop(); });
}

Scheduler::~Scheduler() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
    for (auto& s : queue_) finish(*s, FinishReason::kCancelled);
    for (auto& s : slots_) {
        if (s) finish(*s, FinishReason::kCancelled);
    }
}

uint64_t Scheduler::submit(GenerationRequest request) {
    const auto n = static_cast<int64_t>(request.prompt.size());
    if (n == 0) fail(ErrorKind::kInvalidArgument, "the prompt is empty");
    if (n >= opt_.n_ctx) {
        fail(ErrorKind::kInvalidArgument, "the prompt of {} tokens does not fit the context of {} tokens", n, opt_.n_ctx);
    }
    for (int32_t t : request.prompt) {
        if (t < 0 || t >= model_.info().n_vocab) {
            fail(ErrorKind::kInvalidArgument, "token id {} is out of range [0, {})", t, model_.info().n_vocab);
        }
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (queue_.size() >= opt_.max_queue) {
        fail(ErrorKind::kResourceExhausted, "the server is busy: {} requests are waiting", queue_.size());
    }
    const uint64_t id = next_id_++;
    queue_.push_back(std::make_unique<Sequence>(id, std::move(request)));
    stats_.queue_depth = static_cast<int64_t>(queue_.size());
    cv_.notify_all();
    return id;
}

void Scheduler::cancel(uint64_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_.push_back(id);
    cv_.notify_all();
}

SchedulerStats Scheduler::stats() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
}

void Scheduler::finish(Sequence& s, FinishReason reason) {
    if (s.slot >= 0) {
        // What it computed, its reply included, serves the next turn of the conversation.
        if (reason != FinishReason::kError) kv_.publish(s.slot, std::span(s.tokens).first(static_cast<size_t>(s.n_past)));
        kv_.release(s.slot);
    }
    {
        // Counted before the request hears it is done, so a caller that then reads stats() sees it.
        std::lock_guard<std::mutex> lock(mu_);
        stats_.requests_done++;
        stats_.prompt_tokens += static_cast<int64_t>(s.req.prompt.size());
        stats_.cached_prompt_tokens += s.n_cached;
    }
    if (s.req.on_done) {
        s.req.on_done(reason, static_cast<int64_t>(s.req.prompt.size()), s.n_cached, s.n_generated);
    }
}

// Moves queued requests into free slots when their whole budget (prompt + max_tokens, capped by
// the context) fits the free KV blocks; the rest wait. Reserving up front means a running
// sequence never has to be preempted.
void Scheduler::admit() {
    for (size_t slot = 0; slot < slots_.size(); ++slot) {
        if (slots_[slot]) continue;
        std::unique_ptr<Sequence> s;
        {
            std::lock_guard<std::mutex> lock(mu_);
            if (queue_.empty()) return;
            s = std::move(queue_.front());
            queue_.pop_front();
            stats_.queue_depth = static_cast<int64_t>(queue_.size());
        }
        s->slot = static_cast<int>(slot);
        const int64_t n_prompt = static_cast<int64_t>(s->req.prompt.size());
        s->n_cached = kv_.attach_prefix(s->slot, s->req.prompt);
        s->n_past = s->n_cached;
        const int64_t budget = std::min(opt_.n_ctx, n_prompt + std::max<int64_t>(1, s->req.max_tokens));
        if (!kv_.reserve(s->slot, budget)) {
            kv_.release(s->slot);
            s->slot = -1;
            s->n_cached = 0;
            s->n_past = 0;
            std::lock_guard<std::mutex> lock(mu_);
            queue_.push_front(std::move(s));  // waits for blocks; keeps its place
            stats_.queue_depth = static_cast<int64_t>(queue_.size());
            return;
        }
        slots_[slot] = std::move(s);
    }
}

void Scheduler::loop() {
    for (;;) {
        std::vector<uint64_t> cancelled;
        {
            std::unique_lock<std::mutex> lock(mu_);
            cv_.wait(lock, [&] {
                const bool busy = std::any_of(slots_.begin(), slots_.end(), [](const auto& s) { return s != nullptr; });
                return stop_ || busy || !queue_.empty() || !cancelled_.empty();
            });
            if (stop_) return;
            cancelled.swap(cancelled_);
            // Cancelled requests that are still queued end here.
            for (auto it = queue_.begin(); it != queue_.end();) {
                if (std::find(cancelled.begin(), cancelled.end(), (*it)->id) == cancelled.end()) {
                    ++it;
                    continue;
                }
                std::unique_ptr<Sequence> s = std::move(*it);
                it = queue_.erase(it);
                lock.unlock();
                finish(*s, FinishReason::kCancelled);
                lock.lock();
            }
            stats_.queue_depth = static_cast<int64_t>(queue_.size());
        }
        for (auto& s : slots_) {
            if (s && std::find(cancelled.begin(), cancelled.end(), s->id) != cancelled.end()) {
                finish(*s, FinishReason::kCancelled);
                s.reset();
            }
        }
        admit();
        try {
            step();
        } catch (const std::exception&) {
            // A failed forward ends the requests it carried; the server keeps serving.
            for (auto& sp : slots_) {
                if (!sp) continue;
                finish(*sp, FinishReason::kError);
                sp.reset();
            }
        }
    }
}

// Models with recurrent state resume a prefix only from a saved state: keep one where a prompt's
// prefill reaches its checkpoint mark, and one per block filled while decoding (the latest of a
// sequence replaces its previous one), so the next turn of an agent loop resumes near the end.
void Scheduler::save_checkpoints() {
    for (auto& sp : slots_) {
        if (!sp || sp->n_past % opt_.block_size != 0 || sp->n_past == sp->checkpointed) continue;
        Sequence& s = *sp;
        s.checkpointed = s.n_past;
        const auto done = std::span(s.tokens).first(static_cast<size_t>(s.n_past));
        const int64_t mark = prompt_checkpoint(static_cast<int64_t>(s.req.prompt.size()), opt_.block_size);
        if (s.prefilling && s.n_past == mark && s.n_past > s.n_cached) {
            kv_.save_checkpoint(s.slot, done, false);
        } else if (s.n_past == static_cast<int64_t>(s.tokens.size())) {  // all it has so far: prompt done, decoding
            kv_.save_checkpoint(s.slot, done, true);
        }
    }
}

// One forward over every active sequence. Returns false when there was nothing to run.
bool Scheduler::step() {
    model::Batch batch;
    std::vector<Sequence*> out_rows;  // the sequence of each logits row, in batch order
    int64_t prefill_budget = opt_.prefill_chunk;
    for (auto& sp : slots_) {
        if (!sp) continue;
        Sequence& s = *sp;
        if (!s.prefilling) {
            s.tokens.push_back(s.last);
            batch.add(s.last, static_cast<int32_t>(s.n_past), s.slot, true);
            out_rows.push_back(&s);
            continue;
        }
        const int64_t n_prompt = static_cast<int64_t>(s.req.prompt.size());
        int64_t take = std::min(n_prompt - s.n_past, std::max<int64_t>(prefill_budget, 0));
        const int64_t mark = prompt_checkpoint(n_prompt, opt_.block_size);
        if (kv_.has_state() && s.n_past < mark && s.n_past + take > mark) take = mark - s.n_past;  // stop there to checkpoint
        for (int64_t i = 0; i < take; ++i) {
            const int64_t pos = s.n_past + i;
            const bool last = pos == n_prompt - 1;
            batch.add(s.req.prompt[pos], static_cast<int32_t>(pos), s.slot, last);
            if (last) out_rows.push_back(&s);
        }
        prefill_budget -= take;
    }
    if (batch.size() == 0) return false;

    const int64_t n_vocab = model_.info().n_vocab;
    std::vector<float> logits(static_cast<size_t>(batch.n_outputs() * n_vocab));
    model_.forward(batch, kv_, pool_, logits.data());

    // Advance positions for every token that went in.
    for (int64_t t = 0; t < batch.size(); ++t) {
        Sequence& s = *slots_[batch.seq_ids[t]];
        s.n_past = std::max<int64_t>(s.n_past, batch.positions[t] + 1);
    }
    if (kv_.has_state()) save_checkpoints();
    int64_t generated = 0;
    std::vector<float> filtered(static_cast<size_t>(n_vocab));
    for (size_t r = 0; r < out_rows.size(); ++r) {
        Sequence& s = *out_rows[r];
        const float* row = &logits[r * n_vocab];
        if (s.prefilling) {
            s.prefilling = false;
            kv_.publish(s.slot, s.req.prompt);
        }
        std::copy_n(row, n_vocab, filtered.data());
        if (s.req.filter) s.req.filter(filtered.data(), n_vocab);
        const int32_t token = s.sampler.sample(filtered.data(), n_vocab);
        s.last = token;
        s.n_generated++;
        generated++;
        const bool is_stop = std::find(s.req.stop_tokens.begin(), s.req.stop_tokens.end(), token) != s.req.stop_tokens.end();
        bool keep_going = !is_stop;
        if (!is_stop && s.req.on_token) keep_going = s.req.on_token(TokenEvent{token, row, n_vocab});
        const bool out_of_room = s.n_past + 1 >= kv_.capacity(s.slot) || s.n_past + 1 >= opt_.n_ctx;
        if (!keep_going || s.n_generated >= s.req.max_tokens || out_of_room) {
            finish(s, keep_going ? FinishReason::kLength : FinishReason::kStop);
            slots_[s.slot].reset();
        }
    }
    std::lock_guard<std::mutex> lock(mu_);
    stats_.generated_tokens += generated;
    stats_.active = std::count_if(slots_.begin(), slots_.end(), [](const auto& s) { return s != nullptr; });
    stats_.kv_blocks_used = kv_.n_blocks() - kv_.free_blocks();
    return true;
}

}  // namespace sobre::runtime
