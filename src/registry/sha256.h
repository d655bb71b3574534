// SHA-256 (OpenSSL's libcrypto) of strings and files, as lowercase hex. It lives with the model
// registry, which names weights by it; the server uses it too (API keys, audit chain, model id).
#pragma once

#include <string>
#include <string_view>

namespace sobre::registry {

std::string sha256_hex(std::string_view data);
// Hashes a file in chunks (no full read into memory). Throws Error(kIo / kNotFound).
std::string sha256_file_hex(const std::string& path);
// True for 64 lowercase hex digits: the form every function here returns.
bool is_sha256_hex(std::string_view text);

}  // namespace sobre::registry
