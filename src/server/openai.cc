#include "server/openai.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "core/error.h"
#include "runtime/scheduler.h"
#include "server/text_stream.h"

namespace sobre::server {
namespace {

const json* field(const json& body, const char* name) {
    const auto it = body.find(name);
    return it == body.end() || it->is_null() ? nullptr : &*it;
}

double number(const json& body, const char* name, double fallback, double lo, double hi) {
    const json* v = field(body, name);
    if (!v) return fallback;
    if (!v->is_number()) fail(ErrorKind::kInvalidArgument, "'{}' must be a number", name);
    const double x = v->get<double>();
    if (!(x >= lo && x <= hi)) fail(ErrorKind::kInvalidArgument, "'{}' = {} is out of range [{}, {}]", name, x, lo, hi);
    return x;
}

int64_t integer(const json& body, const char* name, int64_t fallback, int64_t lo, int64_t hi) {
    const json* v = field(body, name);
    if (!v) return fallback;
    if (!v->is_number_integer()) fail(ErrorKind::kInvalidArgument, "'{}' must be an integer", name);
    const int64_t x = v->get<int64_t>();
    if (x < lo || x > hi) fail(ErrorKind::kInvalidArgument, "'{}' = {} is out of range [{}, {}]", name, x, lo, hi);
    return x;
}

bool boolean(const json& body, const char* name, bool fallback) {
    const json* v = field(body, name);
    if (!v) return fallback;
    if (!v->is_boolean()) fail(ErrorKind::kInvalidArgument, "'{}' must be true or false", name);
    return v->get<bool>();
}

std::vector<std::string> stop_strings(const json& body) {
    const json* v = field(body, "stop");
    if (!v) return {};
    if (v->is_string()) return {v->get<std::string>()};
    if (!v->is_array() || v->size() > 16) fail(ErrorKind::kInvalidArgument, "'stop' must be a string or up to 16 strings");
    std::vector<std::string> out;
    for (const json& s : *v) {
        if (!s.is_string()) fail(ErrorKind::kInvalidArgument, "'stop' must hold only strings");
        out.push_back(s.get<std::string>());
    }
    return out;
}

}  // namespace

GenParams parse_gen_params(const json& body, bool chat) {
    if (!body.is_object()) fail(ErrorKind::kInvalidArgument, "the request body must be a JSON object");
    GenParams p;
    if (const json* m = field(body, "model")) {
        if (!m->is_string()) fail(ErrorKind::kInvalidArgument, "'model' must be a string");
        p.model = m->get<std::string>();
    }
    const int64_t kMax = int64_t{1} << 30;
    p.max_tokens = integer(body, "max_tokens", -1, 1, kMax);
    if (chat) p.max_tokens = integer(body, "max_completion_tokens", p.max_tokens, 1, kMax);
    p.sampling.temperature = static_cast<float>(number(body, "temperature", 1.0, 0.0, 2.0));
    p.sampling.top_p = static_cast<float>(number(body, "top_p", 1.0, 0.0, 1.0));
    p.sampling.min_p = static_cast<float>(number(body, "min_p", 0.0, 0.0, 1.0));
    p.sampling.top_k = static_cast<int>(integer(body, "top_k", 0, 0, 1 << 20));
    p.seed_given = field(body, "seed") != nullptr;
    p.sampling.seed = p.seed_given ? static_cast<uint64_t>(integer(body, "seed", 0, INT64_MIN, INT64_MAX))
                                   : std::random_device{}();
    p.presence_penalty = static_cast<float>(number(body, "presence_penalty", 0.0, -2.0, 2.0));
    p.frequency_penalty = static_cast<float>(number(body, "frequency_penalty", 0.0, -2.0, 2.0));
    p.stop = stop_strings(body);
    if (chat) {
        p.logprobs = boolean(body, "logprobs", false);
        p.top_logprobs = static_cast<int>(integer(body, "top_logprobs", 0, 0, 20));
        if (p.top_logprobs > 0 && !p.logprobs) fail(ErrorKind::kInvalidArgument, "'top_logprobs' requires 'logprobs': true");
    } else if (field(body, "logprobs")) {
        p.logprobs = true;
        p.top_logprobs = static_cast<int>(integer(body, "logprobs", 0, 0, 5));
    }
    p.stream = boolean(body, "stream", false);
    if (const json* so = field(body, "stream_options")) {
        if (!so->is_object()) fail(ErrorKind::kInvalidArgument, "'stream_options' must be an object");
        p.include_usage = boolean(*so, "include_usage", false);
    }
    if (const json* rf = field(body, "response_format")) {
        const std::string type = rf->is_object() ? rf->value("type", "") : "";
        if (type == "json_object") {
            p.json_mode = true;
        } else if (type == "json_schema") {
            const json* js = field(*rf, "json_schema");
            if (!js || !js->is_object() || !js->contains("schema")) {
                fail(ErrorKind::kInvalidArgument, "'response_format.json_schema.schema' is required");
            }
            p.json_mode = true;
            p.schemas = {(*js)["schema"]};
        } else if (type != "text") {
            fail(ErrorKind::kInvalidArgument, "'response_format.type' must be text, json_object or json_schema");
        }
    }
    if (const json* n = field(body, "n"); n && (!n->is_number_integer() || n->get<int64_t>() != 1)) {
        fail(ErrorKind::kInvalidArgument, "'n' must be 1 (one choice per request)");
    }
    return p;
}

json error_body(const std::string& message, const std::string& type, const std::string& code) {
    return {{"error", {{"message", message}, {"type", type}, {"param", nullptr}, {"code", code.empty() ? json() : json(code)}}}};
}

json token_logprobs(const tokenizer::Tokenizer& tok, int32_t token, const float* logits, int64_t n_vocab, int top_n) {
    float mx = -INFINITY;
    for (int64_t i = 0; i < n_vocab; ++i) mx = std::max(mx, logits[i]);
    double sum = 0;
    for (int64_t i = 0; i < n_vocab; ++i) sum += std::exp(static_cast<double>(logits[i] - mx));
    const double log_z = std::log(sum) + mx;
    auto bytes = [](const std::string& s) {
        json b = json::array();
        for (unsigned char c : s) b.push_back(c);
        return b;
    };
    auto text = [&tok](int32_t id) { return tok.token_to_piece(id, true); };
    auto describe = [&](int32_t id) {
        const std::string piece = text(id);
        return json{{"token", sanitize_utf8(piece)}, {"logprob", logits[id] - log_z}, {"bytes", bytes(piece)}};
    };
    json entry = describe(token);
    json top = json::array();
    if (top_n > 0) {
        std::vector<int32_t> ids(static_cast<size_t>(n_vocab));
        for (int64_t i = 0; i < n_vocab; ++i) ids[i] = static_cast<int32_t>(i);
        std::partial_sort(ids.begin(), ids.begin() + std::min<int64_t>(top_n, n_vocab), ids.end(),
                          [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
        for (int k = 0; k < top_n && k < n_vocab; ++k) top.push_back(describe(ids[k]));
    }
    entry["top_logprobs"] = top;
    return entry;
}

std::string finish_reason_name(int reason) {
    switch (static_cast<runtime::FinishReason>(reason)) {
        case runtime::FinishReason::kStop: return "stop";
        case runtime::FinishReason::kLength: return "length";
        case runtime::FinishReason::kCancelled: return "cancelled";
        case runtime::FinishReason::kError: return "error";
    }
    return "stop";
}

}  // namespace sobre::server
