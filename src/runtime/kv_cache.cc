#include "runtime/kv_cache.h"

#include <algorithm>

#include "core/error.h"

namespace sobre::runtime {

namespace {
constexpr int64_t kMaxCacheValues = int64_t{1} << 36;  // 128 GiB of f16: beyond any machine we run on
}

KvCache::KvCache(const model::KvLayout& layout, int64_t n_ctx)
    : KvCache(layout, KvCacheOptions{(n_ctx + 15) / 16, 16, 1}) {
    SOBRE_CHECK(reserve(0, n_ctx));
}

KvCache::KvCache(const model::KvLayout& layout, const KvCacheOptions& o)
    : layout_(layout), block_size_(o.block_size), n_blocks_(o.n_blocks) {
    if (o.n_blocks <= 0 || o.block_size <= 0 || o.n_seq <= 0) {
        fail(ErrorKind::kInvalidArgument, "KV cache of {} blocks of {} positions for {} sequences is empty", o.n_blocks,
             o.block_size, o.n_seq);
    }
    const int64_t per_pos = (layout.k_width + layout.v_width) * std::max(1, layout.n_layer);
    if (per_pos > 0 && o.n_blocks > kMaxCacheValues / per_pos / o.block_size) {
        fail(ErrorKind::kResourceExhausted, "a KV cache of {} blocks x {} positions does not fit in memory", o.n_blocks,
             o.block_size);
    }
    const int64_t rows = int64_t{layout.n_layer} * o.n_blocks * o.block_size;
    k_.resize(static_cast<size_t>(rows * layout.k_width));
    v_.resize(static_cast<size_t>(rows * layout.v_width));
    seqs_.resize(static_cast<size_t>(o.n_seq));
    state_.assign(static_cast<size_t>(int64_t{o.n_seq} * layout.n_layer * layout.state_width), 0.0f);
    refs_.assign(static_cast<size_t>(o.n_blocks), 0);
    hash_of_.assign(static_cast<size_t>(o.n_blocks), 0);
    for (int64_t b = o.n_blocks - 1; b >= 0; --b) free_.push_back(static_cast<int32_t>(b));
    rolling_of_.assign(static_cast<size_t>(o.n_seq), 0);
    max_checkpoints_ = static_cast<size_t>(o.max_checkpoints > 0 ? o.max_checkpoints : 2 * o.n_seq);
}

model::KvSeqView KvCache::view(int il, int seq) {
    const int64_t layer_rows = n_blocks_ * block_size_;
    model::KvSeqView v;
    v.k = k_.data() + il * layer_rows * layout_.k_width;
    v.v = layout_.v_width ? v_.data() + il * layer_rows * layout_.v_width : nullptr;
    v.k_width = layout_.k_width;
    v.v_width = layout_.v_width;
    v.block_size = block_size_;
    v.blocks = seqs_[seq].data();
    return v;
}

int64_t KvCache::capacity(int seq) const { return static_cast<int64_t>(seqs_[seq].size()) * block_size_; }

int64_t KvCache::free_blocks() const { return static_cast<int64_t>(free_.size() + evictable_.size()); }

int32_t KvCache::allocate() {
    if (!free_.empty()) {
        const int32_t b = free_.back();
        free_.pop_back();
        return b;
    }
    // Reuse the least recently used cached block: its prefix entry goes away.
    const int32_t b = evictable_.front();
    evictable_.pop_front();
    cached_.erase(hash_of_[b]);
    drop_checkpoint(hash_of_[b]);  // its prefix can no longer be attached
    hash_of_[b] = 0;
    return b;
}

bool KvCache::reserve(int seq, int64_t n_positions) {
    std::vector<int32_t>& table = seqs_[seq];
    const int64_t need = (n_positions + block_size_ - 1) / block_size_ - static_cast<int64_t>(table.size());
    if (need <= 0) return true;
    if (need > free_blocks()) return false;
    for (int64_t i = 0; i < need; ++i) {
        const int32_t b = allocate();
        refs_[b] = 1;
        table.push_back(b);
    }
    return true;
}

void KvCache::unref(int32_t b) {
    if (--refs_[b] > 0) return;
    if (hash_of_[b] != 0) {
        evictable_.push_back(b);
    } else {
        free_.push_back(b);
    }
}

void KvCache::release(int seq) {
    for (int32_t b : seqs_[seq]) unref(b);
    seqs_[seq].clear();
    rolling_of_[seq] = 0;  // its last rolling checkpoint stays, now owned by nobody
    const int64_t per_seq = int64_t{layout_.n_layer} * layout_.state_width;
    std::fill_n(state_.begin() + seq * per_seq, per_seq, 0.0f);
}

float* KvCache::state(int il, int seq) {
    SOBRE_CHECK(layout_.state_width > 0);
    return state_.data() + (int64_t{seq} * layout_.n_layer + il) * layout_.state_width;
}

uint64_t KvCache::block_hash(uint64_t parent, std::span<const int32_t> tokens) const {
    uint64_t h = parent ^ 0x9e3779b97f4a7c15ull;  // FNV-1a over the parent and the tokens
    auto mix = [&h](uint64_t x) {
        for (int i = 0; i < 8; ++i) h = (h ^ ((x >> (8 * i)) & 0xff)) * 1099511628211ull;
    };
    mix(parent);
    for (int32_t t : tokens) mix(static_cast<uint32_t>(t));
    return h == 0 ? 1 : h;  // 0 means "not registered"
}

int64_t KvCache::attach_prefix(int seq, std::span<const int32_t> tokens) {
    std::vector<int32_t>& table = seqs_[seq];
    SOBRE_CHECK(table.empty());
    uint64_t parent = 0;
    size_t resume_blocks = 0;  // stateful models: the longest attached prefix with a checkpoint
    uint64_t resume_hash = 0;
    const auto n = static_cast<int64_t>(tokens.size());
    for (int64_t start = 0; start + block_size_ <= n - 1; start += block_size_) {
        const auto block_tokens = tokens.subspan(static_cast<size_t>(start), static_cast<size_t>(block_size_));
        const uint64_t h = block_hash(parent, block_tokens);
        const auto it = cached_.find(h);
        if (it == cached_.end() || it->second.parent != parent ||
            !std::equal(block_tokens.begin(), block_tokens.end(), it->second.tokens.begin())) {
            break;
        }
        const int32_t b = it->second.block;
        if (refs_[b]++ == 0) evictable_.remove(b);
        table.push_back(b);
        parent = h;
        if (checkpoints_.count(h)) {
            resume_blocks = table.size();
            resume_hash = h;
        }
    }
    if (has_state()) {
        while (table.size() > resume_blocks) {
            unref(table.back());
            table.pop_back();
        }
        if (resume_hash != 0) {
            Checkpoint& c = checkpoints_.at(resume_hash);
            c.last_used = ++clock_;
            std::copy(c.state.begin(), c.state.end(), state_.begin() + int64_t{seq} * layout_.n_layer * layout_.state_width);
        }
    }
    return static_cast<int64_t>(table.size()) * block_size_;
}

void KvCache::drop_checkpoint(uint64_t hash) {
    if (hash == 0 || !checkpoints_.erase(hash)) return;
    std::replace(rolling_of_.begin(), rolling_of_.end(), hash, uint64_t{0});
}

void KvCache::save_checkpoint(int seq, std::span<const int32_t> tokens, bool rolling) {
    SOBRE_CHECK(has_state());
    const auto n_blocks = static_cast<int64_t>(tokens.size()) / block_size_;
    SOBRE_CHECK(n_blocks > 0 && n_blocks * block_size_ == static_cast<int64_t>(tokens.size()) &&
                n_blocks <= static_cast<int64_t>(seqs_[seq].size()));
    const uint64_t hash = publish(seq, tokens);
    // The prefix's blocks may be registered by another sequence that computed the same tokens:
    // their rows equal ours, so the checkpoint is keyed by the prefix, not by whose blocks.
    if (!cached_.count(hash)) return;
    if (rolling) {
        if (rolling_of_[seq] != hash) drop_checkpoint(rolling_of_[seq]);
        rolling_of_[seq] = hash;
    }
    Checkpoint& c = checkpoints_[hash];
    const int64_t per_seq = int64_t{layout_.n_layer} * layout_.state_width;
    const auto from = state_.begin() + int64_t{seq} * per_seq;
    c.state.assign(from, from + per_seq);
    c.last_used = ++clock_;
    while (checkpoints_.size() > max_checkpoints_) {
        const auto oldest = std::min_element(checkpoints_.begin(), checkpoints_.end(),
                                             [](const auto& a, const auto& b) { return a.second.last_used < b.second.last_used; });
        drop_checkpoint(oldest->first);
    }
}

uint64_t KvCache::publish(int seq, std::span<const int32_t> tokens) {
    const std::vector<int32_t>& table = seqs_[seq];
    uint64_t parent = 0;
    const auto n = static_cast<int64_t>(tokens.size());
    for (size_t i = 0; i < table.size() && static_cast<int64_t>(i + 1) * block_size_ <= n; ++i) {
        const auto block_tokens = tokens.subspan(i * static_cast<size_t>(block_size_), static_cast<size_t>(block_size_));
        const uint64_t h = block_hash(parent, block_tokens);
        const int32_t b = table[i];
        if (hash_of_[b] == 0 && !cached_.count(h)) {
            hash_of_[b] = h;
            cached_[h] = CachedBlock{parent, {block_tokens.begin(), block_tokens.end()}, b};
        }
        parent = h;
    }
    return parent;
}

}  // namespace sobre::runtime
