// The vocabulary of a tokenizer as read from GGUF metadata (internal to src/tokenizer).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "gguf/reader.h"
#include "tokenizer/pretokenize.h"

namespace sobre::tokenizer {

// Token attributes, llama.cpp's llama_token_attr bits: GGUF token types map onto them and
// some tokens get more by name (end-of-turn tokens become control, phi-3 tokens strip spaces).
enum TokenAttr : uint32_t {
    kAttrUndefined = 0,
    kAttrUnknown = 1u << 0,
    kAttrUnused = 1u << 1,
    kAttrNormal = 1u << 2,
    kAttrControl = 1u << 3,
    kAttrUserDefined = 1u << 4,
    kAttrByte = 1u << 5,
    kAttrLstrip = 1u << 7,  // matched special token eats the whitespace before it
    kAttrRstrip = 1u << 8,  // ... and after it
};

struct TokenData {
    std::string text;  // as in tokenizer.ggml.tokens (byte-level encoded for BPE)
    float score = 0;   // SPM merge priority (higher merges first)
    uint32_t attr = kAttrNormal;
};

// Hash map from token text to id that can be probed with a string_view.
struct TextHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using TextMap = std::unordered_map<std::string, int32_t, TextHash, std::equal_to<>>;

enum class VocabKind : uint8_t { kSpm, kBpe };

constexpr int32_t kNoToken = -1;

struct Vocab {
    VocabKind kind = VocabKind::kSpm;
    std::string model;                           // tokenizer.ggml.model
    std::string pre;                             // tokenizer.ggml.pre ("" when absent)
    const PreTokenizerSpec* pre_spec = nullptr;  // BPE only

    std::vector<TokenData> tokens;
    TextMap ids;     // token text -> id
    TextMap merges;  // BPE: "left right" -> rank (lower merges first)

    int32_t bos = kNoToken, eos = kNoToken, eot = kNoToken, eom = kNoToken;
    int32_t unk = kNoToken, pad = kNoToken;
    int32_t fim_pre = kNoToken, fim_suf = kNoToken, fim_mid = kNoToken;
    int32_t fim_pad = kNoToken, fim_rep = kNoToken, fim_sep = kNoToken;
    bool add_bos = false;
    bool add_eos = false;
    bool add_space_prefix = false;  // SPM: a space before text that starts a fragment
    bool clean_spaces = false;      // decode removes spaces before punctuation
    bool ignore_merges = false;

    std::array<int32_t, 256> byte_ids{};   // token of each raw byte (kNoToken if none)
    std::set<int32_t> eog;                 // ids that end generation
    std::vector<int32_t> special_longest;  // control/user-defined/unknown ids, longest text first

    int32_t n_tokens() const { return static_cast<int32_t>(tokens.size()); }
    // The id of a token with exactly this text, or kNoToken.
    int32_t find(std::string_view text) const {
        const auto it = ids.find(text);
        return it == ids.end() ? kNoToken : it->second;
    }
    bool has(int32_t id, uint32_t attr) const {
        return (tokens[static_cast<size_t>(id)].attr & attr) != 0;
    }
};

// Reads tokenizer.ggml.* from `file`. Throws Error naming the file and key: kNotFound for a
// missing tokenizer.ggml.model / tokens / merges, kUnsupported for an unknown model or
// pre-tokenizer name, kCorrupt for arrays of the wrong type or length, duplicate tokens, or
// add_bos/add_eos set without a token id.
Vocab load_vocab(const gguf::File& file);

}  // namespace sobre::tokenizer
