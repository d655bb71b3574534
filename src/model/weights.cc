#include "model/weights.h"

#include <fmt/format.h>

#include "core/error.h"

namespace sobre::model {
namespace {

std::string shape_text(std::initializer_list<int64_t> shape) {
    std::string s = "{";
    bool first = true;
    for (int64_t d : shape) {
        s += fmt::format("{}{}", first ? "" : ", ", d);
        first = false;
    }
    return s + "}";
}

}  // namespace

TensorView Binder::bind(const gguf::TensorInfo& t, std::initializer_list<int64_t> shape, std::string_view why) {
    bool same = static_cast<int>(shape.size()) >= t.n_dims;
    int d = 0;
    for (int64_t want : shape) {
        if (t.ne[d] != want) same = false;
        ++d;
    }
    if (!same) {
        fail(ErrorKind::kCorrupt, "{}: tensor '{}' has shape {}, but {} expects {}{}{}", file_.path(), t.name,
             t.shape_string(), arch_, shape_text(shape), why.empty() ? "" : " from ", why);
    }
    if (!dtype_computable(t.type)) {
        fail(ErrorKind::kUnsupported, "{}: tensor '{}' has type {}, which sobre cannot compute with yet",
             file_.path(), t.name, dtype_name(t.type));
    }
    bound_.insert(t.name);
    TensorView v;
    v.type = t.type;
    for (int k = 0; k < 4; ++k) v.ne[k] = t.ne[k];
    v.data = t.data;
    return v;
}

TensorView Binder::require(const std::string& name, std::initializer_list<int64_t> shape, std::string_view why) {
    const gguf::TensorInfo* t = file_.find_tensor(name);
    if (!t) fail(ErrorKind::kCorrupt, "{}: missing tensor '{}' (required by {})", file_.path(), name, arch_);
    return bind(*t, shape, why);
}

TensorView Binder::optional(const std::string& name, std::initializer_list<int64_t> shape, std::string_view why) {
    const gguf::TensorInfo* t = file_.find_tensor(name);
    return t ? bind(*t, shape, why) : TensorView{};
}

void Binder::check_f32(const std::string& name, const TensorView& t) const {
    if (!t.empty() && t.type != DType::kF32) {
        fail(ErrorKind::kUnsupported, "{}: tensor '{}' has type {}, expected f32", file_.path(), name,
             dtype_name(t.type));
    }
}

TensorView Binder::require_f32(const std::string& name, std::initializer_list<int64_t> shape) {
    TensorView t = require(name, shape);
    check_f32(name, t);
    return t;
}

TensorView Binder::optional_f32(const std::string& name, std::initializer_list<int64_t> shape) {
    TensorView t = optional(name, shape);
    check_f32(name, t);
    return t;
}

std::set<std::string> Binder::unused() const {
    std::set<std::string> out;
    for (const gguf::TensorInfo& t : file_.tensors()) {
        if (!bound_.count(t.name)) out.insert(t.name);
    }
    return out;
}

std::string layer_tensor(int layer, std::string_view name, std::string_view suffix) {
    return fmt::format("blk.{}.{}.{}", layer, name, suffix);
}

}  // namespace sobre::model
