// Tools for the sparse-attention architectures' tests: copies of fixture models with edited
// metadata or missing tensors, and ways to feed a prompt (micro-batches, interleaved sequences)
// that must all give the logits of one batch.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "gguf/writer.h"
#include "model/fixtures.h"
#include "model/model.h"
#include "runtime/kv_cache.h"

namespace sobre::testing {

using Metadata = std::vector<std::pair<std::string, gguf::Value>>;
using KeyEdit = std::function<void(Metadata&)>;

// Sets every key named `key` to the u32 `v`.
inline void set_u32(Metadata& keys, const std::string& key, uint32_t v) {
    for (auto& [k, value] : keys) {
        if (k == key) value = gguf::Value::of_u32(v);
    }
}

// A temporary file removed when the object goes away.
class FixtureRewriter {
   public:
    explicit FixtureRewriter(std::string tag)
        : path_((std::filesystem::temp_directory_path() /
                 ("sobre_" + std::move(tag) + "_" + std::to_string(getpid()) + ".gguf"))
                    .string()) {}
    ~FixtureRewriter() { std::filesystem::remove(path_); }
    FixtureRewriter(const FixtureRewriter&) = delete;
    FixtureRewriter& operator=(const FixtureRewriter&) = delete;

    // Writes `fixture` (a base name in models_dir()) with its metadata changed by `edit` and the
    // `drop` tensors left out; returns the path.
    const std::string& write(const std::string& fixture, const KeyEdit& edit,
                             const std::set<std::string>& drop = {}) {
        const gguf::File src = gguf::File::open(models_dir() + "/" + fixture + ".gguf");
        Metadata keys = src.metadata();
        edit(keys);
        gguf::Writer w;
        for (auto& [k, v] : keys) w.set(k, v);
        for (const gguf::TensorInfo& t : src.tensors()) {
            if (drop.count(t.name)) continue;
            const uint8_t* data = t.data;
            const uint64_t n = t.n_bytes;
            w.add_tensor(t.name, t.type, std::vector<int64_t>(t.ne, t.ne + t.n_dims),
                         [data, n](gguf::ByteSink& s) { s.write(data, n); });
        }
        w.write(path_);
        return path_;
    }

    // The load error of the rewritten fixture ("" when it loads).
    std::string load_error(const std::string& fixture, const KeyEdit& edit,
                           const std::set<std::string>& drop = {}, ErrorKind* kind = nullptr) {
        try {
            model::load_model(write(fixture, edit, drop));
        } catch (const Error& e) {
            if (kind) *kind = e.kind();
            return e.what();
        }
        return "";
    }

   private:
    std::string path_;
};

// Logits of every prompt token ([n][n_vocab]), fed in batches of `chunk` tokens.
inline std::vector<float> logits_in_chunks(model::Model& m, const std::vector<int32_t>& prompt,
                                           int64_t chunk) {
    const auto n = static_cast<int64_t>(prompt.size());
    const int64_t n_vocab = m.info().n_vocab;
    runtime::KvCache kv(m.info().kv, n);
    ThreadPool pool(2);
    std::vector<float> out(static_cast<size_t>(n * n_vocab));
    for (int64_t start = 0; start < n; start += chunk) {
        model::Batch b;
        for (int64_t t = start; t < std::min(n, start + chunk); ++t)
            b.add(prompt[t], static_cast<int32_t>(t), 0, true);
        m.forward(b, kv, pool, &out[start * n_vocab]);
    }
    return out;
}

// Two prompts of equal length as sequences 0 and 1 of one batch, tokens interleaved; returns the
// logits of each ([n][n_vocab] each).
inline std::pair<std::vector<float>, std::vector<float>> logits_interleaved(
    model::Model& m, const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
    const auto n = static_cast<int64_t>(a.size());
    const int64_t n_vocab = m.info().n_vocab;
    runtime::KvCache kv(m.info().kv, runtime::KvCacheOptions{2 * ((n + 15) / 16), 16, 2});
    kv.reserve(0, n);
    kv.reserve(1, n);
    model::Batch batch;
    for (int64_t t = 0; t < n; ++t) {
        batch.add(a[t], static_cast<int32_t>(t), 0, true);
        batch.add(b[t], static_cast<int32_t>(t), 1, true);
    }
    std::vector<float> out(static_cast<size_t>(2 * n * n_vocab));
    ThreadPool pool(2);
    m.forward(batch, kv, pool, out.data());
    std::vector<float> oa, ob;
    for (int64_t t = 0; t < n; ++t) {
        oa.insert(oa.end(), &out[(2 * t) * n_vocab], &out[(2 * t + 1) * n_vocab]);
        ob.insert(ob.end(), &out[(2 * t + 1) * n_vocab], &out[(2 * t + 2) * n_vocab]);
    }
    return {oa, ob};
}

inline double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b,
                           size_t from = 0) {
    double m = 0;
    for (size_t i = from; i < a.size() && i < b.size(); ++i) {
        m = std::max(m, std::fabs(static_cast<double>(a[i]) - b[i]));
    }
    return a.size() == b.size() ? m : INFINITY;
}

}  // namespace sobre::testing
