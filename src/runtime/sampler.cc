#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>

namespace sobre::runtime {

int32_t argmax(const float* logits, int64_t n) {
    int64_t best = 0;
    for (int64_t i = 1; i < n; ++i) {
        if (logits[i] > logits[best]) best = i;
    }
    return static_cast<int32_t>(best);
}

int32_t Sampler::sample(const float* logits, int64_t n_vocab) {
    if (opt_.temperature <= 0.0f) return argmax(logits, n_vocab);
    cand_.clear();
    for (int64_t i = 0; i < n_vocab; ++i) cand_.emplace_back(logits[i], static_cast<int32_t>(i));
    // Descending by logit, ties by id, so the order (and the draw) is deterministic.
    auto by_logit = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
    size_t keep = cand_.size();
    if (opt_.top_k > 0 && static_cast<size_t>(opt_.top_k) < keep) keep = static_cast<size_t>(opt_.top_k);
    std::partial_sort(cand_.begin(), cand_.begin() + static_cast<std::ptrdiff_t>(keep), cand_.end(), by_logit);
    cand_.resize(keep);

    // Softmax at the temperature over the kept candidates.
    const float mx = cand_[0].first;
    double sum = 0;
    for (auto& c : cand_) {
        c.first = std::exp((c.first - mx) / opt_.temperature);
        sum += c.first;
    }
    for (auto& c : cand_) c.first = static_cast<float>(c.first / sum);
    if (opt_.min_p > 0.0f) {
        const float floor = opt_.min_p * cand_[0].first;
        size_t n = 1;
        while (n < cand_.size() && cand_[n].first >= floor) ++n;
        cand_.resize(n);
    }
    if (opt_.top_p < 1.0f) {
        double cum = 0;
        size_t n = 0;
        while (n < cand_.size()) {
            cum += cand_[n++].first;
            if (cum >= opt_.top_p) break;
        }
        cand_.resize(n);
    }
    double total = 0;
    for (const auto& c : cand_) total += c.first;
    std::uniform_real_distribution<double> uni(0.0, total);
    double r = uni(rng_);
    for (const auto& c : cand_) {
        r -= c.first;
        if (r <= 0) return c.second;
    }
    return cand_.back().second;
}

}  // namespace sobre::runtime
