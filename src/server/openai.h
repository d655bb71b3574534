// OpenAI request parsing and response shapes (chat.completion, text_completion, SSE chunks,
// error objects). Validation errors throw Error(kInvalidArgument) naming the field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/sampler.h"
#include "tokenizer/tokenizer.h"

namespace sobre::server {

using nlohmann::json;

// The generation settings shared by /v1/chat/completions and /v1/completions.
struct GenParams {
    int64_t max_tokens = -1;  // -1: until the context is full
    runtime::SamplerOptions sampling;
    bool seed_given = false;
    std::vector<std::string> stop;
    float presence_penalty = 0;
    float frequency_penalty = 0;
    bool logprobs = false;
    int top_logprobs = 0;
    bool stream = false;
    bool include_usage = false;
    std::string model;  // as sent ("" if absent)
    // response_format json_object / json_schema, or a forced tool call: the reply is constrained
    // while decoding to JSON matching any of `schemas` (none: any JSON object).
    bool json_mode = false;
    std::vector<json> schemas;
};

// Reads and checks the shared fields of a request body. `chat` selects the chat field names
// (max_completion_tokens, logprobs as bool + top_logprobs) over the legacy ones (logprobs as int).
GenParams parse_gen_params(const json& body, bool chat);

// {"error": {"message", "type", "param", "code"}} as OpenAI sends it.
json error_body(const std::string& message, const std::string& type, const std::string& code = "");

// One entry of a logprobs "content" array for `token` drawn from raw logits, with the top_n
// most likely alternatives.
json token_logprobs(const tokenizer::Tokenizer& tok, int32_t token, const float* logits, int64_t n_vocab, int top_n);

std::string finish_reason_name(int reason);  // runtime::FinishReason as the API spells it

}  // namespace sobre::server
