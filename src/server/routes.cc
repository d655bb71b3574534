// The HTTP routes of `sobre serve`: /v1/chat/completions, /v1/completions, /v1/models,
// /health, /metrics and the chat page at /.
#include <httplib.h>

#include <chrono>
#include <ctime>

#include "core/error.h"
#include "server/chat_prompt.h"
#include "server/job.h"
#include "server/server_impl.h"
#include "server/web_page.h"

namespace sobre::server {
namespace {

using namespace std::chrono_literals;

json usage_json(const JobResult& r) {
    return {{"prompt_tokens", r.prompt_tokens},
            {"completion_tokens", r.completion_tokens},
            {"total_tokens", r.prompt_tokens + r.completion_tokens},
            {"prompt_tokens_details", {{"cached_tokens", r.cached_tokens}}}};
}

// The legacy /v1/completions logprobs shape from chat-style entries.
json legacy_logprobs(const json& entries) {
    json out = {{"tokens", json::array()}, {"token_logprobs", json::array()}, {"top_logprobs", json::array()},
                {"text_offset", json::array()}};
    size_t offset = 0;
    for (const json& e : entries) {
        out["tokens"].push_back(e["token"]);
        out["token_logprobs"].push_back(e["logprob"]);
        json top = json::object();
        for (const json& t : e["top_logprobs"]) top[t["token"].get<std::string>()] = t["logprob"];
        out["top_logprobs"].push_back(top);
        out["text_offset"].push_back(offset);
        offset += e["token"].get<std::string>().size();
    }
    return out;
}

std::vector<int32_t> prompt_ids(const json& body, const tokenizer::Tokenizer& tok) {
    const auto it = body.find("prompt");
    if (it == body.end() || it->is_null()) fail(ErrorKind::kInvalidArgument, "'prompt' is required");
    if (it->is_string()) return tok.encode(it->get<std::string>(), true, false);
    if (it->is_array() && !it->empty() && std::all_of(it->begin(), it->end(), [](const json& x) { return x.is_number_integer(); })) {
        std::vector<int32_t> ids;
        for (const json& x : *it) {
            const int64_t id = x.get<int64_t>();
            if (id < 0 || id >= tok.n_tokens()) fail(ErrorKind::kInvalidArgument, "'prompt' token id {} is out of range", id);
            ids.push_back(static_cast<int32_t>(id));
        }
        return ids;
    }
    fail(ErrorKind::kInvalidArgument, "'prompt' must be a string or an array of token ids");
}

}  // namespace

void Server::Impl::routes() {
    http.Get("/health", [](const httplib::Request&, httplib::Response& res) {
        res.set_content(R"({"status":"ok"})", "application/json");
    });
    http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
        res.set_content(metrics.render(sched->stats()), "text/plain; version=0.0.4");
    });
    http.Get("/", [](const httplib::Request&, httplib::Response& res) { res.set_content(web_page(), "text/html; charset=utf-8"); });
    http.Get("/v1/models", [this](const httplib::Request& req, httplib::Response& res) {
        std::string key_id;
        if (!authorize(req, res, key_id)) return;
        const json entry = {{"id", model_id}, {"object", "model"}, {"created", created}, {"owned_by", "sobre"},
                            {"meta", {{"sha256", model_sha256}, {"architecture", model->info().arch}}}};
        res.set_content(json{{"object", "list"}, {"data", json::array({entry})}}.dump(), "application/json");
    });
    http.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) { completion(req, res, true); });
    http.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) { completion(req, res, false); });
    http.set_error_handler([](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty()) return;
        const std::string msg = res.status == 413 ? "the request body is too large" : res.status == 404 ? "no such route" : "request failed";
        res.set_content(error_body(msg, "invalid_request_error").dump(), "application/json");
    });
}

