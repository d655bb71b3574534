// Continuous batching gives every stream exactly what it gets alone (our kernels compute each
// row independently of the batch), reuses cached prefixes, and frees what cancelled requests held.
#include "runtime/scheduler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <future>
#include <mutex>

#include "core/error.h"
#include "model/model.h"

namespace sobre::runtime {
namespace {

const std::string kModel = std::string(SOBRE_FIXTURES_DIR) + "/models/qwen3-Q8_0.gguf";

std::vector<int32_t> greedy_alone(model::Model& m, const std::vector<int32_t>& prompt, int n) {
    KvCache kv(m.info().kv, static_cast<int64_t>(prompt.size()) + n);
    ThreadPool pool(1);
    std::vector<float> logits(static_cast<size_t>(m.info().n_vocab));
    model::Batch b;
    for (size_t i = 0; i < prompt.size(); ++i) b.add(prompt[i], static_cast<int32_t>(i), 0, i + 1 == prompt.size());
    std::vector<int32_t> out;
    for (int i = 0; i < n; ++i) {
        m.forward(b, kv, pool, logits.data());
        out.push_back(argmax(logits.data(), m.info().n_vocab));
        b.clear();
        b.add(out.back(), static_cast<int32_t>(prompt.size() + i), 0, true);
    }
    return out;
}

struct Collected {
    std::mutex mu;
    std::vector<int32_t> tokens;
    std::promise<FinishReason> done;
    int64_t cached = -1;
};

GenerationRequest request(const std::vector<int32_t>& prompt, int n, Collected& c) {
    GenerationRequest r;
    r.prompt = prompt;
    r.max_tokens = n;
    r.sampling.temperature = 0;
    r.on_token = [&c](const TokenEvent& e) {
        std::lock_guard<std::mutex> lock(c.mu);
        c.tokens.push_back(e.token);
        return true;
    };
    r.on_done = [&c](FinishReason f, int64_t, int64_t cached, int64_t) {
        c.cached = cached;
        c.done.set_value(f);
    };
    return r;
}

std::vector<int32_t> prompt_of(int seed, int n) {
    std::vector<int32_t> p = {1};
    for (int i = 1; i < n; ++i) p.push_back(3 + (seed * 131 + i * 71) % 500);
    return p;
}

TEST(Scheduler, ConcurrentStreamsEqualSingleRuns) {
    const auto m = model::load_model(kModel);
    Scheduler sched(*m, SchedulerOptions{.n_seq = 3, .n_ctx = 128, .prefill_chunk = 16, .threads = 2});
    constexpr int kRequests = 6, kTokens = 12;
    std::vector<Collected> got(kRequests);
    for (int i = 0; i < kRequests; ++i) sched.submit(request(prompt_of(i, 10 + 7 * i), kTokens, got[i]));
    for (int i = 0; i < kRequests; ++i) {
        EXPECT_EQ(got[i].done.get_future().get(), FinishReason::kLength);
        EXPECT_EQ(got[i].tokens, greedy_alone(*m, prompt_of(i, 10 + 7 * i), kTokens)) << "request " << i;
    }
}

TEST(Scheduler, SharedPrefixIsReusedAndGivesTheSameTokens) {
    const auto m = model::load_model(kModel);
    Scheduler sched(*m, SchedulerOptions{.n_seq = 2, .n_ctx = 128, .block_size = 8});
    const std::vector<int32_t> first = prompt_of(1, 40);
    std::vector<int32_t> second = first;
    second.push_back(77);
    Collected a, b;
    sched.submit(request(first, 4, a));
    a.done.get_future().get();
    sched.submit(request(second, 4, b));
    b.done.get_future().get();
    EXPECT_EQ(b.cached, 40);  // 5 full blocks of 8
    EXPECT_EQ(b.tokens, greedy_alone(*m, second, 4));
    EXPECT_EQ(sched.stats().cached_prompt_tokens, 40);
}

TEST(Scheduler, CancelFreesTheSlotAndItsBlocks) {
    const auto m = model::load_model(kModel);
    Scheduler sched(*m, SchedulerOptions{.n_seq = 1, .n_ctx = 256, .block_size = 16});
    Collected a;
    GenerationRequest r = request(prompt_of(2, 20), 200, a);
    std::promise<void> first_token;
    std::once_flag once;
    r.on_token = [&](const TokenEvent&) {
        std::call_once(once, [&] { first_token.set_value(); });
        return true;
    };
    const uint64_t id = sched.submit(std::move(r));
    first_token.get_future().get();
    sched.cancel(id);
    EXPECT_EQ(a.done.get_future().get(), FinishReason::kCancelled);
    Collected b;
    sched.submit(request(prompt_of(3, 20), 3, b));  // the only slot must be free again
    EXPECT_EQ(b.done.get_future().get(), FinishReason::kLength);
}

TEST(Scheduler, RefusesWhenTheQueueIsFullAndPromptsOverTheContext) {
    const auto m = model::load_model(kModel);
    Scheduler sched(*m, SchedulerOptions{.n_seq = 1, .n_ctx = 32, .max_queue = 0});
    Collected a;
    EXPECT_THROW(sched.submit(request(prompt_of(1, 40), 2, a)), Error);
    EXPECT_THROW(sched.submit(request(prompt_of(1, 4), 2, a)), Error);
}

TEST(Scheduler, StopTokenEndsWithStop) {
    const auto m = model::load_model(kModel);
    const std::vector<int32_t> p = prompt_of(4, 12);
    const std::vector<int32_t> alone = greedy_alone(*m, p, 6);
    Scheduler sched(*m, SchedulerOptions{.n_seq = 1, .n_ctx = 64});
    Collected a;
    GenerationRequest r = request(p, 6, a);
    r.stop_tokens = {alone[2]};
    sched.submit(std::move(r));
    EXPECT_EQ(a.done.get_future().get(), FinishReason::kStop);
    const auto stop_at = std::find(alone.begin(), alone.end(), alone[2]) - alone.begin();
    EXPECT_EQ(a.tokens, std::vector<int32_t>(alone.begin(), alone.begin() + stop_at));
}

// Hybrid models (Gated DeltaNet + attention, DeepSeek-V4's compressor) carry a recurrent state:
// a later request resumes from a saved state checkpoint and must compute exactly what a fresh
// run computes. Logits are compared (F32 fixtures; the chunked and the token-by-token DeltaNet
// agree to ~1e-6), and the tokens reused are counted.
class StatefulPrefix : public ::testing::TestWithParam<const char*> {
   protected:
    void SetUp() override { m = model::load_model(std::string(SOBRE_FIXTURES_DIR) + "/models/" + GetParam() + "-F32.gguf"); }

