// Server-sent events for stream: true — one chunk per piece of text, a final chunk with the
// finish reason, an optional usage chunk, then "data: [DONE]". A client that goes away cancels
// its generation.
#include <chrono>
#include <ctime>

#include "server/server_impl.h"

namespace sobre::server {

using namespace std::chrono_literals;

namespace {

std::string event(const json& j) { return "data: " + j.dump() + "\n\n"; }

}  // namespace

void Server::Impl::stream(httplib::Response& res, std::shared_ptr<Job> job, const GenParams& p, const std::string& id,
                          const std::string& endpoint, const std::string& key_id, const std::string& prompt_text,
                          bool is_chat, bool tools) {
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider("text/event-stream", [=, this](size_t, httplib::DataSink& sink) {
        const std::time_t created = std::time(nullptr);
        auto chunk = [&](json choice_delta, const json& finish, const json& logprobs) {
            json choice = {{"index", 0}, {"finish_reason", finish}, {"logprobs", logprobs}};
            if (is_chat) {
                choice["delta"] = std::move(choice_delta);
            } else {
                choice["text"] = choice_delta.value("content", "");
            }
            return json{{"id", id}, {"object", is_chat ? "chat.completion.chunk" : "text_completion"}, {"created", created},
                        {"model", model_id}, {"choices", json::array({choice})}};
        };
        auto send = [&](const std::string& data) { return sink.write(data.data(), data.size()); };
        if (is_chat && !send(event(chunk({{"role", "assistant"}, {"content", ""}}, nullptr, nullptr)))) {
            job->cancel();
            return false;
        }
        // With tools on offer the reply may be a tool call: it is parsed whole and sent at the end.
        const bool buffer = tools;
        std::string text;
        JobPiece piece;
        for (;;) {
            if (job->next(piece, 100ms)) {
                text += piece.text;
                if (buffer) continue;
                const json lp = piece.logprobs.is_null() ? json() : json{{"content", json::array({piece.logprobs})}};
                if (!send(event(chunk({{"content", piece.text}}, nullptr, lp)))) {
                    job->cancel();
                    return false;
                }
                continue;
            }
            if (job->finished()) break;
            if (!sink.is_writable()) {
                job->cancel();
                return false;
            }
        }
        const JobResult r = job->result();
        std::string finish = finish_reason_name(static_cast<int>(r.reason));
        if (buffer) {
            const ParsedReply reply = chat->parse(text, true);
            json delta = {{"content", reply.content}};
            if (!reply.reasoning.empty()) delta["reasoning_content"] = reply.reasoning;
            if (!reply.tool_calls.empty()) {
                json calls = reply.tool_calls;
                for (size_t i = 0; i < calls.size(); ++i) calls[i]["index"] = i;
                delta["tool_calls"] = calls;
                finish = "tool_calls";
            }
            send(event(chunk(delta, nullptr, nullptr)));
        }
        send(event(chunk(json::object(), finish, nullptr)));
        if (p.include_usage) {
            send(event({{"id", id}, {"object", is_chat ? "chat.completion.chunk" : "text_completion"}, {"created", created},
                        {"model", model_id}, {"choices", json::array()},
                        {"usage", {{"prompt_tokens", r.prompt_tokens}, {"completion_tokens", r.completion_tokens},
                                   {"total_tokens", r.prompt_tokens + r.completion_tokens},
                                   {"prompt_tokens_details", {{"cached_tokens", r.cached_tokens}}}}}}));
        }
        try {
            record(key_id, endpoint, prompt_text, text, r, finish.c_str());
        } catch (const Error&) {
            metrics.requests_failed++;  // the client already has the text; the operator sees the log error
        }
        send("data: [DONE]\n\n");
        sink.done();
        return true;
    });
}

}  // namespace sobre::server
