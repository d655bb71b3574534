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

// The automaton of one schema.
class SchemaMachine {
   public:
    // `schema` null: any JSON object (json_object mode). Throws Error(kInvalidArgument).
    explicit SchemaMachine(const nlohmann::json* schema);
    SchemaMachine(const SchemaMachine&);
    SchemaMachine& operator=(const SchemaMachine&);
    ~SchemaMachine();

    // Consumes one byte; false (and the machine unchanged in meaning) when the byte cannot
    // continue any matching document.
    bool feed(unsigned char c);
    // A whole document has been read.
    bool complete() const;
    // Inside a string value, past any escape: every byte but '"', '\\' and controls continues.
    bool in_free_string() const;

   private:
    struct Frame;
    std::shared_ptr<const SchemaNode> root_;
    std::vector<Frame> stack_;
    bool done_ = false;
};

// A document matching any of several schemas (tool_choice "required" allows one call shape per
// tool): their automata run side by side and an alternative that rejects a byte drops out.
class JsonMachine {
   public:
    // `schema` null: any JSON object. Throws Error(kInvalidArgument).
    explicit JsonMachine(const nlohmann::json* schema);
    // At least one schema. Throws Error(kInvalidArgument).
    explicit JsonMachine(const std::vector<nlohmann::json>& any_of);

    bool feed(unsigned char c);  // false (machine unchanged) when no alternative takes the byte
    bool feed(const std::string& s);
    bool complete() const;  // some alternative has read a whole document
    bool in_free_string() const;  // every alternative is (see SchemaMachine)

   private:
    std::vector<SchemaMachine> alternatives_;
};

// The vocabulary as constrained decoding sees it, prepared once per server.
struct ConstraintVocab {
    ConstraintVocab() = default;
    // pieces[i] is token i's text; `eog` marks end-of-generation tokens.
    ConstraintVocab(std::vector<std::string> pieces, std::vector<bool> eog);

    std::vector<std::string> pieces;
    std::vector<bool> eog;
    std::vector<bool> free_text;  // no '"', '\\' or control byte: fits any free string as is
};

// Masks the logits of tokens that would break the document (end-of-generation tokens are allowed
// only once it is complete). Most tokens are settled without running the automaton: by their
// first byte, or as free text inside a string.
void mask_logits(const JsonMachine& m, const ConstraintVocab& vocab, float* logits, int64_t n_vocab);

}  // namespace sobre::server
