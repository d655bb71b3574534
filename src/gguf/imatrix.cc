#include "gguf/imatrix.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>

#include "core/error.h"
#include "gguf/reader.h"
#include "gguf/writer.h"

namespace sobre::gguf {
namespace {

constexpr std::string_view kSumsSuffix = ".in_sum2";
constexpr std::string_view kCountsSuffix = ".counts";

// llama-imatrix's file is recognised by its magic; anything else is the legacy .dat format
// (or not an imatrix at all), which we do not read.
void require_gguf_magic(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) {
        fail(errno == ENOENT ? ErrorKind::kNotFound : ErrorKind::kIo, "{}: cannot open: {}", path,
             std::strerror(errno));
    }
    char magic[4] = {};
    const size_t got = std::fread(magic, 1, 4, f);
    std::fclose(f);
    if (got != 4 || std::memcmp(magic, "GGUF", 4) != 0) {
        fail(ErrorKind::kUnsupported,
             "{}: not a GGUF imatrix (the legacy .dat format is not read; llama-imatrix --in-file "
             "{} -o NEW.gguf converts it)",
             path, path);
    }
}

const TensorInfo& require_f32(const File& f, const std::string& name, std::string_view other) {
    const TensorInfo* t = f.find_tensor(name);
    if (t == nullptr) fail(ErrorKind::kCorrupt, "{}: tensor '{}' has no matching '{}'", f.path(), other, name);
    if (t->type != DType::kF32) {
        fail(ErrorKind::kCorrupt, "{}: tensor '{}' is {}, expected f32", f.path(), name, dtype_name(t->type));
    }
    return *t;
}

ImatrixEntry read_entry(const File& f, const std::string& name) {
    const TensorInfo& sums = require_f32(f, name + std::string(kSumsSuffix), name + std::string(kCountsSuffix));
    const TensorInfo& counts = require_f32(f, name + std::string(kCountsSuffix), sums.name);
    if (counts.n_elements() != sums.n_rows() || sums.ne[0] == 0) {
        fail(ErrorKind::kCorrupt, "{}: '{}' has shape {} but '{}' has {} elements (one per matrix expected)",
             f.path(), sums.name, sums.shape_string(), counts.name, counts.n_elements());
    }
    ImatrixEntry e;
    e.sums.resize(static_cast<size_t>(sums.n_elements()));
    std::memcpy(e.sums.data(), sums.data, e.sums.size() * sizeof(float));
    for (int64_t j = 0; j < counts.n_elements(); ++j) {
        float c = 0;
        std::memcpy(&c, counts.data + j * sizeof(float), sizeof c);
        if (!std::isfinite(c) || c < 0) fail(ErrorKind::kCorrupt, "{}: '{}' holds count {}", f.path(), counts.name, c);
        e.counts.push_back(std::lround(c));
    }
    for (float v : e.sums) {
        if (!std::isfinite(v)) fail(ErrorKind::kCorrupt, "{}: '{}' holds a non-finite value", f.path(), sums.name);
    }
    return e;
}

std::vector<int64_t> ggml_shape(int64_t ne0, int64_t ne1) {
    return ne1 == 1 ? std::vector<int64_t>{ne0} : std::vector<int64_t>{ne0, ne1};
}

}  // namespace

Imatrix read_imatrix(const std::string& path) {
    require_gguf_magic(path);
    const File f = File::open(path);
    Imatrix m;
    const Value* datasets = f.get_array("imatrix.datasets");
    const auto chunk_count = f.get_u32("imatrix.chunk_count");
    const auto chunk_size = f.get_u32("imatrix.chunk_size");
    if (datasets == nullptr || !chunk_count || !chunk_size) {
        fail(ErrorKind::kCorrupt, "{}: missing imatrix metadata (imatrix.datasets, imatrix.chunk_count, "
             "imatrix.chunk_size); is it an imatrix file?", path);
    }
    if (datasets->elem_type == ValueType::kString) m.datasets = datasets->strings;
    m.chunk_count = *chunk_count;
    m.chunk_size = *chunk_size;
    for (const TensorInfo& t : f.tensors()) {
        std::string_view name = t.name;
        if (name.ends_with(kSumsSuffix)) {
            name.remove_suffix(kSumsSuffix.size());
        } else if (name.ends_with(kCountsSuffix)) {
            name.remove_suffix(kCountsSuffix.size());
        } else {
            continue;
        }
        const std::string key(name);
        if (!m.entries.contains(key)) m.entries.emplace(key, read_entry(f, key));
    }
    if (m.entries.empty()) fail(ErrorKind::kCorrupt, "{}: holds no imatrix entries", path);
    return m;
}

void write_imatrix(const std::string& path, const Imatrix& m) {
    Writer w;
    w.set("general.type", Value::of_string("imatrix"));
    w.set("imatrix.datasets", Value::of_strings(m.datasets));
    w.set("imatrix.chunk_count", Value::of_u32(m.chunk_count));
    w.set("imatrix.chunk_size", Value::of_u32(m.chunk_size));
    for (const auto& [name, e] : m.entries) {
        const int64_t n_mat = e.n_mat();
        SOBRE_CHECK(n_mat > 0 && static_cast<int64_t>(e.sums.size()) == n_mat * e.n_per_row());
        const auto bytes = [](const auto* data, size_t n) {
            return [data, n](ByteSink& out) { out.write(data, n); };
        };
        w.add_tensor(name + std::string(kSumsSuffix), DType::kF32, ggml_shape(e.n_per_row(), n_mat),
                     bytes(e.sums.data(), e.sums.size() * sizeof(float)));
        // Counts are stored as floats, as llama-imatrix does.
        auto counts = std::make_shared<std::vector<float>>(e.counts.begin(), e.counts.end());
        w.add_tensor(name + std::string(kCountsSuffix), DType::kF32, ggml_shape(1, n_mat),
                     [counts](ByteSink& out) { out.write(counts->data(), counts->size() * sizeof(float)); });
    }
    w.write(path);
}

std::vector<float> imatrix_weights(const ImatrixEntry& e) {
    const int64_t n = e.n_per_row();
    std::vector<float> out(e.sums.size());
    for (int64_t j = 0; j < e.n_mat(); ++j) {
        const auto count = static_cast<float>(e.counts[j]);
        for (int64_t i = 0; i < n; ++i) out[j * n + i] = count > 0.0f ? e.sums[j * n + i] / count : 1.0f;
    }
    return out;
}

}  // namespace sobre::gguf
