#include "eval/imatrix.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace sobre::eval {
namespace {

constexpr int64_t kMinDenseRows = 16;  // the reference skips dense products of fewer rows

bool collected(const std::string& name, bool process_output) {
    return name.starts_with("blk.") || (process_output && name == "output.weight");
}

// Expert stacks run as one indirect product per layer in the reference (MUL_MAT_ID), which
// counts rows per expert and has no minimum.
bool is_expert_stack(const std::string& name) { return name.find("_exps") != std::string::npos; }

}  // namespace

ImatrixCollector::ImatrixCollector(const gguf::File& file, bool process_output) {
    for (const gguf::TensorInfo& t : file.tensors()) {
        // 1-D tensors too: a {n, 1} matrix is stored with one dimension (a shared-expert gate).
        if (t.n_bytes == 0 || !collected(t.name, process_output)) continue;
        ranges_.push_back({t.data, t.data + t.n_bytes, &t});
    }
    std::sort(ranges_.begin(), ranges_.end(), [](const Range& a, const Range& b) { return a.begin < b.begin; });
}

const ImatrixCollector::Range* ImatrixCollector::find(const uint8_t* data) const {
    auto it = std::upper_bound(ranges_.begin(), ranges_.end(), data,
                               [](const uint8_t* p, const Range& r) { return p < r.begin; });
    if (it == ranges_.begin()) return nullptr;
    --it;
    return data < it->end ? &*it : nullptr;
}

void ImatrixCollector::observe(const TensorView& w, const float* x, int64_t n_tokens) {
    const Range* r = find(w.data);
    if (r == nullptr) return;
    const gguf::TensorInfo& t = *r->tensor;
    const int64_t ne0 = t.ne[0];
    if (w.ne[0] != ne0 || w.type != t.type) return;
    // The matrices are the views the model multiplies by: an expert's or a head's slice of a
    // 3-D tensor, or equal row blocks of a 2-D one that the model splits (DeepSeek-V4's
    // grouped output projection; the reference reshapes it to 3-D).
    const int64_t matrix_bytes = w.row_size() * w.ne[1];
    const int64_t offset = w.data - r->begin;
    if (matrix_bytes <= 0 || offset % matrix_bytes != 0 || static_cast<int64_t>(t.n_bytes) % matrix_bytes != 0) return;
    const bool experts = is_expert_stack(t.name);
    if (!experts && n_tokens < kMinDenseRows) return;
    const int64_t n_mat = static_cast<int64_t>(t.n_bytes) / matrix_bytes;
    const int64_t mat = offset / matrix_bytes;
    Stats& s = stats_[t.name];
    if (s.counts.empty()) {
        s.sums.assign(static_cast<size_t>(ne0 * n_mat), 0.0f);
        s.counts.assign(static_cast<size_t>(n_mat), 0);
        s.experts = experts;
    } else if (s.n_mat() != n_mat) {
        return;  // multiplied by in two different splits: no matrix layout to record
    }
    float* sums = s.sums.data() + mat * ne0;
    for (int64_t row = 0; row < n_tokens; ++row) {
        const float* xr = x + row * ne0;
        for (int64_t j = 0; j < ne0; ++j) sums[j] += xr[j] * xr[j];
    }
    for (int64_t j = 0; j < ne0; ++j) {
        if (!std::isfinite(sums[j])) {
            fail(ErrorKind::kCorrupt, "the squared activations of '{}' are no longer finite", t.name);
        }
    }
    s.counts[mat] += n_tokens;
}

gguf::Imatrix ImatrixCollector::result(std::vector<std::string> datasets, uint32_t chunk_size) const {
    gguf::Imatrix m;
    m.datasets = std::move(datasets);
    m.chunk_size = chunk_size;
    int64_t max_count = 0;
    for (const auto& [name, s] : stats_) {
        gguf::ImatrixEntry e{s.sums, s.counts};
        // A 3-D tensor that is not an expert stack is one product in the reference, with one
        // count for all its matrices.
        const bool uniform = std::all_of(e.counts.begin(), e.counts.end(), [&](int64_t c) { return c == e.counts[0]; });
        if (!s.experts && uniform) e.counts.resize(1);
        for (int64_t c : e.counts) max_count = std::max(max_count, c);
        m.entries.emplace(name, std::move(e));
    }
    m.chunk_count = chunk_size > 0 ? static_cast<uint32_t>(max_count / chunk_size) : 0;
    return m;
}

gguf::Imatrix collect_imatrix(model::Model& m, ThreadPool& pool, ChunkOptions o, std::span<const int32_t> tokens,
                              int64_t n_chunks, bool process_output, std::vector<std::string> datasets, NllStats* ppl,
                              const PplProgress& progress) {
    const int64_t first = first_scored(o.n_ctx);
    o.first_output = process_output ? 0 : first;
    check_chunk_options(o);
    const int64_t n_vocab = m.info().n_vocab;
    ImatrixCollector collector(m.file(), process_output);
    kernels::ScopedMatmulObserver observe(&collector);
    for_each_chunk(m, pool, o, tokens, n_chunks, [&](int64_t c, const float* logits) {
        if (ppl == nullptr) return;
        score_chunk(logits + (first - o.first_output) * n_vocab, tokens.data() + c * o.n_ctx, o.n_ctx, n_vocab,
                    [&](int64_t, const float* row, int32_t next) { ppl->add(token_nll(row, n_vocab, next)); });
        if (progress) progress(c, *ppl);
    });
    return collector.result(std::move(datasets), static_cast<uint32_t>(o.n_ctx));
}

}  // namespace sobre::eval
