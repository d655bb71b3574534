// Internals of Server shared by its files (server.cc: setup; routes.cc: handlers; stream.cc: SSE).
#pragma once

#include <httplib.h>

#include <atomic>
#include <ctime>
#include <memory>
#include <string>

#include "core/error.h"
#include "model/model.h"
#include "runtime/scheduler.h"
#include "server/audit.h"
#include "server/auth.h"
#include "server/chat_prompt.h"
#include "server/job.h"
#include "server/metrics.h"
#include "server/openai.h"
#include "server/server.h"
#include "server/tool_choice.h"
#include "tokenizer/tokenizer.h"

namespace sobre::server {

struct Server::Impl {
    ServerOptions opt;
    std::unique_ptr<model::Model> model;
    std::unique_ptr<tokenizer::Tokenizer> tok;
    std::unique_ptr<ChatPrompt> chat;
    TokenTable tokens;  // every token's text, for constrained decoding
    std::unique_ptr<runtime::Scheduler> sched;
    ApiKeys keys;
    std::unique_ptr<AuditLog> audit;
    Metrics metrics;
    std::string model_id;
    std::string model_sha256;
    int64_t created = std::time(nullptr);
    httplib::Server http;
    std::atomic<uint64_t> next_id{1};
    bool bound = false;  // bind_any_port() already bound the listening socket

    explicit Impl(const ServerOptions& o);
    void routes();
    bool authorize(const httplib::Request& req, httplib::Response& res, std::string& key_id);
    void completion(const httplib::Request& req, httplib::Response& res, bool chat);
    // What a reply needs to know about its request.
    struct ReplyContext {
        std::string id;  // chatcmpl-N / cmpl-N
        std::string endpoint;
        std::string key_id;
        std::string prompt_text;
        bool is_chat = false;
        bool tools = false;         // tools were offered: parse tool calls (and buffer streams)
        bool think_opened = false;  // the prompt opened <think>
        ToolChoice choice;
    };
    // The reply as content / reasoning / tool calls (a forced call is read from its JSON).
    ParsedReply parse_reply(const std::string& text, const ReplyContext& rc) const;
    void respond_whole(httplib::Response& res, Job& job, const GenParams& p, const ReplyContext& rc);
    void stream(httplib::Response& res, std::shared_ptr<Job> job, const GenParams& p, const ReplyContext& rc);
    void respond_error(httplib::Response& res, const Error& e);
    void record(const std::string& key_id, const std::string& endpoint, const std::string& prompt_text,
                const std::string& completion_text, const JobResult& r, const char* finish);
};

}  // namespace sobre::server
