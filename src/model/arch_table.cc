// THE list of supported architectures: adding one is a row here (plus its family file when it
// is a new family). RoPE styles follow llama.cpp's llama_model_rope_type().
#include "model/families.h"
#include "model/model.h"

namespace sobre::model {
namespace {

using kernels::RopeStyle;

constexpr ArchSpec kArchs[] = {
    // gguf name   loader              rope               flags
    {"llama", &load_dense_llama, RopeStyle::kNorm, 0},
    {"qwen2", &load_dense_llama, RopeStyle::kNeox, 0},
    {"qwen3", &load_dense_llama, RopeStyle::kNeox, kQkNorm},
};

}  // namespace

std::span<const ArchSpec> all_archs() { return kArchs; }

}  // namespace sobre::model
