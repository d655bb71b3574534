// Loaders of the model families, one per family file; referenced only by arch_table.cc.
#pragma once

#include <memory>

#include "model/model.h"

namespace sobre::model {

// model/llama.cc: dense attention + SwiGLU transformers (llama, qwen2, qwen3).
std::unique_ptr<Model> load_dense_llama(const ArchSpec& spec, std::shared_ptr<const gguf::File> file,
                                        const LoadOptions& options);

}  // namespace sobre::model
