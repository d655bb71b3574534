#include "server/audit.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

#include "core/error.h"
#include "registry/sha256.h"

namespace sobre::server {

AuditLog::AuditLog(const std::string& path) : path_(path), prev_(kAuditGenesis) {
    std::ifstream in(path);
    std::string line, last;
    while (std::getline(in, line)) {
        if (!line.empty()) last = line;
    }
    if (!last.empty()) {
        if (!nlohmann::json::accept(last)) fail(ErrorKind::kCorrupt, "{}: the last line is not an audit entry", path);
        prev_ = registry::sha256_hex(last);
    }
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd_ < 0) fail(ErrorKind::kIo, "{}: cannot open the audit log: {}", path, std::strerror(errno));
}

AuditLog::~AuditLog() {
    if (fd_ >= 0) ::close(fd_);
}

void AuditLog::append(nlohmann::json entry) {
    std::lock_guard<std::mutex> lock(mu_);
    entry["prev"] = prev_;
    const std::string line = entry.dump();
    const std::string out = line + "\n";
    size_t done = 0;
    while (done < out.size()) {
        const ssize_t n = ::write(fd_, out.data() + done, out.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) fail(ErrorKind::kIo, "{}: audit write failed: {}", path_, std::strerror(errno));
        done += static_cast<size_t>(n);
    }
    if (::fsync(fd_) != 0) fail(ErrorKind::kIo, "{}: audit fsync failed: {}", path_, std::strerror(errno));
    prev_ = registry::sha256_hex(line);
}

std::string AuditLog::verify(const std::string& path) {
    std::ifstream in(path);
    if (!in) fail(ErrorKind::kNotFound, "{}: cannot open the audit log", path);
    std::string line, prev = kAuditGenesis;
    int n = 0;
    while (std::getline(in, line)) {
        ++n;
        if (line.empty()) return fmt::format("line {}: empty line", n);
        const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_discarded() || !j.is_object() || !j.contains("prev") || !j["prev"].is_string()) {
            return fmt::format("line {}: not an audit entry", n);
        }
        if (j["prev"].get<std::string>() != prev) {
            if (n == 1) return "line 1: the chain does not start here (lines before it were removed)";
            return fmt::format("line {}: edited, removed or reordered (line {} records another hash for it)", n - 1, n);
        }
        prev = registry::sha256_hex(line);
    }
    return "";
}

}  // namespace sobre::server