    // Logits of the last prompt token computed from scratch in one batch.
    std::vector<float> fresh_logits(const std::vector<int32_t>& prompt) {
        KvCache kv(m->info().kv, static_cast<int64_t>(prompt.size()));
        ThreadPool pool(1);
        model::Batch b;
        for (size_t i = 0; i < prompt.size(); ++i) b.add(prompt[i], static_cast<int32_t>(i), 0, i + 1 == prompt.size());
        std::vector<float> logits(static_cast<size_t>(m->info().n_vocab));
        m->forward(b, kv, pool, logits.data());
        return logits;
    }

    // Runs `prompt` through the scheduler; returns the logits its first token was drawn from.
    std::vector<float> served_logits(Scheduler& sched, const std::vector<int32_t>& prompt, int n, Collected& c) {
        std::vector<float> first;
        GenerationRequest r = request(prompt, n, c);
        auto keep = r.on_token;
        r.on_token = [&first, keep](const TokenEvent& e) {
            if (first.empty()) first.assign(e.logits, e.logits + e.n_vocab);
            return keep(e);
        };
        sched.submit(std::move(r));
        c.done.get_future().get();
        return first;
    }

    void expect_close(const std::vector<float>& got, const std::vector<float>& want) {
        ASSERT_EQ(got.size(), want.size());
        float scale = 0;
        for (float x : want) scale = std::max(scale, std::abs(x));
        for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-4f * scale + 1e-5f) << "logit " << i;
    }

    std::unique_ptr<model::Model> m;
};

TEST_P(StatefulPrefix, AgentLoopResumesFromTheLastTurnsState) {
    ASSERT_GT(m->info().kv.state_width, 0);
    Scheduler sched(*m, SchedulerOptions{.n_seq = 2, .n_ctx = 128, .block_size = 8, .prefill_chunk = 64});
    Collected first;
    const std::vector<int32_t> turn1 = prompt_of(5, 37);
    served_logits(sched, turn1, 12, first);  // computes 37 + 11 positions: blocks filled up to 48
    std::vector<int32_t> turn2 = turn1;
    turn2.insert(turn2.end(), first.tokens.begin(), first.tokens.end() - 1);
    for (int32_t t : {11, 12, 13}) turn2.push_back(t);
    Collected second;
    const std::vector<float> got = served_logits(sched, turn2, 2, second);
    EXPECT_EQ(second.cached, 48);
    expect_close(got, fresh_logits(turn2));
}

TEST_P(StatefulPrefix, SamePromptPrefixResumesFromThePromptCheckpoint) {
    Scheduler sched(*m, SchedulerOptions{.n_seq = 1, .n_ctx = 128, .block_size = 8, .prefill_chunk = 64});
    Collected a, b, c;
    const std::vector<int32_t> p = prompt_of(6, 30);  // checkpoint at 24, the last boundary before its end
    served_logits(sched, p, 1, a);
    std::vector<int32_t> q(p.begin(), p.begin() + 26);
    q.push_back(400);
    EXPECT_EQ(q.size(), 27u);
    expect_close(served_logits(sched, q, 1, b), fresh_logits(q));
    EXPECT_EQ(b.cached, 24);
    // Sharing only 12 tokens: blocks exist up to 8 but no state was saved there, so nothing is reused.
    std::vector<int32_t> r(p.begin(), p.begin() + 12);
    r.push_back(401);
    expect_close(served_logits(sched, r, 1, c), fresh_logits(r));
    EXPECT_EQ(c.cached, 0);
}

INSTANTIATE_TEST_SUITE_P(Hybrids, StatefulPrefix, ::testing::Values("qwen35", "qwen35moe", "qwen3next", "deepseek4"));

}  // namespace
}  // namespace sobre::runtime
