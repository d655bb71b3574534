#include "model/model.h"

#include "core/error.h"

namespace sobre::model {

void Model::forward(const Batch& batch, KvStore& kv, ThreadPool& pool, float* out) {
    const int64_t n = batch.size();
    SOBRE_CHECK(static_cast<int64_t>(batch.positions.size()) == n &&
                static_cast<int64_t>(batch.seq_ids.size()) == n &&
                static_cast<int64_t>(batch.logits.size()) == n);
    for (int64_t t = 0; t < n; ++t) {
        const int32_t id = batch.tokens[t];
        if (id < 0 || id >= info_.n_vocab) {
            fail(ErrorKind::kInvalidArgument, "token id {} at batch index {} is out of range [0, {})", id, t,
                 info_.n_vocab);
        }
        const int seq = batch.seq_ids[t];
        if (seq < 0 || seq >= kv.n_seq()) {
            fail(ErrorKind::kInvalidArgument, "sequence id {} is out of range [0, {})", seq, kv.n_seq());
        }
        if (batch.positions[t] < 0 || batch.positions[t] >= kv.capacity(seq)) {
            fail(ErrorKind::kResourceExhausted, "position {} of sequence {} is beyond its KV capacity {}",
                 batch.positions[t], seq, kv.capacity(seq));
        }
    }
    if (n > 0) forward_impl(batch, kv, pool, out);
}

const ArchSpec* find_arch(std::string_view gguf_name) {
    for (const ArchSpec& a : all_archs()) {
        if (a.gguf_name == gguf_name) return &a;
    }
    return nullptr;
}

std::string supported_arch_list() {
    std::string out;
    for (const ArchSpec& a : all_archs()) out += (out.empty() ? "" : ", ") + std::string(a.gguf_name);
    return out;
}

std::unique_ptr<Model> load_model(const std::string& path, const LoadOptions& options) {
    auto file = std::make_shared<const gguf::File>(gguf::File::open(path));
    const auto arch = file->get_string("general.architecture");
    if (!arch) fail(ErrorKind::kCorrupt, "{}: missing key general.architecture", path);
    const ArchSpec* spec = find_arch(*arch);
    if (!spec) {
        fail(ErrorKind::kUnsupported, "{}: architecture '{}' is not supported (supported: {})", path, *arch,
             supported_arch_list());
    }
    return spec->load(*spec, std::move(file), options);
}

}  // namespace sobre::model
