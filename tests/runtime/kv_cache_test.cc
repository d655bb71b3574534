#include "runtime/kv_cache.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>

namespace sobre::runtime {
namespace {

const model::KvLayout kLayout{2, 4, 4};  // 2 layers, 4 K and 4 V values per token

std::vector<int32_t> iota_tokens(int n, int start = 100) {
    std::vector<int32_t> t(static_cast<size_t>(n));
    std::iota(t.begin(), t.end(), start);
    return t;
}

TEST(KvCache, SingleSequenceConvenienceReservesTheContext) {
    KvCache kv(kLayout, 40);
    EXPECT_GE(kv.capacity(0), 40);
    EXPECT_EQ(kv.n_seq(), 1);
}

TEST(KvCache, ReserveFailsWithoutChangingAnything) {
    KvCache kv(kLayout, KvCacheOptions{4, 8, 2});
    EXPECT_TRUE(kv.reserve(0, 24));  // 3 blocks
    EXPECT_FALSE(kv.reserve(1, 16));  // needs 2, 1 left
    EXPECT_EQ(kv.capacity(1), 0);
    EXPECT_EQ(kv.free_blocks(), 1);
    kv.release(0);
    EXPECT_EQ(kv.free_blocks(), 4);
    EXPECT_TRUE(kv.reserve(1, 16));
}

TEST(KvCache, SequencesGetDisjointRows) {
    KvCache kv(kLayout, KvCacheOptions{8, 4, 2});
    ASSERT_TRUE(kv.reserve(0, 10));
    ASSERT_TRUE(kv.reserve(1, 10));
    std::set<const uint16_t*> rows;
    for (int seq = 0; seq < 2; ++seq) {
        for (int il = 0; il < 2; ++il) {
            const model::KvSeqView v = kv.view(il, seq);
            for (int64_t p = 0; p < 10; ++p) {
                EXPECT_TRUE(rows.insert(v.k_row(p)).second);
                EXPECT_TRUE(rows.insert(v.v_row(p)).second);
            }
        }
    }
}

TEST(KvCache, PrefixBlocksAreSharedAndTheLastTokenIsLeftToCompute) {
    KvCache kv(kLayout, KvCacheOptions{16, 4, 3});
    const std::vector<int32_t> prompt = iota_tokens(10);  // 2 full blocks + 2
    ASSERT_TRUE(kv.reserve(0, 10));
    kv.view(0, 0).k_row(5)[0] = 1234;  // written by "sequence 0's forward"
    kv.publish(0, prompt);

    // Same 10 tokens: 2 full blocks reused (8 positions), the rest computed.
    EXPECT_EQ(kv.attach_prefix(1, prompt), 8);
    EXPECT_EQ(kv.view(0, 1).k_row(5)[0], 1234);
    EXPECT_EQ(kv.view(0, 1).k_row(5), kv.view(0, 0).k_row(5));

    // A prompt of exactly 8 matching tokens reuses only 1 block: its last token must be computed.
    EXPECT_EQ(kv.attach_prefix(2, std::span(prompt).first(8)), 4);
}

TEST(KvCache, DifferentPrefixIsNotReused) {
    KvCache kv(kLayout, KvCacheOptions{16, 4, 2});
    std::vector<int32_t> a = iota_tokens(9), b = iota_tokens(9);
    b[1] = 7;  // differs in the first block
    ASSERT_TRUE(kv.reserve(0, 9));
    kv.publish(0, a);
    EXPECT_EQ(kv.attach_prefix(1, b), 0);
    b = a;
    b[5] = 7;  // differs in the second block: the first is still reused
    kv.release(1);
    EXPECT_EQ(kv.attach_prefix(1, b), 4);
}

TEST(KvCache, ReleasedCachedBlocksSurviveUntilTheSpaceIsNeeded) {
    KvCache kv(kLayout, KvCacheOptions{4, 4, 2});
    const std::vector<int32_t> prompt = iota_tokens(9);
    ASSERT_TRUE(kv.reserve(0, 9));  // 3 blocks
    kv.publish(0, prompt);
    kv.release(0);
    EXPECT_EQ(kv.free_blocks(), 4);              // 2 evictable cached + 2 free
    EXPECT_EQ(kv.attach_prefix(1, prompt), 8);   // still cached
    kv.release(1);
    ASSERT_TRUE(kv.reserve(0, 16));              // needs every block: the cache is evicted
    kv.release(0);
    EXPECT_EQ(kv.attach_prefix(1, prompt), 0);
}

// Models with recurrent state (Gated DeltaNet, ...) resume a prefix only where its state was saved.
const model::KvLayout kStateLayout{2, 4, 4, 3};  // + 3 floats of state per layer and sequence

void set_state(KvCache& kv, int seq, float x) {
    for (int il = 0; il < 2; ++il) std::fill_n(kv.state(il, seq), 3, x + static_cast<float>(il));
}

TEST(KvCache, StatefulPrefixResumesOnlyFromACheckpoint) {
    KvCache kv(kStateLayout, KvCacheOptions{16, 4, 3});
    const std::vector<int32_t> prompt = iota_tokens(13);
    ASSERT_TRUE(kv.reserve(0, 13));
    set_state(kv, 0, 7.0f);  // the state after 8 tokens
    kv.save_checkpoint(0, std::span(prompt).first(8), false);
    set_state(kv, 0, 9.0f);  // moved on
    kv.publish(0, prompt);   // 3 full blocks cached, but a checkpoint only after the second

    EXPECT_EQ(kv.attach_prefix(1, prompt), 8);
    EXPECT_EQ(kv.state(0, 1)[2], 7.0f);
    EXPECT_EQ(kv.state(1, 1)[0], 8.0f);
    EXPECT_EQ(kv.free_blocks(), 16 - 4);  // the third cached block was not kept attached
    // A prefix that ends before any checkpoint reuses nothing: its blocks alone cannot resume it.
    EXPECT_EQ(kv.attach_prefix(2, std::span(prompt).first(6)), 0);
    EXPECT_EQ(kv.state(0, 2)[0], 0.0f);
}

TEST(KvCache, CheckpointsAreBoundedAndRollingOnesReplaceTheirPredecessor) {
    KvCache kv(kStateLayout, KvCacheOptions{32, 4, 2, /*max_checkpoints=*/2});
    const std::vector<int32_t> a = iota_tokens(17), b = iota_tokens(17, 300);
    ASSERT_TRUE(kv.reserve(0, 17));
    kv.save_checkpoint(0, std::span(a).first(4), true);
    kv.save_checkpoint(0, std::span(a).first(8), true);  // replaces the one at 4
    EXPECT_EQ(kv.checkpoints(), 1);
    kv.save_checkpoint(0, std::span(a).first(12), false);
    EXPECT_EQ(kv.checkpoints(), 2);
    ASSERT_TRUE(kv.reserve(1, 17));
    kv.save_checkpoint(1, std::span(b).first(4), false);  // over the bound: the least recently used goes
    EXPECT_EQ(kv.checkpoints(), 2);
    kv.release(0);
    kv.release(1);
    EXPECT_EQ(kv.attach_prefix(0, a), 12);
    kv.release(0);
    EXPECT_EQ(kv.attach_prefix(0, std::span(a).first(9)), 0);  // the one at 8 was dropped
    kv.release(0);
    EXPECT_EQ(kv.attach_prefix(1, b), 4);
}

TEST(KvCache, EvictingABlockDropsTheCheckpointThatEndsThere) {
    KvCache kv(kStateLayout, KvCacheOptions{4, 4, 1});
    const std::vector<int32_t> prompt = iota_tokens(9);
    ASSERT_TRUE(kv.reserve(0, 9));
    kv.save_checkpoint(0, std::span(prompt).first(8), false);
    kv.release(0);
    ASSERT_TRUE(kv.reserve(0, 16));  // needs every block
    EXPECT_EQ(kv.checkpoints(), 0);
}

}  // namespace
}  // namespace sobre::runtime
