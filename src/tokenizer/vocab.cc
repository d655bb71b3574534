// Loading tokenizer.ggml.* into a Vocab. Defaults, flags and name-based fix-ups follow
// llama.cpp's llama_vocab::impl::load (ref: llama.cpp src/llama-vocab.cpp), so the same file
// gives the same ids here and there.
#include "tokenizer/vocab.h"

#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <optional>
#include <span>
#include <utility>

#include "core/error.h"
#include "tokenizer/encode.h"

namespace sobre::tokenizer {
namespace {

// GGUF tokenizer.ggml.token_type values (llama.cpp's llama_token_type).
uint32_t attr_of_type(int64_t type) {
    switch (type) {
        case 1: return kAttrNormal;
        case 2: return kAttrUnknown;
        case 3: return kAttrControl;
        case 4: return kAttrUserDefined;
        case 5: return kAttrUnused;
        case 6: return kAttrByte;
        default: return kAttrUndefined;
    }
}

const gguf::Value* scalar_array(const gguf::File& file, std::string_view key, size_t n_tokens) {
    const gguf::Value* v = file.get_array(key);
    if (!v) return nullptr;
    if (v->elem_type == gguf::ValueType::kString || v->elem_type == gguf::ValueType::kArray ||
        v->elem_type == gguf::ValueType::kBool) {
        fail(ErrorKind::kCorrupt, "{}: key {} is an array of {}, expected numbers", file.path(),
             key, gguf::value_type_name(v->elem_type));
    }
    if (v->size() < n_tokens) {
        fail(ErrorKind::kCorrupt, "{}: key {} has {} entries for {} tokens", file.path(), key,
             v->size(), n_tokens);
    }
    return v;
}

void read_tokens(const gguf::File& file, Vocab& vocab) {
    const gguf::Value* list = file.get_array("tokenizer.ggml.tokens");
    if (!list) fail(ErrorKind::kNotFound, "{}: missing key tokenizer.ggml.tokens", file.path());
    if (list->elem_type != gguf::ValueType::kString) {
        fail(ErrorKind::kCorrupt,
             "{}: key tokenizer.ggml.tokens is an array of {}, expected strings", file.path(),
             gguf::value_type_name(list->elem_type));
    }
    const size_t n = list->strings.size();
    if (n == 0 || n > static_cast<size_t>(INT32_MAX)) {
        fail(ErrorKind::kCorrupt, "{}: tokenizer.ggml.tokens has {} entries", file.path(), n);
    }
    const gguf::Value* scores = scalar_array(file, "tokenizer.ggml.scores", n);
    const gguf::Value* types = scalar_array(file, "tokenizer.ggml.token_type", n);
    vocab.tokens.resize(n);
    vocab.ids.reserve(n);
    for (size_t i = 0; i < n; ++i) {
        TokenData& t = vocab.tokens[i];
        t.text = list->strings[i];
        // An empty token would match everywhere in the special-token scan.
        if (t.text.empty()) t.text = fmt::format("[EMPTY_{}]", i);
        if (scores) t.score = static_cast<float>(scores->at(i).as_double());
        if (types) t.attr = attr_of_type(static_cast<int64_t>(types->at(i).as_double()));
        const auto [it, fresh] = vocab.ids.emplace(t.text, static_cast<int32_t>(i));
        if (!fresh) {
            fail(ErrorKind::kCorrupt,
                 "{}: duplicate token in tokenizer.ggml.tokens: '{}' has ids {} and {}",
                 file.path(), t.text, it->second, i);
        }
    }
}

void read_merges(const gguf::File& file, Vocab& vocab) {
    const gguf::Value* merges = file.get_array("tokenizer.ggml.merges");
    if (!merges) {
        // Kimi-K2 conversions may omit merges (tiktoken ranks); llama.cpp accepts that.
        if (vocab.pre == "kimi-k2") return;
        fail(ErrorKind::kNotFound,
             "{}: missing key tokenizer.ggml.merges (needed by a gpt2 tokenizer)", file.path());
    }
    if (merges->elem_type != gguf::ValueType::kString) {
        fail(ErrorKind::kCorrupt,
             "{}: key tokenizer.ggml.merges is an array of {}, expected strings", file.path(),
             gguf::value_type_name(merges->elem_type));
    }
    vocab.merges.reserve(merges->strings.size());
    for (size_t rank = 0; rank < merges->strings.size(); ++rank) {
        const std::string& line = merges->strings[rank];
        // "left right", split at the first space after the first byte; the first of two
        // equal lines keeps its rank.
        if (line.find(' ', 1) == std::string::npos) continue;
        vocab.merges.emplace(line, static_cast<int32_t>(rank));
    }
}

// Model-type defaults, before any metadata override.
void set_defaults(const gguf::File& file, Vocab& vocab) {
    if (vocab.model == "llama") {
        vocab.kind = VocabKind::kSpm;
        vocab.bos = 1;
        vocab.eos = 2;
        vocab.unk = 0;
        vocab.add_space_prefix = true;
        vocab.add_bos = true;
        return;
    }
    if (vocab.model != "gpt2") {
        fail(ErrorKind::kUnsupported,
             "{}: tokenizer.ggml.model '{}' is not supported (supported: llama, gpt2)", file.path(),
             vocab.model);
    }
    vocab.kind = VocabKind::kBpe;
    // A missing pre-tokenizer means llama.cpp's "default" split (old conversions lack the key).
    const std::string_view name = vocab.pre.empty() ? "default" : std::string_view(vocab.pre);
    vocab.pre_spec = find_pre_tokenizer(name);
    if (!vocab.pre_spec) {
        fail(ErrorKind::kUnsupported,
             "{}: unknown pre-tokenizer '{}' in tokenizer.ggml.pre (known: {})", file.path(), name,
             known_pre_tokenizer_names());
    }
    // llama.cpp's BPE default ids; the metadata almost always overrides them.
    vocab.bos = vocab.pre_spec->bos_unset ? kNoToken : 11;
    vocab.eos = 11;
    vocab.add_bos = vocab.pre_spec->add_bos;
    vocab.clean_spaces = vocab.pre_spec->clean_spaces;
    vocab.ignore_merges = vocab.pre_spec->ignore_merges;
}

// A token id key: absent, negative or out of range leaves `id` as it was (llama.cpp keeps its
// default then), so a bad id can never index past the vocabulary.
void read_id(const gguf::File& file, std::string_view key, int32_t n_tokens, int32_t& id) {
    const gguf::Value* v = file.find(key);
    if (!v) return;
    if (!v->is_integer()) {
        fail(ErrorKind::kCorrupt, "{}: key {} has type {}, expected an integer", file.path(), key,
             gguf::value_type_name(v->type));
    }
    const int64_t x =
        v->is_signed() ? v->i : static_cast<int64_t>(std::min<uint64_t>(v->u, INT64_MAX));
    if (x >= 0 && x < n_tokens) id = static_cast<int32_t>(x);
}

void read_special_ids(const gguf::File& file, Vocab& vocab) {
    const int32_t n = vocab.n_tokens();
    for (int32_t* id : {&vocab.bos, &vocab.eos, &vocab.unk}) {
        if (*id >= n) *id = kNoToken;
    }
    read_id(file, "tokenizer.ggml.bos_token_id", n, vocab.bos);
    read_id(file, "tokenizer.ggml.eos_token_id", n, vocab.eos);
    read_id(file, "tokenizer.ggml.eot_token_id", n, vocab.eot);
    read_id(file, "tokenizer.ggml.eom_token_id", n, vocab.eom);
    read_id(file, "tokenizer.ggml.unknown_token_id", n, vocab.unk);
    read_id(file, "tokenizer.ggml.padding_token_id", n, vocab.pad);
    for (const auto& [key, id] : std::initializer_list<std::pair<std::string_view, int32_t*>>{
             {"tokenizer.ggml.fim_pre_token_id", &vocab.fim_pre},
             {"tokenizer.ggml.fim_suf_token_id", &vocab.fim_suf},
             {"tokenizer.ggml.fim_mid_token_id", &vocab.fim_mid},
             {"tokenizer.ggml.fim_pad_token_id", &vocab.fim_pad},
             {"tokenizer.ggml.fim_rep_token_id", &vocab.fim_rep},
             {"tokenizer.ggml.fim_sep_token_id", &vocab.fim_sep},
             {"tokenizer.ggml.prefix_token_id", &vocab.fim_pre},  // deprecated spellings
             {"tokenizer.ggml.suffix_token_id", &vocab.fim_suf},
             {"tokenizer.ggml.middle_token_id", &vocab.fim_mid}}) {
        read_id(file, key, n, *id);
    }

    if (auto b = file.get_bool("tokenizer.ggml.add_bos_token")) vocab.add_bos = *b;
    if (auto b = file.get_bool("tokenizer.ggml.add_eos_token")) vocab.add_eos = *b;
    if (vocab.add_bos && vocab.bos == kNoToken) {
        fail(ErrorKind::kCorrupt,
             "{}: tokenizer.ggml.add_bos_token is true, but tokenizer.ggml.bos_token_id is not set",
             file.path());
    }
    if (vocab.add_eos && vocab.eos == kNoToken) {
        fail(ErrorKind::kCorrupt,
             "{}: tokenizer.ggml.add_eos_token is true, but tokenizer.ggml.eos_token_id is not set",
             file.path());
    }
}

// Token texts that name a role when the metadata does not give its id; the first name found
// wins and the token becomes a control token. ref: llama.cpp llama_vocab::impl::load.
constexpr std::string_view kEotNames[] = {
    "<|eot_id|>",        "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
    "<|end_of_text|>",   "<EOT>",      "_<EOT>",  "[EOT]",         "<｜end▁of▁sentence｜>",
    "<end_of_utterance>"};
constexpr std::string_view kEomNames[] = {"<|eom_id|>"};
constexpr std::string_view kFimPreNames[] = {"<|fim_prefix|>",  "<fim-prefix>", "<fim_prefix>",
                                             "<｜fim▁begin｜>", "<PRE>",        "▁<PRE>",
                                             "<|code_prefix|>", "<|prefix|>"};
constexpr std::string_view kFimSufNames[] = {"<|fim_suffix|>",  "<fim-suffix>", "<fim_suffix>",
                                             "<｜fim▁hole｜>",  "<SUF>",        "▁<SUF>",
                                             "<|code_suffix|>", "<|suffix|>"};
constexpr std::string_view kFimMidNames[] = {"<|fim_middle|>",  "<fim-middle>", "<fim_middle>",
                                             "<｜fim▁end｜>",   "<MID>",        "▁<MID>",
                                             "<|code_middle|>", "<|middle|>"};
constexpr std::string_view kFimPadNames[] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>",
                                             "[PAD]"};
constexpr std::string_view kFimRepNames[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>",
                                             "<REPO>", "<reponame>"};
constexpr std::string_view kFimSepNames[] = {"<|file_sep|>"};

// Tokens that end generation wherever they appear (also made control tokens).
// clang-format off
constexpr std::string_view kEogNames[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
    "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
    "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
    "<｜end▁of▁sentence｜>", "[e~["};
// clang-format on

void make_control(Vocab& vocab, int32_t id) {
    vocab.tokens[static_cast<size_t>(id)].attr |= kAttrControl;
}

void find_roles(Vocab& vocab) {
    const std::pair<int32_t*, std::span<const std::string_view>> roles[] = {
        {&vocab.eot, kEotNames},        {&vocab.eom, kEomNames},
        {&vocab.fim_pre, kFimPreNames}, {&vocab.fim_suf, kFimSufNames},
        {&vocab.fim_mid, kFimMidNames}, {&vocab.fim_pad, kFimPadNames},
        {&vocab.fim_rep, kFimRepNames}, {&vocab.fim_sep, kFimSepNames}};
    for (const auto& [id, names] : roles) {
        if (*id != kNoToken) continue;
        for (std::string_view name : names) {
            *id = vocab.find(name);
            if (*id == kNoToken) continue;
            make_control(vocab, *id);
            break;
        }
    }
}

void find_end_of_generation(Vocab& vocab) {
    for (int32_t id : {vocab.fim_pad, vocab.fim_rep, vocab.fim_sep}) {
        if (id != kNoToken) vocab.eog.insert(id);
    }
    for (std::string_view name : kEogNames) {
        const int32_t id = vocab.find(name);
        if (id == kNoToken) continue;
        vocab.eog.insert(id);
        make_control(vocab, id);
    }
    // gpt-oss (harmony) structure tokens always render.
    for (std::string_view name : {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"}) {
        const int32_t id = vocab.find(name);
        if (id != kNoToken) vocab.tokens[static_cast<size_t>(id)].attr = kAttrUserDefined;
    }
    for (int32_t id : {vocab.eos, vocab.eot, vocab.eom}) {
        if (id != kNoToken) vocab.eog.insert(id);
    }
    // Harmony: "<|end|>" closes a message but not the generation when <|return|> and
    // <|call|> exist (or <|calls|> and <|flush|>, solar-open).
    auto in_eog = [&](std::string_view name) {
        const int32_t id = vocab.find(name);
        return id != kNoToken && vocab.eog.count(id) != 0;
    };
    const bool has_call = in_eog("<|call|>") || in_eog("<|calls|>");
    if (in_eog("<|end|>") && has_call && (in_eog("<|return|>") || in_eog("<|flush|>"))) {
        const int32_t end = vocab.find("<|end|>");
        vocab.eog.erase(end);
        vocab.tokens[static_cast<size_t>(end)].attr = kAttrUserDefined;
    }
}

// The token each raw byte falls back to: SPM "<0xXX>" (else the one-byte text, as llama.cpp's
// byte_to_token), BPE the byte's GPT-2 character.
void find_byte_tokens(Vocab& vocab) {
    for (int b = 0; b < 256; ++b) {
        const auto byte = static_cast<uint8_t>(b);
        int32_t id = kNoToken;
        if (vocab.kind == VocabKind::kSpm) {
            id = vocab.find(fmt::format("<0x{:02X}>", b));
            if (id == kNoToken) id = vocab.find(std::string(1, static_cast<char>(byte)));
        } else {
            id = vocab.find(byte_to_unicode(byte));
        }
        vocab.byte_ids[byte] = id;
    }
}

void build_special_cache(Vocab& vocab) {
    for (int32_t id = 0; id < vocab.n_tokens(); ++id) {
        if (vocab.has(id, kAttrControl | kAttrUserDefined | kAttrUnknown)) {
            vocab.special_longest.push_back(id);
        }
    }
    // Longest first, so "<|im_start|>" is cut before a shorter token inside it; ties by id
    // (llama.cpp leaves their order to std::sort).
    std::stable_sort(vocab.special_longest.begin(), vocab.special_longest.end(),
                     [&](int32_t a, int32_t b) {
                         return vocab.tokens[static_cast<size_t>(a)].text.size() >
                                vocab.tokens[static_cast<size_t>(b)].text.size();
                     });
}

// Phi-3's added tokens strip the whitespace that follows them (ref: llama.cpp, "phi-3"
// per-token attributes, keyed on general.name).
void apply_phi3_strip(const gguf::File& file, Vocab& vocab) {
    std::string name = file.get_string("general.name").value_or("");
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (name.find("phi-3") == std::string::npos && name.find("phi3") == std::string::npos) return;
    for (int32_t id : vocab.special_longest) {
        vocab.tokens[static_cast<size_t>(id)].attr |= kAttrRstrip;
    }
    auto set = [&](std::string_view text, bool on) {
        const int32_t id = vocab.find(text);
        if (id == kNoToken) return;
        uint32_t& attr = vocab.tokens[static_cast<size_t>(id)].attr;
        attr = on ? (attr | kAttrRstrip) : (attr & ~uint32_t{kAttrRstrip});
    };
    set("</s>", true);
    for (std::string_view t : {"<unk>", "<s>", "<|endoftext|>"}) set(t, false);
}

}  // namespace

Vocab load_vocab(const gguf::File& file) {
    Vocab vocab;
    const auto model = file.get_string("tokenizer.ggml.model");
    if (!model) fail(ErrorKind::kNotFound, "{}: missing key tokenizer.ggml.model", file.path());
    vocab.model = *model;
    vocab.pre = file.get_string("tokenizer.ggml.pre").value_or("");
    set_defaults(file, vocab);
    if (auto b = file.get_bool("tokenizer.ggml.add_space_prefix")) vocab.add_space_prefix = *b;
    read_tokens(file, vocab);
    if (vocab.kind == VocabKind::kBpe) read_merges(file, vocab);
    read_special_ids(file, vocab);
    find_roles(vocab);
    find_end_of_generation(vocab);
    find_byte_tokens(vocab);
    build_special_cache(vocab);
    apply_phi3_strip(file, vocab);
    return vocab;
}

}  // namespace sobre::tokenizer
