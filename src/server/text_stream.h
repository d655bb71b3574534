// Turns generated token ids into the text a client receives: whole UTF-8 characters only, bytes
// that are not valid UTF-8 replaced by U+FFFD, stop strings cut out. Streamed and non-streamed
// answers go through the same object, so they are identical.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace sobre::server {

class TextStream {
   public:
    TextStream(const tokenizer::Tokenizer& tok, std::vector<std::string> stop);

    // Adds a generated token. Returns the text that is now safe to send (never part of a
    // possible stop string). Sets stopped() when a stop string was completed.
    std::string push(int32_t token);
    // The text still held back at the end of generation (an unfinished character becomes U+FFFD;
    // a partial stop-string match is released).
    std::string finish();
    bool stopped() const { return stopped_; }

   private:
    std::string release();

    tokenizer::StreamDecoder decoder_;
    std::vector<std::string> stop_;
    std::string held_;  // decoded text not yet sent: may be the start of a stop string
    bool stopped_ = false;
};

// Replaces every byte that is not part of a valid UTF-8 sequence with U+FFFD.
std::string sanitize_utf8(const std::string& s);

}  // namespace sobre::server
