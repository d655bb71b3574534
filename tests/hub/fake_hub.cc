#include "hub/fake_hub.h"

#include <httplib.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <limits>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

namespace sobre::testing {
namespace {

using json = nlohmann::json;

constexpr size_t kChunk = 64 << 10;

void send_error(httplib::Response& res, int status, const std::string& message) {
    res.status = status;
    res.set_content(json{{"error", message}}.dump(), "application/json");
}

}  // namespace

struct FakeHub::Impl {
    std::string repo;
    std::vector<FakeFile> files;
    size_t page_size;
    httplib::Server hub;
    httplib::Server cdn;
    int hub_port = 0;
    int cdn_port = 0;
    std::thread hub_thread;
    std::thread cdn_thread;

    mutable std::mutex mu;  // guards everything below
    CdnMode cdn_mode = CdnMode::kNormal;
    size_t cut_at = 0;
    bool cut_done = false;
    ListingMode listing_mode = ListingMode::kNormal;
    std::string token;
    Seen seen;

    // REQUIRES: mu held.
    bool authorized(const httplib::Request& req, httplib::Response& res) {
        seen.hub_auth.push_back(req.get_header_value("Authorization"));
        if (token.empty() || req.get_header_value("Authorization") == "Bearer " + token) return true;
        send_error(res, 401, "Invalid username or password.");
        return false;
    }

    // The listing: directories first (as the hub lists them), then files.
    json entries() const {
        json all = json::array();
        std::set<std::string> dirs;
        for (const FakeFile& f : files) {
            const size_t slash = f.path.rfind('/');
            if (slash != std::string::npos) dirs.insert(f.path.substr(0, slash));
        }
        for (const std::string& d : dirs) all.push_back({{"type", "directory"}, {"oid", std::string(40, 'd')}, {"size", 0}, {"path", d}});
        for (const FakeFile& f : files) {
            json e = {{"type", "file"}, {"oid", std::string(40, 'a')}, {"size", f.data.size()}, {"path", f.path}};
            if (!f.sha256.empty()) e["lfs"] = {{"oid", f.sha256}, {"size", f.data.size()}, {"pointerSize", 134}};
            all.push_back(e);
        }
        return all;
    }

    void list(const httplib::Request& req, httplib::Response& res) {
        std::lock_guard<std::mutex> lock(mu);
        ++seen.listing_pages;
        if (!authorized(req, res)) return;
        if (req.matches[1].str() + "/" + req.matches[2].str() != repo) return send_error(res, 404, "Repository not found");
        if (listing_mode == ListingMode::kGarbage) {
            return res.set_content("<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html");
        }
        if (listing_mode == ListingMode::kBadEntries) {
            return res.set_content(R"([{"type": "file", "path": "x.gguf", "size": "large", "lfs": 7}])", "application/json");
        }
        const json all = entries();
        const size_t from = req.has_param("cursor") ? std::stoul(req.get_param_value("cursor")) : 0;
        const size_t to = std::min(all.size(), from + page_size);
        json page = json::array();
        for (size_t i = from; i < to; ++i) page.push_back(all[i]);
        if (to < all.size()) {
            const std::string origin = listing_mode == ListingMode::kForeignLinks
                                           ? std::string("https://huggingface.co")
                                           : "http://127.0.0.1:" + std::to_string(hub_port);
            res.set_header("Link", "<" + origin + "/api/models/" + repo + "/tree/" +
                                       req.matches[3].str() + "?recursive=true&cursor=" + std::to_string(to) +
                                       ">; rel=\"next\"");
        }
        res.set_content(page.dump(), "application/json");
    }

    void resolve(const httplib::Request& req, httplib::Response& res) {
        std::lock_guard<std::mutex> lock(mu);
        if (!authorized(req, res)) return;
        if (req.matches[1].str() + "/" + req.matches[2].str() != repo) return send_error(res, 404, "Repository not found");
        for (size_t i = 0; i < files.size(); ++i) {
            if (files[i].path != req.matches[4].str()) continue;
            if (files[i].sha256.empty()) return res.set_content(files[i].data, "application/octet-stream");
            res.set_header("X-Linked-Size", std::to_string(files[i].data.size()));
            res.set_header("X-Linked-ETag", "\"" + files[i].sha256 + "\"");
            return res.set_redirect("http://127.0.0.1:" + std::to_string(cdn_port) + "/blobs/" + std::to_string(i), 302);
        }
        send_error(res, 404, "Entry not found");
    }

