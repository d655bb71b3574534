// UTF-8 helpers shared by the tokenizers and the detokenizer (internal to src/tokenizer).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sobre::tokenizer::utf8 {

// Length of the well-formed (RFC 3629: no overlongs, surrogates or values past U+10FFFF)
// sequence that starts at s[pos]; 0 when the bytes there are not one.
// REQUIRES: pos < s.size().
size_t valid_length(std::string_view s, size_t pos);

// True when every byte of `s` belongs to a well-formed sequence.
bool is_valid(std::string_view s);

// Number of bytes at the end of `s` that start a well-formed sequence which is cut short
// (0..3); those bytes may still become a character when more bytes arrive.
size_t incomplete_tail(std::string_view s);

// Appends the UTF-8 encoding of code point `cp` (REQUIRES: cp <= 0x10FFFF).
void append(std::string& out, uint32_t cp);

}  // namespace sobre::tokenizer::utf8
