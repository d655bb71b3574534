#include "server/chat_prompt.h"

#include "chat/reply_parser.h"
#include "chat/template.h"
#include "core/error.h"

namespace sobre::server {

using nlohmann::ordered_json;

struct ChatPrompt::Impl {
    std::optional<chat::Template> tmpl;
    ordered_json bos, eos;  // token texts, or null when the vocabulary has none
    chat::ReplyFormat format = chat::ReplyFormat::kPlain;
};

ChatPrompt::ChatPrompt(const gguf::File& file, const tokenizer::Tokenizer& tok) : impl_(std::make_unique<Impl>()) {
    const auto src = file.get_string("tokenizer.chat_template");
    if (src) {
        impl_->tmpl.emplace(*src);
        impl_->format = chat::detect_reply_format(*src);
    }
    if (tok.bos() >= 0) impl_->bos = tok.token_text(tok.bos());
    if (tok.eos() >= 0) impl_->eos = tok.token_text(tok.eos());
}

ChatPrompt::~ChatPrompt() = default;

namespace {

// OpenAI content may be an array of parts; templates expect text.
void flatten_content(ordered_json& m, size_t i) {
    auto it = m.find("content");
    if (it == m.end() || it->is_null() || it->is_string()) return;
    if (!it->is_array()) fail(ErrorKind::kInvalidArgument, "'messages[{}].content' must be a string or an array of parts", i);
    std::string text;
    for (const ordered_json& part : *it) {
        if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") || !part["text"].is_string()) {
            fail(ErrorKind::kInvalidArgument, "'messages[{}].content' parts must be {{\"type\": \"text\", \"text\": ...}}", i);
        }
        text += part["text"].get<std::string>();
    }
    *it = text;
}

// Templates print tool-call arguments as objects (`| tojson`, `.items()`); OpenAI sends them
// as JSON strings. Arguments that parse become objects, as llama.cpp passes them.
void parse_arguments(ordered_json& m) {
    auto calls = m.find("tool_calls");
    if (calls == m.end() || !calls->is_array()) return;
    for (ordered_json& c : *calls) {
        if (!c.is_object() || !c.contains("function") || !c["function"].is_object()) continue;
        ordered_json& f = c["function"];
        if (f.contains("arguments") && f["arguments"].is_string()) {
            ordered_json parsed = ordered_json::parse(f["arguments"].get<std::string>(), nullptr, false);
            if (!parsed.is_discarded()) f["arguments"] = parsed;
        }
    }
}

ordered_json checked_messages(const ordered_json& body) {
    const auto it = body.find("messages");
    if (it == body.end() || !it->is_array() || it->empty()) {
        fail(ErrorKind::kInvalidArgument, "'messages' must be a non-empty array of messages");
    }
    ordered_json messages = *it;
    for (size_t i = 0; i < messages.size(); ++i) {
        ordered_json& m = messages[i];
        if (!m.is_object() || !m.contains("role") || !m["role"].is_string()) {
            fail(ErrorKind::kInvalidArgument, "'messages[{}]' must be an object with a string 'role'", i);
        }
        flatten_content(m, i);
        parse_arguments(m);
    }
    return messages;
}

}  // namespace

ChatPrompt::Rendered ChatPrompt::render(const std::string& raw_body, bool with_tools) const {
    if (!impl_->tmpl) {
        fail(ErrorKind::kUnsupported, "this model has no chat template (tokenizer.chat_template); use /v1/completions");
    }
    const ordered_json body = ordered_json::parse(raw_body, nullptr, false);
    ordered_json ctx = ordered_json::object();
    ctx["messages"] = checked_messages(body);
    if (with_tools && body.contains("tools") && !body["tools"].is_null()) {
        if (!body["tools"].is_array()) fail(ErrorKind::kInvalidArgument, "'tools' must be an array");
        if (!body["tools"].empty()) ctx["tools"] = body["tools"];
    }
    ctx["add_generation_prompt"] = true;
    if (!impl_->bos.is_null()) ctx["bos_token"] = impl_->bos;
    if (!impl_->eos.is_null()) ctx["eos_token"] = impl_->eos;
    if (body.contains("chat_template_kwargs")) {
        if (!body["chat_template_kwargs"].is_object()) fail(ErrorKind::kInvalidArgument, "'chat_template_kwargs' must be an object");
        for (const auto& [k, v] : body["chat_template_kwargs"].items()) ctx[k] = v;
    }
    Rendered r;
    try {
        r.text = impl_->tmpl->render(ctx);
    } catch (const Error& e) {
        fail(ErrorKind::kInvalidArgument, "the chat template rejected the messages: {}", e.what());
    }
    const std::string tail = r.text.substr(r.text.size() - std::min<size_t>(r.text.size(), 12));
    r.think_opened = tail.find("<think>") != std::string::npos && tail.find("</think>") == std::string::npos;
    return r;
}

ParsedReply ChatPrompt::parse(const std::string& text, bool tools_offered, bool think_opened) const {
    chat::Reply r = chat::parse_reply(impl_->format, text, tools_offered, think_opened);
    return {std::move(r.content), std::move(r.reasoning), std::move(r.tool_calls)};
}

std::pair<std::string, std::string> ChatPrompt::split_partial(const std::string& text, bool think_opened) {
    chat::ThinkSplit s = chat::split_thinking(text, think_opened, false);
    return {std::move(s.reasoning), std::move(s.content)};
}

}  // namespace sobre::server