    void blob(const httplib::Request& req, httplib::Response& res) {
        std::lock_guard<std::mutex> lock(mu);
        ++seen.file_requests;
        seen.cdn_auth.push_back(req.get_header_value("Authorization"));
        if (req.has_header("Range")) seen.ranges.push_back(req.get_header_value("Range"));
        const size_t index = std::stoul(req.matches[1].str());
        if (index >= files.size()) return send_error(res, 404, "no such blob");
        auto body = std::make_shared<std::string>(files[index].data);
        if (cdn_mode == CdnMode::kCorrupt) (*body)[body->size() / 2] ^= 0x5a;
        size_t limit = std::numeric_limits<size_t>::max();
        if (cdn_mode == CdnMode::kCutAlways || (cdn_mode == CdnMode::kCutOnce && !cut_done)) {
            limit = cut_at;
            cut_done = true;
        }
        if (cdn_mode == CdnMode::kIgnoreRange) {
            // A chunked 200 with the whole file: what a server without range support sends.
            res.status = 200;
            res.set_chunked_content_provider("application/octet-stream", [body](size_t offset, httplib::DataSink& sink) {
                const size_t n = std::min(kChunk, body->size() - offset);
                if (n > 0 && !sink.write(body->data() + offset, n)) return false;
                if (offset + n == body->size()) sink.done();
                return true;
            });
            return;
        }
        auto sent = std::make_shared<size_t>(0);
        res.set_content_provider(body->size(), "application/octet-stream",
                                 [body, limit, sent](size_t offset, size_t length, httplib::DataSink& sink) {
                                     const size_t n = std::min({length, kChunk, limit - *sent});
                                     if (n == 0) return false;  // breaks the connection off
                                     if (!sink.write(body->data() + offset, n)) return false;
                                     *sent += n;
                                     return true;
                                 });
    }
};

FakeHub::FakeHub(std::string repo, std::vector<FakeFile> files, size_t page_size) : impl_(std::make_unique<Impl>()) {
    Impl& m = *impl_;
    m.repo = std::move(repo);
    m.files = std::move(files);
    m.page_size = page_size;
    m.hub.Get(R"(/api/models/([^/]+)/([^/]+)/tree/([^/]+))",
              [&m](const httplib::Request& req, httplib::Response& res) { m.list(req, res); });
    m.hub.Get(R"(/([^/]+)/([^/]+)/resolve/([^/]+)/(.+))",
              [&m](const httplib::Request& req, httplib::Response& res) { m.resolve(req, res); });
    m.cdn.Get(R"(/blobs/(\d+))", [&m](const httplib::Request& req, httplib::Response& res) { m.blob(req, res); });
    m.hub_port = m.hub.bind_to_any_port("127.0.0.1");
    m.cdn_port = m.cdn.bind_to_any_port("127.0.0.1");
    if (m.hub_port <= 0 || m.cdn_port <= 0) throw std::runtime_error("fake hub: cannot bind 127.0.0.1");
    m.hub_thread = std::thread([&m] { m.hub.listen_after_bind(); });
    m.cdn_thread = std::thread([&m] { m.cdn.listen_after_bind(); });
    // httplib's stop() does nothing before listen has begun, so a quick test's destructor would
    // wait forever: return only once both accept.
    while (!m.hub.is_running() || !m.cdn.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

FakeHub::~FakeHub() {
    impl_->hub.stop();
    impl_->cdn.stop();
    impl_->hub_thread.join();
    impl_->cdn_thread.join();
}

std::string FakeHub::url() const { return "http://127.0.0.1:" + std::to_string(impl_->hub_port); }

void FakeHub::set_cdn_mode(CdnMode mode, size_t cut_at) {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->cdn_mode = mode;
    impl_->cut_at = cut_at;
    impl_->cut_done = false;
}

void FakeHub::set_listing_mode(ListingMode mode) {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->listing_mode = mode;
}

void FakeHub::require_token(std::string token) {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->token = std::move(token);
}

Seen FakeHub::seen() const {
    std::lock_guard<std::mutex> lock(impl_->mu);
    return impl_->seen;
}

}  // namespace sobre::testing
