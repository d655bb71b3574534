// SHA-256 (OpenSSL's libcrypto) of strings and files, as lowercase hex.
#pragma once

#include <string>
#include <string_view>

namespace sobre::server {

std::string sha256_hex(std::string_view data);
// Hashes a file in chunks (no full read into memory). Throws Error(kIo / kNotFound).
std::string sha256_file_hex(const std::string& path);

}  // namespace sobre::server