void Server::Impl::completion(const httplib::Request& req, httplib::Response& res, bool is_chat) {
    metrics.requests++;
    std::string key_id;
    if (!authorize(req, res, key_id)) {
        metrics.requests_failed++;
        return;
    }
    const json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded()) {
        respond_error(res, Error(ErrorKind::kInvalidArgument, "the request body is not valid JSON"));
        return;
    }
    try {
        GenParams p = parse_gen_params(body, is_chat);
        if (!p.model.empty() && p.model != model_id) {
            metrics.requests_failed++;
            res.status = 404;
            res.set_content(error_body("The model '" + p.model + "' does not exist; this server serves '" + model_id + "'",
                                       "invalid_request_error", "model_not_found").dump(), "application/json");
            return;
        }
        ReplyContext rc;
        rc.is_chat = is_chat;
        rc.tools = is_chat && body.contains("tools") && body["tools"].is_array() && !body["tools"].empty();
        if (is_chat) rc.choice = parse_tool_choice(body);
        if (rc.choice.mode == ToolChoice::kNone) rc.tools = false;  // tools stay out of the prompt; no call is parsed
        if (rc.choice.forced()) {
            if (p.json_mode) fail(ErrorKind::kInvalidArgument, "'response_format' cannot be combined with a forced 'tool_choice'");
            p.json_mode = true;
            p.schemas = forced_call_schemas(body["tools"], rc.choice);
        }
        rc.key_id = key_id;
        rc.endpoint = is_chat ? "/v1/chat/completions" : "/v1/completions";
        std::string& prompt_text = rc.prompt_text;
        std::vector<int32_t> ids;
        if (is_chat) {
            const ChatPrompt::Rendered rendered = chat->render(req.body, rc.tools);
            prompt_text = rendered.text;
            rc.think_opened = rendered.think_opened;
            ids = tok->encode(prompt_text, false, true);
            if (tok->add_bos() && (ids.empty() || ids.front() != tok->bos())) ids.insert(ids.begin(), tok->bos());
        } else {
            ids = prompt_ids(body, *tok);
            if (body["prompt"].is_string()) prompt_text = body["prompt"].get<std::string>();
        }
        const int64_t ctx = sched->options().n_ctx;
        if (static_cast<int64_t>(ids.size()) >= ctx) {
            fail(ErrorKind::kInvalidArgument, "the prompt has {} tokens, more than the context of {} allows", ids.size(), ctx);
        }
        auto job = std::make_shared<Job>(*sched, *tok, tokens, p, ids, ctx);
        rc.id = (is_chat ? "chatcmpl-" : "cmpl-") + std::to_string(next_id++);
        if (p.stream) {
            stream(res, job, p, rc);
        } else {
            respond_whole(res, *job, p, rc);
        }
    } catch (const Error& e) {
        respond_error(res, e);
    }
}

ParsedReply Server::Impl::parse_reply(const std::string& text, const ReplyContext& rc) const {
    if (!rc.choice.forced()) return chat->parse(text, rc.tools, rc.think_opened);
    ParsedReply reply;
    reply.tool_calls = forced_tool_calls(text, rc.choice);
    if (reply.tool_calls.empty()) reply.content = text;  // cut short: the client sees what came
    return reply;
}

void Server::Impl::respond_whole(httplib::Response& res, Job& job, const GenParams& p, const ReplyContext& rc) {
    const bool is_chat = rc.is_chat;
    std::string text;
    json logprobs = json::array();
    JobPiece piece;
    while (!job.finished()) {
        while (job.next(piece, 100ms)) {
            text += piece.text;
            if (!piece.logprobs.is_null()) logprobs.push_back(piece.logprobs);
        }
    }
    const JobResult r = job.result();
    if (r.reason == runtime::FinishReason::kError) fail(ErrorKind::kIo, "generation failed");
    std::string finish = finish_reason_name(static_cast<int>(r.reason));
    json choice = {{"index", 0}, {"logprobs", nullptr}};
    if (is_chat) {
        const ParsedReply reply = parse_reply(text, rc);
        json message = {{"role", "assistant"}, {"content", reply.content}};
        if (!reply.reasoning.empty()) message["reasoning_content"] = reply.reasoning;
        if (!reply.tool_calls.empty()) {
            message["tool_calls"] = reply.tool_calls;
            if (reply.content.empty()) message["content"] = nullptr;
            finish = "tool_calls";
        }
        choice["message"] = message;
        if (p.logprobs) choice["logprobs"] = {{"content", logprobs}};
    } else {
        choice["text"] = text;
        if (p.logprobs) choice["logprobs"] = legacy_logprobs(logprobs);
    }
    choice["finish_reason"] = finish;
    record(rc.key_id, rc.endpoint, rc.prompt_text, text, r, finish.c_str());
    const json out = {{"id", rc.id}, {"object", is_chat ? "chat.completion" : "text_completion"}, {"created", std::time(nullptr)},
                      {"model", model_id}, {"choices", json::array({choice})}, {"usage", usage_json(r)}};
    res.set_content(out.dump(), "application/json");
}

}  // namespace sobre::server
