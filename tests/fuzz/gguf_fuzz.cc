// libFuzzer target for the GGUF reader: any input must parse or throw sobre::Error. Every other
// exception escapes and is reported as a crash; the sanitizers turn over-reads, overflows and
// leaks into findings. libFuzzer hands each input over in a heap block of exactly its size, so
// ASan sees the first byte read past the end.
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "gguf/reader.h"
#include "gguf/value.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        const sobre::gguf::File f = sobre::gguf::File::parse("fuzz.gguf", data, size);
        // Read what the parse handed out, as a loader would: every byte of every tensor view
        // and a rendering of every value (first and last element of arrays included).
        uint64_t sum = 0;
        for (const sobre::gguf::TensorInfo& t : f.tensors()) {
            for (uint64_t k = 0; k < t.n_bytes; ++k) sum += t.data[k];
            sum += t.shape_string().size();
        }
        for (const auto& [key, value] : f.metadata()) {
            sum += key.size() + value.to_string().size();
            if (value.type == sobre::gguf::ValueType::kArray && value.size() > 0) {
                sum += value.at(value.size() - 1).to_string().size();
            }
        }
        // Keeps the loads above from being optimized away.
        volatile uint64_t sink = sum;
        (void)sink;
    } catch (const sobre::Error&) {
        // The contract: bad input is an Error, nothing else.
    }
    return 0;
}
