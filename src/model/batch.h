// What one forward call consumes: a set of tokens, each tagged with its sequence and position.
#pragma once

#include <cstdint>
#include <vector>

namespace sobre::model {

struct Batch {
    std::vector<int32_t> tokens;
    std::vector<int32_t> positions;  // position of each token in its sequence
    std::vector<int32_t> seq_ids;    // sequence of each token (cache slot)
    std::vector<uint8_t> logits;     // 1 where the caller wants the logits of that token

    int64_t size() const { return static_cast<int64_t>(tokens.size()); }
    int64_t n_outputs() const;
    void add(int32_t token, int32_t pos, int32_t seq, bool want_logits) {
        tokens.push_back(token);
        positions.push_back(pos);
        seq_ids.push_back(seq);
        logits.push_back(want_logits ? 1 : 0);
    }
    void clear() {
        tokens.clear();
        positions.clear();
        seq_ids.clear();
        logits.clear();
    }
};

inline int64_t Batch::n_outputs() const {
    int64_t n = 0;
    for (uint8_t l : logits) n += l;
    return n;
}

// The shape of the per-token cache a model needs, per layer (the runtime allocates it).
struct KvLayout {
    int n_layer = 0;
    int64_t k_width = 0;  // f16 values of K per token and layer (n_head_kv * head_dim_k)
    int64_t v_width = 0;  // f16 values of V per token and layer
    // f32 values of recurrent state per sequence and layer (Gated DeltaNet conv + delta-rule
    // state, compressor state, ...): fixed size, independent of the sequence length.
    int64_t state_width = 0;
};

// One sequence's cache rows of one layer. Rows live in fixed-size blocks of a pool shared by all
// sequences; the block table maps position / block_size to a block of the pool.
struct KvSeqView {
    uint16_t* k = nullptr;           // the layer's K pool: rows of k_width f16 values
    uint16_t* v = nullptr;           // the layer's V pool: rows of v_width f16 values (null if none)
    int64_t k_width = 0;
    int64_t v_width = 0;
    int64_t block_size = 1;
    const int32_t* blocks = nullptr; // block ids of the sequence, in position order

    int64_t row_index(int64_t pos) const { return int64_t{blocks[pos / block_size]} * block_size + pos % block_size; }
    uint16_t* k_row(int64_t pos) const { return k + row_index(pos) * k_width; }
    uint16_t* v_row(int64_t pos) const { return v + row_index(pos) * v_width; }
};

// What the forward needs from a KV cache. Implemented by runtime::KvCache; kept abstract so model
// code does not reach into runtime.
class KvStore {
   public:
    virtual ~KvStore() = default;
    // The rows of layer `il` of sequence `seq`. REQUIRES: 0 <= seq < n_seq().
    virtual KvSeqView view(int il, int seq) = 0;
    // Positions [0, capacity(seq)) of `seq` are backed by blocks and may be written.
    virtual int64_t capacity(int seq) const = 0;
    virtual int n_seq() const = 0;
    // The recurrent state of layer `il` of `seq`: state_width floats, all zero for a sequence
    // that has not started. REQUIRES: the layout has state_width > 0.
    virtual float* state(int il, int seq) = 0;
};

}  // namespace sobre::model
