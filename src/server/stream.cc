// Server-sent events for stream: true — one chunk per piece of text, a final chunk with the
// finish reason, an optional usage chunk, then "data: [DONE]". A client that goes away cancels
// its generation.
#include <chrono>
#include <algorithm>
#include <ctime>

#include "server/server_impl.h"

namespace sobre::server {

using namespace std::chrono_literals;

namespace {

std::string event(const json& j) { return "data: " + j.dump() + "\n\n"; }

}  // namespace

void Server::Impl::stream(httplib::Response& res, std::shared_ptr<Job> job, const GenParams& p, const ReplyContext& rc) {
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider("text/event-stream", [=, this](size_t, httplib::DataSink& sink) {
        const bool is_chat = rc.is_chat;
        const std::string& id = rc.id;
        const std::time_t chunk_time = std::time(nullptr);
        auto chunk = [&](json choice_delta, const json& finish, const json& logprobs) {
            json choice = {{"index", 0}, {"finish_reason", finish}, {"logprobs", logprobs}};
            if (is_chat) {
                choice["delta"] = std::move(choice_delta);
            } else {
                choice["text"] = choice_delta.value("content", "");
            }
            return json{{"id", id}, {"object", is_chat ? "chat.completion.chunk" : "text_completion"}, {"created", chunk_time},
                        {"model", model_id}, {"choices", json::array({choice})}};
        };
        auto send = [&](const std::string& data) { return sink.write(data.data(), data.size()); };
        if (is_chat && !send(event(chunk({{"role", "assistant"}, {"content", ""}}, nullptr, nullptr)))) {
            job->cancel();
            return false;
        }
        // With tools on offer the reply may be a tool call: it is parsed whole and sent at the end.
        // Otherwise reasoning and content are sent as they grow, split exactly as the whole reply
        // would be, so the concatenated deltas equal the non-streamed answer.
        const bool buffer = rc.tools;
        std::string text;
        size_t sent_reasoning = 0, sent_content = 0;
        auto deltas = [&](const std::string& reasoning, const std::string& content) {
            json d = json::object();
            if (reasoning.size() > sent_reasoning) d["reasoning_content"] = reasoning.substr(sent_reasoning);
            if (content.size() > sent_content) d["content"] = content.substr(sent_content);
            sent_reasoning = std::max(sent_reasoning, reasoning.size());
            sent_content = std::max(sent_content, content.size());
            return d;
        };
        JobPiece piece;
        for (;;) {
            if (job->next(piece, 100ms)) {
                text += piece.text;
                if (buffer) continue;
                const json lp = piece.logprobs.is_null() ? json() : json{{"content", json::array({piece.logprobs})}};
                json d = json{{"content", piece.text}};
                if (is_chat) {
                    const auto [reasoning, content] = ChatPrompt::split_partial(text, rc.think_opened);
                    d = deltas(reasoning, content);
                }
                if ((!d.empty() || !lp.is_null()) && !send(event(chunk(d, nullptr, lp)))) {
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
        if (is_chat) {
            const ParsedReply reply = parse_reply(text, rc);
            json delta = deltas(reply.reasoning, reply.content);
            if (!reply.tool_calls.empty()) {
                json calls = reply.tool_calls;
                for (size_t i = 0; i < calls.size(); ++i) calls[i]["index"] = i;
                delta["tool_calls"] = calls;
                finish = "tool_calls";
            }
            if (!delta.empty()) send(event(chunk(delta, nullptr, nullptr)));
        }
        send(event(chunk(json::object(), finish, nullptr)));
        if (p.include_usage) {
            send(event({{"id", id}, {"object", is_chat ? "chat.completion.chunk" : "text_completion"}, {"created", chunk_time},
                        {"model", model_id}, {"choices", json::array()},
                        {"usage", {{"prompt_tokens", r.prompt_tokens}, {"completion_tokens", r.completion_tokens},
                                   {"total_tokens", r.prompt_tokens + r.completion_tokens},
                                   {"prompt_tokens_details", {{"cached_tokens", r.cached_tokens}}}}}}));
        }
        try {
            record(rc.key_id, rc.endpoint, rc.prompt_text, text, r, finish.c_str());
        } catch (const Error&) {
            metrics.requests_failed++;  // the client already has the text; the operator sees the log error
        }
        send("data: [DONE]\n\n");
        sink.done();
        return true;
    });
}

}  // namespace sobre::server
