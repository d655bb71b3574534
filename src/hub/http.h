// HTTP over libcurl for the hub client: small GETs (file listings) and resumable downloads into
// a NAME.part file. Redirects are followed, since the hub answers a file request with a redirect
// to its CDN; curl (>= 7.83) sends our Authorization header only to the host and port it was
// given, never to the host it is redirected to.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"

namespace sobre::hub {

struct HttpResponse {
    long status = 0;       // of the last response, after redirects
    std::string body;
    std::string next_url;  // the Link header's rel="next" target (a paginated listing); empty if none
};

// GETs `url` with extra header lines ("Name: value"). Throws Error(kIo) naming the URL when no
// HTTP answer arrives (connection refused, timeout, TLS) or the body exceeds max_body bytes.
HttpResponse http_get(const std::string& url, const std::vector<std::string>& headers, size_t max_body = 64 << 20);

// One line for an HTTP error answer, "HTTP 404: Repository not found": the hub's JSON
// {"error": ...} when it sent one, else the printable start of the body.
std::string http_error_text(long status, const std::string& body);
// 401, 403, 404 and 410 are kNotFound (what the hub answers for a missing, private or gated
// repository); any other error status is kIo.
ErrorKind http_error_kind(long status);

// A partial download on disk, opened (created if absent) and locked for this process, so two
// pulls of the same file cannot write into it at once.
class PartFile {
   public:
    // Throws Error(kIo) when it cannot be opened, or is locked by another process.
    explicit PartFile(std::string path);
    ~PartFile();
    PartFile(const PartFile&) = delete;
    PartFile& operator=(const PartFile&) = delete;

    const std::string& path() const { return path_; }
    int fd() const { return fd_; }
    uint64_t size() const;  // bytes on disk now
    void truncate();        // back to zero bytes
    void sync();            // fsync; throws Error(kIo)

   private:
    std::string path_;
    int fd_ = -1;
};

struct DownloadOptions {
    std::vector<std::string> headers;  // extra header lines for the first request
    uint64_t expected_size = 0;        // the whole file's size, from the listing
    // Called as bytes arrive with (bytes on disk, expected_size).
    std::function<void(uint64_t, uint64_t)> progress;
};

// Appends the rest of `url` to `part`: asks for the bytes from the part's current size on (a
// Range request) and writes them after it; a server that answers with the whole file (200)
// restarts the part from zero. Returns when the server has sent everything it meant to send.
// Throws Error(kIo) when the transfer breaks off (the bytes received stay in the part, so a
// second call resumes), Error(kNotFound / kIo) for an HTTP error answer, and Error(kCorrupt) when
// the server sends more bytes than expected_size or a range other than the one asked for.
void download(const std::string& url, PartFile& part, const DownloadOptions& options);

}  // namespace sobre::hub
