#include "hub/http.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <mutex>
#include <string_view>

#include "core/error.h"

namespace sobre::hub {
namespace {

constexpr const char* kUserAgent = "sobre/0.1";
constexpr size_t kErrorBodyLimit = 4096;

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) return false;
    for (size_t i = 0; i < prefix.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(s[i])) != std::tolower(static_cast<unsigned char>(prefix[i]))) return false;
    }
    return true;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

// The value of header line `line` when its name is `name` ("Content-Range"), else nullopt.
std::optional<std::string_view> header_value(std::string_view line, std::string_view name) {
    if (line.size() <= name.size() || line[name.size()] != ':' || !starts_with_nocase(line, name)) return std::nullopt;
    return trim(line.substr(name.size() + 1));
}

// The rel="next" target of a Link header value: `<URL>; rel="next", <URL2>; rel="last"`.
std::string link_next(std::string_view value) {
    while (!value.empty()) {
        const size_t comma = value.find(',');
        const std::string_view part = trim(value.substr(0, comma));
        const size_t lt = part.find('<');
        const size_t gt = part.find('>');
        if (lt != std::string_view::npos && gt != std::string_view::npos && gt > lt &&
            part.find("rel=\"next\"", gt) != std::string_view::npos) {
            return std::string(part.substr(lt + 1, gt - lt - 1));
        }
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
    return {};
}

struct CurlDeleter {
    void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
    void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

// One easy handle with the settings every request shares, and the header list it points to.
struct Request {
    std::unique_ptr<CURL, CurlDeleter> curl;
    std::unique_ptr<curl_slist, SlistDeleter> headers;
    char error[CURL_ERROR_SIZE] = {};

    Request(const std::string& url, const std::vector<std::string>& header_lines) {
        static std::once_flag once;
        std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
        curl.reset(curl_easy_init());
        SOBRE_CHECK(curl != nullptr);
        curl_slist* list = nullptr;
        for (const std::string& h : header_lines) {
            list = curl_slist_append(list, h.c_str());
            SOBRE_CHECK(list != nullptr);
        }
        headers.reset(list);
        CURL* c = curl.get();
        curl_easy_setopt(c, CURLOPT_URL, url.c_str());
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
        curl_easy_setopt(c, CURLOPT_USERAGENT, kUserAgent);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
        // A transfer that stalls below 1 byte/s for a minute is broken off (and resumed by a retry).
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
    }

    // "Couldn't connect to server (Failed to connect to ... : Connection refused)".
    std::string describe(CURLcode rc) const {
        std::string text = curl_easy_strerror(rc);
        if (error[0] != '\0') text += fmt::format(" ({})", trim(error));
        return text;
    }
};

struct GetState {
    HttpResponse* res;
    size_t max_body;
    bool too_big = false;
};

size_t get_header(char* data, size_t size, size_t count, void* user) {
    auto* s = static_cast<GetState*>(user);
    const std::string_view line = trim(std::string_view(data, size * count));
    if (line.rfind("HTTP/", 0) == 0) s->res->next_url.clear();  // a new response (after a redirect)
    if (const auto v = header_value(line, "link")) s->res->next_url = link_next(*v);
    return size * count;
}

size_t get_body(char* data, size_t size, size_t count, void* user) {
    auto* s = static_cast<GetState*>(user);
    if (s->res->body.size() + size * count > s->max_body) {
        s->too_big = true;
        return 0;
    }
    s->res->body.append(data, size * count);
    return size * count;
}

// What one download request has seen so far.
struct Transfer {
    CURL* curl = nullptr;
    PartFile* part = nullptr;
    const DownloadOptions* opt = nullptr;
    uint64_t start = 0;          // bytes on disk when the request was sent
    uint64_t offset = 0;         // where the next body byte goes
    long status = 0;             // of the response whose body is arriving
    bool body_started = false;
    std::string content_range;   // of the latest response
    std::string error_body;      // start of an error response's body
    std::string failure;         // why the write callback stopped the transfer
    ErrorKind failure_kind = ErrorKind::kIo;
};

size_t download_header(char* data, size_t size, size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const std::string_view line = trim(std::string_view(data, size * count));
    if (line.rfind("HTTP/", 0) == 0) t->content_range.clear();
    if (const auto v = header_value(line, "content-range")) t->content_range = std::string(*v);
    return size * count;
}

// Decides, at the first body byte, where the body goes: after the part (206 for our range),
// over it from zero (200: the server ignored the range), or into error_body (an error answer).
bool start_body(Transfer& t) {
    t.body_started = true;
    curl_easy_getinfo(t.curl, CURLINFO_RESPONSE_CODE, &t.status);
    if (t.status == 206) {
        const std::string want = fmt::format("bytes {}-", t.start);
        if (t.content_range.rfind(want, 0) != 0) {
            t.failure_kind = ErrorKind::kCorrupt;
            t.failure = fmt::format("asked for bytes {}- and got '{}'", t.start, t.content_range);
            return false;
        }
        t.offset = t.start;
    } else if (t.status == 200) {
        if (t.start > 0) t.part->truncate();
        t.offset = 0;
    }
    return true;
}

size_t download_body(char* data, size_t size, size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const size_t n = size * count;
    if (!t->body_started && !start_body(*t)) return 0;
    if (t->status != 200 && t->status != 206) {
        t->error_body.append(data, std::min(n, kErrorBodyLimit - std::min(kErrorBodyLimit, t->error_body.size())));
        return n;
    }
    if (t->offset + n > t->opt->expected_size) {
        t->failure_kind = ErrorKind::kCorrupt;
        t->failure = fmt::format("the server sent more than the {} bytes the listing gives", t->opt->expected_size);
        return 0;
    }
    for (size_t done = 0; done < n;) {
        const ssize_t w = ::pwrite(t->part->fd(), data + done, n - done, static_cast<off_t>(t->offset + done));
        if (w <= 0) {
            t->failure = fmt::format("{}: write failed: {}", t->part->path(), std::strerror(errno));
            return 0;
        }
        done += static_cast<size_t>(w);
    }
    t->offset += n;
    return n;
}

int download_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    auto* t = static_cast<Transfer*>(user);
    if (t->opt->progress && t->body_started && (t->status == 200 || t->status == 206)) {
        t->opt->progress(t->offset, t->opt->expected_size);
    }
    return 0;
}

}  // namespace

