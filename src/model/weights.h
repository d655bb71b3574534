// Binding GGUF tensors to a family's weight struct, with shape and type validation.
#pragma once

#include <initializer_list>
#include <set>
#include <string>
#include <string_view>

#include "core/tensor.h"
#include "gguf/reader.h"

namespace sobre::model {

// Looks tensors up by name and checks them against the shape the architecture expects.
// Every failure is an Error naming the file, the tensor and the shapes or type.
class Binder {
   public:
    Binder(const gguf::File& file, std::string_view arch) : file_(file), arch_(arch) {}

    // A tensor that must exist with exactly this shape (ggml order, ne[0] first). `why` names
    // the keys the shape comes from ("expert_count = 8"), added to a shape error.
    TensorView require(const std::string& name, std::initializer_list<int64_t> shape, std::string_view why = {});
    // A tensor that may be absent (returns an empty view); if present it must have this shape.
    TensorView optional(const std::string& name, std::initializer_list<int64_t> shape, std::string_view why = {});
    // Like require, and the tensor must be f32 (norm weights, biases read as float vectors).
    TensorView require_f32(const std::string& name, std::initializer_list<int64_t> shape);
    TensorView optional_f32(const std::string& name, std::initializer_list<int64_t> shape);
    bool has(const std::string& name) const { return file_.find_tensor(name) != nullptr; }
    const std::string& path() const { return file_.path(); }
    // Names of the file's tensors that no require/optional call asked for.
    std::set<std::string> unused() const;

   private:
    TensorView bind(const gguf::TensorInfo& t, std::initializer_list<int64_t> shape, std::string_view why);
    void check_f32(const std::string& name, const TensorView& t) const;

    const gguf::File& file_;
    std::string arch_;
    std::set<std::string> bound_;
};

// "blk.3.attn_q.weight"
std::string layer_tensor(int layer, std::string_view name, std::string_view suffix = "weight");

}  // namespace sobre::model
