#include "runtime/kv_cache.h"

#include "core/error.h"

namespace sobre::runtime {

namespace {
constexpr int64_t kMaxCacheValues = int64_t{1} << 36;  // 128 GiB of f16: beyond any machine we run on
}

KvCache::KvCache(const model::KvLayout& layout, int64_t n_ctx, int n_seq)
    : layout_(layout), n_ctx_(n_ctx), n_seq_(n_seq) {
    if (n_ctx <= 0 || n_seq <= 0) fail(ErrorKind::kInvalidArgument, "context size {} and sequences {} must be positive", n_ctx, n_seq);
    const int64_t per_pos = layout.k_width + layout.v_width;
    if (per_pos > 0 && n_ctx > kMaxCacheValues / per_pos / layout.n_layer / n_seq) {
        fail(ErrorKind::kResourceExhausted, "a KV cache of {} positions x {} sequences does not fit in memory",
             n_ctx, n_seq);
    }
    k_.resize(static_cast<size_t>(n_seq * layout.n_layer * n_ctx * layout.k_width));
    v_.resize(static_cast<size_t>(n_seq * layout.n_layer * n_ctx * layout.v_width));
}

uint16_t* KvCache::k_rows(int il, int seq) {
    return k_.data() + (static_cast<int64_t>(seq) * layout_.n_layer + il) * n_ctx_ * layout_.k_width;
}

uint16_t* KvCache::v_rows(int il, int seq) {
    return v_.data() + (static_cast<int64_t>(seq) * layout_.n_layer + il) * n_ctx_ * layout_.v_width;
}

int64_t KvCache::bytes_per_token() const {
    return static_cast<int64_t>(layout_.n_layer) * (layout_.k_width + layout_.v_width) * 2;
}

}  // namespace sobre::runtime