HttpResponse http_get(const std::string& url, const std::vector<std::string>& headers, size_t max_body) {
    Request req(url, headers);
    HttpResponse res;
    GetState state{&res, max_body};
    CURL* c = req.curl.get();
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 300L);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, get_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &state);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, get_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &state);
    const CURLcode rc = curl_easy_perform(c);
    if (state.too_big) fail(ErrorKind::kCorrupt, "GET {}: the answer is larger than {} bytes", url, max_body);
    if (rc != CURLE_OK) fail(ErrorKind::kIo, "GET {}: {}", url, req.describe(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &res.status);
    return res;
}

std::string http_error_text(long status, const std::string& body) {
    std::string detail;
    const nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.contains("error") && j["error"].is_string()) {
        detail = j["error"].get<std::string>();
    } else {
        for (const char ch : body.substr(0, 160)) detail += std::isprint(static_cast<unsigned char>(ch)) ? ch : ' ';
    }
    detail = std::string(trim(detail));
    return fmt::format("HTTP {}{}{}", status, detail.empty() ? "" : ": ", detail);
}

ErrorKind http_error_kind(long status) {
    const bool not_found = status == 401 || status == 403 || status == 404 || status == 410;
    return not_found ? ErrorKind::kNotFound : ErrorKind::kIo;
}

PartFile::PartFile(std::string path) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) fail(ErrorKind::kIo, "{}: cannot open: {}", path_, std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        ::close(fd_);
        if (err == EWOULDBLOCK) fail(ErrorKind::kIo, "{}: another pull is downloading this file", path_);
        fail(ErrorKind::kIo, "{}: cannot lock: {}", path_, std::strerror(err));
    }
}

PartFile::~PartFile() { ::close(fd_); }

uint64_t PartFile::size() const {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) fail(ErrorKind::kIo, "{}: stat failed: {}", path_, std::strerror(errno));
    return static_cast<uint64_t>(st.st_size);
}

void PartFile::truncate() {
    if (::ftruncate(fd_, 0) != 0) fail(ErrorKind::kIo, "{}: truncate failed: {}", path_, std::strerror(errno));
}

void PartFile::sync() {
    if (::fsync(fd_) != 0) fail(ErrorKind::kIo, "{}: fsync failed: {}", path_, std::strerror(errno));
}

void download(const std::string& url, PartFile& part, const DownloadOptions& options) {
    Request req(url, options.headers);
    CURL* c = req.curl.get();
    Transfer t;
    t.curl = c;
    t.part = &part;
    t.opt = &options;
    t.start = part.size();
    const std::string range = fmt::format("{}-", t.start);
    // The Range header, not CURLOPT_RESUME_FROM: curl would refuse a 200 answer to a resume,
    // and a server that ignores ranges is simply restarted from zero here.
    if (t.start > 0) curl_easy_setopt(c, CURLOPT_RANGE, range.c_str());
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, download_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, download_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, download_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    const CURLcode rc = curl_easy_perform(c);
    if (!t.failure.empty()) fail(t.failure_kind, "{}: {}", url, t.failure);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 400) fail(http_error_kind(status), "{}: {}", url, http_error_text(status, t.error_body));
    if (rc != CURLE_OK) {
        fail(ErrorKind::kIo, "{}: {} at byte {} of {}", url, req.describe(rc), t.body_started ? t.offset : t.start,
             options.expected_size);
    }
    if (status != 200 && status != 206) fail(ErrorKind::kIo, "{}: unexpected HTTP {}", url, status);
}

}  // namespace sobre::hub
