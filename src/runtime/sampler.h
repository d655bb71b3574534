// Token sampling: greedy, temperature, top-k, top-p, min-p, with a seeded generator.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace sobre::runtime {

struct SamplerOptions {
    float temperature = 0.8f;  // <= 0 means greedy (argmax, lowest id wins ties)
    int top_k = 40;            // <= 0 disables
    float top_p = 0.95f;       // >= 1 disables
    float min_p = 0.05f;       // <= 0 disables; keeps tokens with p >= min_p * p_max
    uint64_t seed = 0;
};

// Same options and seed give the same sequence of choices for the same logits.
class Sampler {
   public:
    explicit Sampler(const SamplerOptions& opt) : opt_(opt), rng_(opt.seed) {}
    int32_t sample(const float* logits, int64_t n_vocab);

   private:
    SamplerOptions opt_;
    std::mt19937_64 rng_;
    std::vector<std::pair<float, int32_t>> cand_;
};

// Index of the largest value; the lowest index wins a tie.
int32_t argmax(const float* logits, int64_t n);

}  // namespace sobre::runtime
