// Constrained decoding for response_format json_object / json_schema: a pushdown automaton that
// accepts exactly the prefixes of compact JSON documents matching a schema, used to mask every
// token whose text would leave that language. Not a post-check: invalid output cannot be drawn.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace sobre::server {

// The schema subset we enforce: type (object, array, string, number, integer, boolean, null, or
// a list of them), properties, required, additionalProperties, items, enum, const. Unsupported
// keywords are rejected with Error(kInvalidArgument) naming them, never silently ignored.
struct SchemaNode;

class JsonMachine {
   public:
    // `schema` null: any JSON object (json_object mode). Throws Error(kInvalidArgument).
    explicit JsonMachine(const nlohmann::json* schema);
    JsonMachine(const JsonMachine&);
    JsonMachine& operator=(const JsonMachine&);
    ~JsonMachine();

    // Consumes one byte; false (and the machine unchanged in meaning) when the byte cannot
    // continue any matching document.
    bool feed(unsigned char c);
    bool feed(const std::string& s);
    // A whole document has been read.
    bool complete() const;

   private:
    struct Frame;
    std::shared_ptr<const SchemaNode> root_;
    std::vector<Frame> stack_;
    bool done_ = false;
};

// Masks the logits of tokens that would break the document (pieces[i] is token i's text; `eog`
// marks end-of-generation tokens, allowed only once the document is complete).
void mask_logits(const JsonMachine& m, const std::vector<std::string>& pieces, const std::vector<bool>& eog,
                 float* logits, int64_t n_vocab);

}  // namespace sobre::server
