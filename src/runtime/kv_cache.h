// Paged KV cache: one pool of fixed-size blocks per layer shared by every sequence, with block
// tables per sequence and prefix caching (full blocks of a token prefix are reused by later
// sequences that start with the same tokens).
#pragma once

#include <cstdint>
#include <list>
#include <span>
#include <unordered_map>
#include <vector>

#include "model/batch.h"

namespace sobre::runtime {

struct KvCacheOptions {
    int64_t n_blocks = 0;     // blocks in the pool (the memory budget)
    int64_t block_size = 16;  // positions per block
    int n_seq = 1;            // sequence slots
};

class KvCache final : public model::KvStore {
   public:
    // A single sequence of n_ctx positions, fully reserved (the CLI and tests).
    KvCache(const model::KvLayout& layout, int64_t n_ctx);
    // A shared pool. Throws Error(kResourceExhausted) if it cannot be allocated.
    KvCache(const model::KvLayout& layout, const KvCacheOptions& options);

    model::KvSeqView view(int il, int seq) override;
    int64_t capacity(int seq) const override;
    int n_seq() const override { return static_cast<int>(seqs_.size()); }
    float* state(int il, int seq) override;

    // Backs positions [0, n_positions) of `seq` with blocks. Returns false, changing nothing,
    // when the pool has too few free (or evictable cached) blocks.
    bool reserve(int seq, int64_t n_positions);
    // Returns `seq`'s blocks to the pool (blocks registered for prefix reuse stay cached until
    // their space is needed) and zeroes its recurrent state.
    void release(int seq);
    // For an empty `seq`: attaches the cached blocks that hold the longest prefix of `tokens`
    // made of full blocks, leaving at least the last token to compute. Returns the number of
    // positions reused (a multiple of block_size). Models with recurrent state reuse nothing
    // (their state at the prefix's end is not kept).
    int64_t attach_prefix(int seq, std::span<const int32_t> tokens);
    // Registers the full blocks of `seq` that hold tokens[0, n) (the tokens it has computed)
    // for reuse by later sequences.
    void publish(int seq, std::span<const int32_t> tokens);

    int64_t block_size() const { return block_size_; }
    int64_t n_blocks() const { return n_blocks_; }
    int64_t free_blocks() const;  // free or evictable
    int64_t bytes_per_token() const { return int64_t{layout_.n_layer} * (layout_.k_width + layout_.v_width) * 2; }

   private:
    struct CachedBlock {
        uint64_t parent = 0;          // hash of the prefix before this block
        std::vector<int32_t> tokens;  // the block's tokens (checked on reuse: no hash collisions)
        int32_t block = -1;
    };

    int32_t allocate();
    void unref(int32_t block);
    uint64_t block_hash(uint64_t parent, std::span<const int32_t> tokens) const;

    model::KvLayout layout_;
    int64_t block_size_;
    int64_t n_blocks_;
    std::vector<uint16_t> k_;  // [layer][block][block_size][k_width]
    std::vector<uint16_t> v_;  // [layer][block][block_size][v_width]
    std::vector<float> state_; // [seq][layer][state_width]
    std::vector<std::vector<int32_t>> seqs_;  // block table per sequence
    std::vector<int32_t> refs_;               // sequences using each block
    std::vector<uint64_t> hash_of_;           // prefix hash a cached block is registered under (0: none)
    std::vector<int32_t> free_;               // unregistered blocks with no users
    std::list<int32_t> evictable_;            // registered blocks with no users, least recently used first
    std::unordered_map<uint64_t, CachedBlock> cached_;
};

}  // namespace sobre::runtime
