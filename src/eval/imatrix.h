// Collecting an importance matrix while a model runs: for every weight matrix, the sum over the
// activation rows that met it of each input column squared, and the number of rows, as
// llama-imatrix collects them. ref: llama.cpp tools/imatrix/imatrix.cpp (collect_imatrix).
//
// What is collected, as the reference does: the matrices of blk.* tensors (and output.weight
// when asked); an expert stack gets statistics per expert (the rows routed to it), any other
// tensor the model multiplies by in slices (heads, groups) one count for all of them; a dense
// product of fewer than 16 rows is skipped (the reference ignores small batches), an expert
// product never is. Weights the model does not read from the file's mapping are not seen.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "eval/chunks.h"
#include "eval/perplexity.h"
#include "gguf/imatrix.h"
#include "gguf/reader.h"
#include "kernels/cpu/matmul.h"
#include "model/model.h"

namespace sobre::eval {

class ImatrixCollector final : public kernels::MatmulObserver {
   public:
    // `file` is the model's: its weights are views into the file's mapping, so a matmul's
    // weight is recognised by address. It must outlive the collector.
    ImatrixCollector(const gguf::File& file, bool process_output);

    // Throws Error(kCorrupt) when a sum stops being finite (the reference exits there too).
    void observe(const TensorView& w, const float* x, int64_t n_tokens) override;

    // What was collected, with the file's metadata: the texts it came from and the tokens per
    // chunk (chunk_count = the most rows any matrix saw / chunk_size).
    gguf::Imatrix result(std::vector<std::string> datasets, uint32_t chunk_size) const;

   private:
    struct Range {
        const uint8_t* begin;
        const uint8_t* end;
        const gguf::TensorInfo* tensor;
    };
    struct Stats {
        std::vector<float> sums;      // [n_mat][ne0]
        std::vector<int64_t> counts;  // [n_mat]
        bool experts = false;

        int64_t n_mat() const { return static_cast<int64_t>(counts.size()); }
    };

    const Range* find(const uint8_t* data) const;

    std::vector<Range> ranges_;  // the collected tensors, by address
    std::map<std::string, Stats> stats_;
};

// Runs chunks [0, n_chunks) of `tokens` with a collector installed and returns what it
// collected (datasets and chunk_size = o.n_ctx recorded). o.first_output is chosen here: every
// position with `process_output` (the output head then sees every row, as in the reference),
// else the scored half. With `ppl`, the perplexity is measured along the way (progress after
// each chunk).
gguf::Imatrix collect_imatrix(model::Model& m, ThreadPool& pool, ChunkOptions o, std::span<const int32_t> tokens,
                              int64_t n_chunks, bool process_output, std::vector<std::string> datasets,
                              NllStats* ppl = nullptr, const PplProgress& progress = {});

}  // namespace sobre::eval
