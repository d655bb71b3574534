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

// model/deepseek32.cc: deepseek2's MLA + MoE with DeepSeek sparse attention (lightning indexer).
std::unique_ptr<Model> load_deepseek32(const ArchSpec& spec, std::shared_ptr<const gguf::File> file,
                                       const LoadOptions& options);
std::unique_ptr<Model> load_glm_dsa(const ArchSpec& spec, std::shared_ptr<const gguf::File> file,
                                    const LoadOptions& options);

// model/deepseek4.cc: hyper-connections, compressed sparse attention, hash-routed MoE.
std::unique_ptr<Model> load_deepseek4(const ArchSpec& spec, std::shared_ptr<const gguf::File> file,
                                      const LoadOptions& options);

// model/qwen35.cc: Gated-DeltaNet + gated-attention hybrids (dense or MoE FFN).
std::unique_ptr<Model> load_qwen35(const ArchSpec& spec, std::shared_ptr<const gguf::File> file,
                                   const LoadOptions& options);
std::unique_ptr<Model> load_qwen35moe(const ArchSpec& spec, std::shared_ptr<const gguf::File> file,
                                      const LoadOptions& options);
std::unique_ptr<Model> load_qwen3next(const ArchSpec& spec, std::shared_ptr<const gguf::File> file,
                                      const LoadOptions& options);

}  // namespace sobre::model
