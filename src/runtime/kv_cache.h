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
    // Recurrent-state checkpoints kept for prefix reuse (models with state only); each holds one
    // sequence's state (n_layer x state_width floats). 0: two per sequence slot.
    int max_checkpoints = 0;
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
    // positions reused (a multiple of block_size). For models with recurrent state the prefix
    // must also end where a checkpoint was saved: its state is copied into `seq`.
    int64_t attach_prefix(int seq, std::span<const int32_t> tokens);
    // Registers the full blocks of `seq` that hold tokens[0, n) (the tokens it has computed)
    // for reuse by later sequences. Returns the hash of the last full block (0: none).
    uint64_t publish(int seq, std::span<const int32_t> tokens);
    // Models with recurrent state: publishes `tokens` (a whole number of blocks, exactly what
    // `seq` has computed) and keeps a copy of `seq`'s state as it stands after them, so a later
    // sequence starting with these tokens resumes from here. `rolling` checkpoints replace the
    // previous rolling one of the same sequence (decode saves one per block it fills; only the
    // latest is worth keeping). The least recently used checkpoint goes when the store is full.
    void save_checkpoint(int seq, std::span<const int32_t> tokens, bool rolling);
    int64_t checkpoints() const { return static_cast<int64_t>(checkpoints_.size()); }
    bool has_state() const { return layout_.state_width > 0; }

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

    struct Checkpoint {
        std::vector<float> state;  // n_layer x state_width
        uint64_t last_used = 0;
    };

    int32_t allocate();
    void drop_checkpoint(uint64_t hash);
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
    // Keyed by the hash of the block the checkpoint's prefix ends with.
    std::unordered_map<uint64_t, Checkpoint> checkpoints_;
    std::vector<uint64_t> rolling_of_;  // per sequence: its rolling checkpoint (0: none)
    size_t max_checkpoints_ = 0;
    uint64_t clock_ = 0;  // checkpoint use counter, for LRU
};

}  // namespace sobre::runtime
