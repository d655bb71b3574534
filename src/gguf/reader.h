// GGUF reader (v2 and v3): mmap, zero-copy tensor views, every offset and size checked.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "gguf/value.h"

namespace sobre::gguf {

constexpr int kMaxDims = 4;            // ggml's GGML_MAX_DIMS
constexpr uint32_t kDefaultAlignment = 32;
constexpr int kMaxArrayDepth = 8;      // nested arrays deeper than this are rejected as hostile

// One tensor of the file; `data` points into the mapping (valid while the File lives).
struct TensorInfo {
    std::string name;
    DType type = DType::kF32;
    int n_dims = 0;
    int64_t ne[kMaxDims] = {1, 1, 1, 1};  // ggml order: ne[0] is the contiguous (row) dimension
    uint64_t offset = 0;                   // relative to the data section
    uint64_t n_bytes = 0;
    const uint8_t* data = nullptr;

    int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
    int64_t n_rows() const { return ne[1] * ne[2] * ne[3]; }
    int64_t row_bytes() const;
    std::string shape_string() const;  // "{256, 512}"
};

class File {
   public:
    // Maps and parses `path`. Throws Error (kNotFound, kIo, kCorrupt, kUnsupported) with one
    // line naming the file, the field and its offset.
    static File open(const std::string& path);
    // Parses a caller-owned buffer that must outlive the File (fuzzing, tests). `label` names it
    // in errors.
    static File parse(std::string label, const uint8_t* data, size_t size);

    File(File&&) noexcept;
    File& operator=(File&&) noexcept;
    ~File();

    const std::string& path() const { return path_; }
    uint32_t version() const { return version_; }
    uint64_t file_size() const { return size_; }
    uint64_t data_offset() const { return data_offset_; }
    uint32_t alignment() const { return alignment_; }

    // Metadata in file order.
    const std::vector<std::pair<std::string, Value>>& metadata() const { return kv_; }
    const Value* find(std::string_view key) const;
    const std::vector<TensorInfo>& tensors() const { return tensors_; }
    const TensorInfo* find_tensor(std::string_view name) const;

    // Typed getters: nullopt when the key is absent; Error(kCorrupt) naming the key when it
    // holds a value of another kind or out of the requested range.
    std::optional<uint64_t> get_u64(std::string_view key) const;
    std::optional<uint32_t> get_u32(std::string_view key) const;
    std::optional<float> get_f32(std::string_view key) const;
    std::optional<bool> get_bool(std::string_view key) const;
    std::optional<std::string> get_string(std::string_view key) const;
    const Value* get_array(std::string_view key) const;  // nullptr when absent

   private:
    File() = default;
    struct Mapping;
    std::unique_ptr<Mapping> mapping_;
    std::string path_;
    const uint8_t* base_ = nullptr;
    uint64_t size_ = 0;
    uint32_t version_ = 0;
    uint32_t alignment_ = kDefaultAlignment;
    uint64_t data_offset_ = 0;
    std::vector<std::pair<std::string, Value>> kv_;
    std::map<std::string, size_t, std::less<>> kv_index_;
    std::vector<TensorInfo> tensors_;
    std::map<std::string, size_t, std::less<>> tensor_index_;

    friend class Parser;
};

}  // namespace sobre::gguf
