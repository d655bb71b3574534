// GGUF v3 writer: metadata and tensors streamed to a temporary file, renamed into place when
// complete (a failed write leaves nothing behind).
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/dtype.h"
#include "gguf/reader.h"
#include "gguf/value.h"

namespace sobre::gguf {

// Receives a tensor's bytes in order; the writer checks the total against the tensor's size.
class ByteSink {
   public:
    virtual ~ByteSink() = default;
    virtual void write(const void* data, size_t n) = 0;
};

class Writer {
   public:
    // Produces the tensor's bytes into the sink, in row order, without holding them all.
    using Producer = std::function<void(ByteSink&)>;

    // Sets (or replaces) a metadata key. A u32 general.alignment (a power of two) sets the
    // alignment of the tensor data; the default is 32.
    void set(std::string key, Value value);
    // shape is in ggml order (ne[0] = row length).
    void add_tensor(std::string name, DType type, std::vector<int64_t> shape, Producer produce);

    // Writes everything to `path` (via `path`.tmp + rename). Throws Error(kIo) on failure, after
    // removing the temporary file.
    void write(const std::string& path) const;

   private:
    struct Tensor {
        std::string name;
        DType type;
        std::vector<int64_t> shape;
        uint64_t n_bytes;
        Producer produce;
    };
    std::vector<std::pair<std::string, Value>> kv_;
    std::vector<Tensor> tensors_;
};

}  // namespace sobre::gguf
