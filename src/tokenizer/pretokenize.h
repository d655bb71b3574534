// Pre-tokenizers of byte-level BPE vocabularies: the regex split chosen by tokenizer.ggml.pre.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sobre::tokenizer {

// What a tokenizer.ggml.pre name means. The flags are llama.cpp's per-name settings
// (ref: llama.cpp src/llama-vocab.cpp, llama_vocab::impl::load); the metadata keys
// tokenizer.ggml.add_bos_token / bos_token_id still override them.
struct PreTokenizerSpec {
    std::string_view name;                       // the GGUF value this row answers to
    std::span<const std::string_view> patterns;  // split regexes, applied in order
    bool clean_spaces =
        true;  // decode drops the space in " ?", " 's", ... (HF clean_up_tokenization_spaces)
    bool ignore_merges = false;  // a word that is itself a token skips the merges (Llama 3)
    bool add_bos = false;        // add_bos_token when the metadata does not say
    bool bos_unset = false;      // no default BOS id (GLM-4)
};

// The row for a tokenizer.ggml.pre value; nullptr when the name is unknown.
const PreTokenizerSpec* find_pre_tokenizer(std::string_view gguf_name);
// The known names, comma-separated, for error messages.
std::string known_pre_tokenizer_names();

// Splits text with a sequence of regexes, as Hugging Face's Sequence of Split pre-tokenizers
// with behavior "Isolated" (and llama.cpp's unicode_regex_split): each regex splits every piece
// produced so far, on its own (look-arounds and $ see only that piece); matches and the gaps
// between them both become pieces; no piece is empty. Regexes are PCRE2 in UTF + UCP mode.
// Thread-safe: split() may run concurrently on one splitter.
class RegexSplitter {
   public:
    // Compiles the patterns. A pattern PCRE2 rejects is a programmer error (they are ours):
    // it throws Error(kUnsupported) naming the pattern and the offset.
    explicit RegexSplitter(std::span<const std::string_view> patterns);
    ~RegexSplitter();
    RegexSplitter(const RegexSplitter&) = delete;
    RegexSplitter& operator=(const RegexSplitter&) = delete;

    // Returns the pieces of `text` as views into it; concatenated they give `text` back.
    // Invalid UTF-8 is split as if each invalid byte were U+FFFD (what llama.cpp does), but
    // the pieces keep the original bytes. Throws Error(kResourceExhausted) when a regex runs
    // out of backtracking memory on a pathological piece.
    std::vector<std::string_view> split(std::string_view text) const;

   private:
    struct Regex;
    std::vector<std::unique_ptr<Regex>> regexes_;
};

}  // namespace sobre::tokenizer
