// THE list of supported architectures: adding one is a row here (plus its family file when it
// is a new family). RoPE styles follow llama.cpp's llama_model_rope_type().
#include "model/families.h"
#include "model/model.h"

namespace sobre::model {
namespace {

using kernels::RopeStyle;

constexpr uint32_t kGlm4Moe = kQkNormMaybe | kPostAttnFfnNorm | kSigmoidGating | kMoeReadsScale | kMoeBiasRequired;
constexpr uint32_t kMinimaxM2 = kQkNormFull | kSigmoidGating | kMoeNormForced | kMoeBiasRequired | kOutputRequired;

constexpr ArchSpec kArchs[] = {
    // gguf name      loader         rope               flags
    {"llama", &load_decoder, RopeStyle::kNorm, kMoeNormForced},
    {"qwen2", &load_decoder, RopeStyle::kNeox, 0},
    {"qwen3", &load_decoder, RopeStyle::kNeox, kQkNorm},
    {"qwen3moe", &load_decoder, RopeStyle::kNeox, kQkNorm | kMoeNormForced},
    {"glm4moe", &load_decoder, RopeStyle::kNeox, kGlm4Moe},
    {"minimax-m2", &load_decoder, RopeStyle::kNeox, kMinimaxM2},
    {"deepseek2", &load_deepseek2, RopeStyle::kNorm, 0},
    {"deepseek32", &load_deepseek32, RopeStyle::kNorm, 0},
    {"glm-dsa", &load_glm_dsa, RopeStyle::kNorm, 0},
    {"deepseek4", &load_deepseek4, RopeStyle::kNorm, 0},
    // Gated-DeltaNet hybrids: IMROPE with text positions is NEOX pairing (qwen35.cc applies the
    // sections); the per-arch differences are in the loaders.
    {"qwen35", &load_qwen35, RopeStyle::kNeox, 0},
    {"qwen35moe", &load_qwen35moe, RopeStyle::kNeox, 0},
    {"qwen3next", &load_qwen3next, RopeStyle::kNeox, 0},
};

}  // namespace

std::span<const ArchSpec> all_archs() { return kArchs; }

}  // namespace sobre::model
