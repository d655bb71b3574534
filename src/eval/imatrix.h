// Collecting an importance matrix while a model runs: for every weight matrix, the sum over the
// activation rows that met it of each input column squared, and the number of rows, as
// llama-imatrix collects them. ref: llama.cpp tools/imatrix/imatrix.cpp (collect_imatrix).
//
// What is collected, as the reference does: the matrices of blk.* tensors (and output.weight
// when asked); an expert stack gets statistics per expert (the rows routed to it), any other
// 3-D tensor one count for all its matrices; a dense product of fewer than 16 rows is skipped
// (the reference ignores small batches), an expert product never is.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "gguf/imatrix.h"
#include "gguf/reader.h"
#include "kernels/cpu/matmul.h"

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
    };

    const Range* find(const uint8_t* data) const;

    std::vector<Range> ranges_;  // the collected tensors, by address
    std::map<std::string, Stats> stats_;
};

}  // namespace sobre::eval
