#include "server/server.h"

#include "server/server_impl.h"

#include <httplib.h>

#include <cstdio>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <optional>
#include <thread>

#include "core/clock.h"
#include "core/error.h"
#include "model/model.h"
#include "registry/allowlist.h"
#include "registry/sha256.h"
#include "runtime/scheduler.h"
#include "server/openai.h"
#include "server/web_page.h"
#include "tokenizer/tokenizer.h"

namespace sobre::server {

namespace {

int status_of(const Error& e) {
    switch (e.kind()) {
        case ErrorKind::kInvalidArgument: return 400;
        case ErrorKind::kNotFound: return 404;
        case ErrorKind::kUnsupported: return 400;
        case ErrorKind::kResourceExhausted: return 503;
        case ErrorKind::kCorrupt:
        case ErrorKind::kIo: return 500;
    }
    return 500;
}

void send_json(httplib::Response& res, int status, const json& body) {
    res.status = status;
    res.set_content(body.dump(), "application/json");
}

}  // namespace

Server::Impl::Impl(const ServerOptions& o) : opt(o) {
    for (const std::string& k : o.api_keys) keys.add_key(k);
    if (!o.api_keys_file.empty()) keys.add_file(o.api_keys_file);
    // The hash comes first: a model the allow-list does not name is never loaded.
    std::optional<registry::AllowList> allowed;
    if (!o.allowed_models.empty()) allowed = registry::AllowList::load(o.allowed_models);
    model_sha256 = registry::sha256_file_hex(o.model_path);
    if (allowed && !allowed->allows(model_sha256)) {
        fail(ErrorKind::kInvalidArgument, "{}: sha256 {} is not in the allowed list {}; only approved weights run",
             o.model_path, model_sha256, o.allowed_models);
    }
    model = model::load_model(o.model_path);
    tok = tokenizer::Tokenizer::from_gguf(model->file());
    chat = std::make_unique<ChatPrompt>(model->file(), *tok);
    tokens = TokenTable::from(*tok);
    model_id = o.model_alias.empty() ? std::filesystem::path(o.model_path).filename().string() : o.model_alias;
    if (!o.audit_log.empty()) audit = std::make_unique<AuditLog>(o.audit_log);
    const int threads = o.threads > 0 ? o.threads : std::max(1u, std::thread::hardware_concurrency());
    const int64_t ctx = std::min<int64_t>(o.ctx, model->info().n_ctx_train);
    sched = std::make_unique<runtime::Scheduler>(
        *model, runtime::SchedulerOptions{.n_seq = o.parallel, .n_ctx = ctx, .kv_blocks = o.kv_blocks, .block_size = 16,
                                          .prefill_chunk = 256, .max_queue = o.max_queue,
                                          .state_checkpoints = o.state_checkpoints, .threads = threads});
    http.new_task_queue = [] { return new httplib::ThreadPool(64); };
    http.set_payload_max_length(o.max_body_bytes);
    routes();
}

bool Server::Impl::authorize(const httplib::Request& req, httplib::Response& res, std::string& key_id) {
    if (!keys.enabled()) {
        key_id = "none";
        return true;
    }
    const auto id = keys.check(req.get_header_value("Authorization"));
    if (!id) {
        send_json(res, 401, error_body("Incorrect or missing API key. Send 'Authorization: Bearer <key>'.",
                                       "invalid_request_error", "invalid_api_key"));
        return false;
    }
    key_id = *id;
    return true;
}

void Server::Impl::respond_error(httplib::Response& res, const Error& e) {
    metrics.requests_failed++;
    const int status = status_of(e);
    if (status == 503) res.set_header("Retry-After", "1");
    send_json(res, status, error_body(e.what(), status >= 500 ? "server_error" : "invalid_request_error"));
}

void Server::Impl::record(const std::string& key_id, const std::string& endpoint, const std::string& prompt_text,
                          const std::string& completion_text, const JobResult& r, const char* finish) {
    metrics.prompt_tokens += r.prompt_tokens;
    metrics.completion_tokens += r.completion_tokens;
    metrics.generation_ns += std::chrono::duration_cast<std::chrono::nanoseconds>(r.latency).count();
    if (!audit) return;
    json line = {{"time", utc_timestamp()},
                 {"key_id", key_id},
                 {"model_sha256", model_sha256},
                 {"endpoint", endpoint},
                 {"prompt_tokens", r.prompt_tokens},
                 {"completion_tokens", r.completion_tokens},
                 {"finish_reason", finish},
                 {"latency_ms", std::chrono::duration_cast<std::chrono::milliseconds>(r.latency).count()}};
    if (opt.audit_content) {
        line["prompt"] = prompt_text;
        line["completion"] = completion_text;
    }
    audit->append(std::move(line));
}

}  // namespace sobre::server

namespace sobre::server {

Server::Server(const ServerOptions& options) : impl_(std::make_unique<Impl>(options)) {}
Server::~Server() = default;

int Server::bind_any_port() {
    const int port = impl_->http.bind_to_any_port(impl_->opt.host);
    if (port < 0) fail(ErrorKind::kIo, "cannot bind {}", impl_->opt.host);
    impl_->opt.port = port;
    impl_->bound = true;
    return port;
}

void Server::run() {
    if (!impl_->http.is_valid()) fail(ErrorKind::kIo, "the HTTP server could not be set up");
    if (!impl_->bound) {
        if (!impl_->http.bind_to_port(impl_->opt.host, impl_->opt.port)) {
            fail(ErrorKind::kIo, "cannot listen on {}:{} (in use, or not an address of this machine)", impl_->opt.host,
                 impl_->opt.port);
        }
    }
    std::fprintf(stderr, "sobre: serving %s (sha256 %s) on http://%s:%d\n", impl_->model_id.c_str(),
                 impl_->model_sha256.c_str(), impl_->opt.host.c_str(), impl_->opt.port);
    impl_->http.listen_after_bind();
}

void Server::stop() { impl_->http.stop(); }

}  // namespace sobre::server
