// The quantization a GGUF file declares (general.file_type), by the name llama.cpp and the hub's
// file names use ("Q4_K_M").
#pragma once

#include <cstdint>
#include <string>

#include "gguf/reader.h"

namespace sobre::registry {

// llama.cpp's short name of a llama_ftype value ("Q4_K_M", "F32" for ALL_F32); "ftype N" for a
// value it does not define.
std::string file_type_name(uint32_t ftype);
// The file's general.file_type by name; "unknown" when the key is absent.
std::string quantization_of(const gguf::File& file);

}  // namespace sobre::registry
