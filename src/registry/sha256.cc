#include "registry/sha256.h"

#include <openssl/evp.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "core/error.h"

namespace sobre::registry {
namespace {

struct CtxDeleter {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using Ctx = std::unique_ptr<EVP_MD_CTX, CtxDeleter>;

Ctx new_ctx() {
    Ctx ctx(EVP_MD_CTX_new());
    SOBRE_CHECK(ctx && EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) == 1);
    return ctx;
}

std::string finish_hex(EVP_MD_CTX* ctx) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    SOBRE_CHECK(EVP_DigestFinal_ex(ctx, digest, &len) == 1);
    static const char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < len; ++i) {
        out += kHex[digest[i] >> 4];
        out += kHex[digest[i] & 15];
    }
    return out;
}

}  // namespace

std::string sha256_hex(std::string_view data) {
    Ctx ctx = new_ctx();
    SOBRE_CHECK(EVP_DigestUpdate(ctx.get(), data.data(), data.size()) == 1);
    return finish_hex(ctx.get());
}

std::string sha256_file_hex(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) fail(errno == ENOENT ? ErrorKind::kNotFound : ErrorKind::kIo, "{}: cannot open: {}", path, std::strerror(errno));
    Ctx ctx = new_ctx();
    std::vector<char> buf(1 << 20);
    size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) SOBRE_CHECK(EVP_DigestUpdate(ctx.get(), buf.data(), n) == 1);
    const bool failed = std::ferror(f) != 0;
    std::fclose(f);
    if (failed) fail(ErrorKind::kIo, "{}: read failed", path);
    return finish_hex(ctx.get());
}

bool is_sha256_hex(std::string_view text) {
    if (text.size() != 64) return false;
    for (const char c : text) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

}  // namespace sobre::registry
