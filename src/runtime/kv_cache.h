// KV cache: f16 K and V rows per sequence and layer, indexed by position.
#pragma once

#include <cstdint>
#include <vector>

#include "model/batch.h"

namespace sobre::runtime {

// A contiguous cache of n_seq sequences x n_ctx positions. Memory is reserved up front so a
// prompt longer than the context fails before any work (kResourceExhausted from the forward).
class KvCache final : public model::KvStore {
   public:
    // Throws Error(kResourceExhausted) if the cache would not fit in addressable memory.
    KvCache(const model::KvLayout& layout, int64_t n_ctx, int n_seq = 1);

    uint16_t* k_rows(int il, int seq) override;
    uint16_t* v_rows(int il, int seq) override;
    int64_t capacity() const override { return n_ctx_; }
    int n_seq() const override { return n_seq_; }
    // Bytes of K+V per token over all layers.
    int64_t bytes_per_token() const;

   private:
    model::KvLayout layout_;
    int64_t n_ctx_;
    int n_seq_;
    std::vector<uint16_t> k_;  // [seq][layer][pos][k_width]
    std::vector<uint16_t> v_;  // [seq][layer][pos][v_width]
};

}  // namespace sobre::runtime
