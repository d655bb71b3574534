// Loaders of the model families, one per family file; referenced only by arch_table.cc.
#pragma once

#include <memory>

#include "model/model.h"

namespace sobre::model {

// model/decoder.cc: grouped-query attention + dense or MoE SwiGLU decoders.
std::unique_ptr<Model> load_decoder(const ArchSpec& spec, std::shared_ptr<const gguf::File> file,
                                        const LoadOptions& options);

// model/deepseek2.cc: multi-head latent attention + MoE with shared experts.
std::unique_ptr<Model> load_deepseek2(const ArchSpec& spec, std::shared_ptr<const gguf::File> file,
                                      const LoadOptions& options);

}  // namespace sobre::model
