// Importance matrices ("imatrix") in llama.cpp's GGUF format: what `sobre imatrix` writes and
// `sobre quantize --imatrix` reads. ref: llama.cpp tools/imatrix/imatrix.cpp (save_imatrix),
// common/imatrix-loader.cpp and tools/quantize/quantize.cpp (load_imatrix).
//
// Per weight tensor NAME the file holds two f32 tensors: NAME.in_sum2, shape {n_per_row, n_mat},
// the sums of the squared activations that met each input column of each matrix (n_mat = the
// experts of an expert stack, else 1), and NAME.counts, shape {1, n_mat}, how many activation
// rows each matrix saw. Metadata: general.type = "imatrix", imatrix.datasets (the text files),
// imatrix.chunk_count and imatrix.chunk_size.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace sobre::gguf {

struct ImatrixEntry {
    std::vector<float> sums;     // [n_mat][n_per_row]
    std::vector<int64_t> counts; // [n_mat]

    int64_t n_mat() const { return static_cast<int64_t>(counts.size()); }
    int64_t n_per_row() const { return counts.empty() ? 0 : static_cast<int64_t>(sums.size()) / n_mat(); }
};

struct Imatrix {
    std::map<std::string, ImatrixEntry> entries;  // by weight tensor name
    std::vector<std::string> datasets;
    uint32_t chunk_count = 0;
    uint32_t chunk_size = 0;
};

// Reads a GGUF imatrix. Throws Error naming the file and what is wrong: not GGUF (the legacy
// .dat format is not read), missing metadata, a .in_sum2 without its .counts or the reverse,
// shapes that do not agree, no entries.
Imatrix read_imatrix(const std::string& path);

// Writes `m` as llama-imatrix does (tensors in name order, each .in_sum2 before its .counts),
// through a temporary file renamed into place. Throws Error(kIo).
void write_imatrix(const std::string& path, const Imatrix& m);

// The importance of each input column of each matrix, as llama-quantize hands it to the
// quantizers: sums / count per matrix, and 1 for a matrix that saw no activations.
std::vector<float> imatrix_weights(const ImatrixEntry& e);

}  // namespace sobre::gguf
