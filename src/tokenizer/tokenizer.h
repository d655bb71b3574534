// Text <-> token ids for GGUF models: SentencePiece ("llama") and byte-level BPE ("gpt2")
// vocabularies built from tokenizer.ggml.* metadata, plus a streaming detokenizer.
//
// Behaviour follows llama.cpp (src/llama-vocab.cpp), which reproduces the models' Hugging Face
// tokenizers; the expected ids in ../shared/fixtures/vocab come from there.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sobre::gguf {
class File;
}

namespace sobre::tokenizer {

struct Vocab;
class RegexSplitter;

// Immutable after construction; every method may be called from many threads at once.
class Tokenizer {
   public:
    // Builds the tokenizer described by `file`'s tokenizer.ggml.* keys. Throws Error naming the
    // file and key: kNotFound (no tokenizer.ggml.model / tokens / merges), kUnsupported (a model
    // other than llama or gpt2, or an unknown tokenizer.ggml.pre, named in the message),
    // kCorrupt (arrays of the wrong type or length, duplicate tokens, add_bos without a BOS id).
    // The File may be closed afterwards.
    static std::unique_ptr<Tokenizer> from_gguf(const gguf::File& file);
    ~Tokenizer();
    Tokenizer(const Tokenizer&) = delete;
    Tokenizer& operator=(const Tokenizer&) = delete;

    // Token ids of `text`. `add_special`: add BOS / EOS as the metadata asks (add_bos_token,
    // add_eos_token). `parse_special`: text spelling a control token ("<|im_start|>") becomes
    // that token; otherwise it is plain text. User-defined tokens are always matched.
    // Invalid UTF-8 is never rejected: each bad byte becomes its byte token (SPM <0xXX>; BPE the
    // byte's own token where the vocabulary has it as a normal token, else U+FFFD as in
    // llama.cpp). Throws Error(kResourceExhausted) if a split regex runs out of backtracking
    // memory on a hostile input, Error(kUnsupported) if an SPM vocabulary has neither byte
    // tokens nor an unknown token for a character.
    std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;

    // The bytes token `id` stands for: a byte token gives its byte, a normal token its text
    // with the vocabulary's space marker decoded. Control and unknown tokens give their text
    // only when `render_special`, else "". A piece may end inside a UTF-8 sequence (use
    // StreamDecoder for output). Throws Error(kInvalidArgument) for an id out of range.
    std::string token_to_piece(int32_t id, bool render_special) const;

    // The text of a sequence, as llama.cpp's llama_detokenize: pieces concatenated; for SPM the
    // space added in front of the first piece is removed; `remove_special` drops a leading BOS
    // and a trailing EOS the metadata would have added; vocabularies with clean-up (gpt-2,
    // llama-bpe, ...) drop the space in " ,", " .", " !", " ?", " 's", ... Throws
    // Error(kInvalidArgument) for an id out of range.
    std::string decode(std::span<const int32_t> ids, bool render_special,
                       bool remove_special = false) const;

    int32_t n_tokens() const;
    // The vocabulary text of `id` (SPM "▁Hello", BPE "ĠHello"). REQUIRES: 0 <= id < n_tokens().
    const std::string& token_text(int32_t id) const;
    // Special token ids; -1 when the vocabulary has none.
    int32_t bos() const;
    int32_t eos() const;
    int32_t eot() const;
    int32_t unk() const;
    int32_t pad() const;
    bool add_bos() const;  // encode(..., add_special=true) puts bos() first
    bool add_eos() const;  // ... and eos() last
    // True for tokens that end generation (EOS, end-of-turn and the like).
    bool is_eog(int32_t id) const;
    // True for control and unknown tokens: those render only when asked.
    bool is_control(int32_t id) const;
    // tokenizer.ggml.model ("llama" or "gpt2") and tokenizer.ggml.pre ("" when absent).
    const std::string& model() const;
    const std::string& pre() const;

   private:
    Tokenizer();
    const std::string& checked_piece(int32_t id) const;

    std::unique_ptr<Vocab> vocab_;
    std::unique_ptr<RegexSplitter> splitter_;  // BPE only
    std::vector<std::string> pieces_;          // token_to_piece(id, true) for every id
};

// Turns a stream of token ids into text that is always whole UTF-8 characters: a token that
// ends inside a UTF-8 sequence emits nothing (for those bytes) until a later token completes
// it. Bytes that can never complete (invalid UTF-8) are emitted as they are. Not thread-safe;
// one decoder per stream. The Tokenizer must outlive it.
class StreamDecoder {
   public:
    explicit StreamDecoder(const Tokenizer& tokenizer, bool render_special = false);

    // Adds token `id`; returns the text that became complete (often the whole piece, maybe
    // ""). Throws Error(kInvalidArgument) for an id out of range.
    std::string push(int32_t id);
    // Returns the bytes still held (an unfinished sequence at the end of the stream) and
    // forgets them.
    std::string flush();
    // Bytes held back right now.
    size_t pending() const { return pending_.size(); }

   private:
    const Tokenizer& tokenizer_;
    bool render_special_;
    std::string pending_;
};

}  // namespace sobre::tokenizer
