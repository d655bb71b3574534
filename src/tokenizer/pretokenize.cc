#include "tokenizer/pretokenize.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <new>
#include <utility>

#include "core/error.h"
#include "tokenizer/utf8.h"

namespace sobre::tokenizer {
namespace {

// The split regexes, as the models' tokenizer.json / tiktoken spell them (the upstream form,
// which ../shared/fixtures/pretokenize follows), written for PCRE2:
// - \p{sc:Han} is Script=Han; PCRE2's bare \p{Han} also takes Script_Extensions (e.g. U+3001).
// - Kimi-K2's class intersection [A&&[^\p{Han}]] becomes (?:(?!\p{sc:Han})[A]).
// - \s under UCP is Unicode White_Space (U+0085 included), as in the Python regex oracle.

constexpr std::string_view kGpt2[] = {
    R"re('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)re",
};

constexpr std::string_view kStarcoder[] = {
    R"re(\p{N})re",
    kGpt2[0],
};

// ref: llama.cpp LLAMA_VOCAB_PRE_TYPE_FALCON
constexpr std::string_view kFalcon[] = {
    R"re([\p{P}\$\+<=>\^~\|`]+)re",
    kGpt2[0],
    R"re([0-9][0-9][0-9])re",
};

// What llama.cpp applies to a BPE vocabulary whose pre-tokenizer is "default".
constexpr std::string_view kDefault[] = {
    R"re([\p{P}\$\+<=>\^~\|]+)re",
    kGpt2[0],
    R"re(\p{N}+)re",
    R"re([0-9][0-9][0-9])re",
};

constexpr std::string_view kLlama3[] = {
    R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+)re"
    R"re(|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S))re"
    R"re(|\s+)re",
};

constexpr std::string_view kQwen2[] = {
    R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+)re"
    R"re(|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S))re"
    R"re(|\s+)re",
};

constexpr std::string_view kQwen35[] = {
    R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+)re"
    R"re(|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S))re"
    R"re(|\s+)re",
};

constexpr std::string_view kDeepseekLlm[] = {
    R"re([\r\n])re",
    R"re(\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF})re"
    R"re(\x{1C4}-\x{293}\x{295}-\x{2AF}\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F})re"
    R"re(\x{386}\x{388}-\x{38A}\x{38C}\x{38E}-\x{3A1}\x{3A3}-\x{3F5}\x{3F7}-\x{481})re"
    R"re(\x{48A}-\x{52F}\x{531}-\x{556}\x{10A0}-\x{10C5}\x{13A0}-\x{13F5}\x{13F8}-\x{13FD})re"
    R"re(\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF}\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77})re"
    R"re(\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D}\x{1F20}-\x{1F45})re"
    R"re(\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D}\x{1F5F}-\x{1F7D})re"
    R"re(\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC})re"
    R"re(\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4})re"
    R"re(\x{1FF6}-\x{1FFC}\x{2102}\x{2107}\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124})re"
    R"re(\x{2126}\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F})re"
    R"re(\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4})re"
    R"re(\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F})re"
    R"re(\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06})re"
    R"re(\x{FB13}-\x{FB17}\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F})re"
    R"re(\x{104B0}-\x{104D3}\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2})re"
    R"re(\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}]+)re",
    R"re(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)re",
    R"re(\s+$)re",
    R"re([\x{4E00}-\x{9FA5}\x{800}-\x{4E00}\x{AC00}-\x{D7FF}]+)re",
    R"re(\p{N}+)re",
};

constexpr std::string_view kDeepseekCoder[] = {
    R"re([\r\n])re",    R"re(\s?\p{L}+)re",
    R"re(\s?\p{P}+)re", R"re([\x{4E00}-\x{9FA5}\x{800}-\x{4E00}\x{AC00}-\x{D7FF}]+)re",
    R"re(\p{N})re",
};

constexpr std::string_view kDeepseekV3[] = {
    R"re(\p{N}{1,3})re",
    R"re([\x{4E00}-\x{9FA5}\x{3040}-\x{309F}\x{30A0}-\x{30FF}]+)re",
    R"re([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+)re"
    R"re(| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re",
};

// tiktoken pat_str of tokenization_kimi.py.
constexpr std::string_view kKimiK2[] = {
    R"re([\p{sc:Han}]+)re"
    R"re(|[^\r\n\p{L}\p{N}]?(?:(?!\p{sc:Han})[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}])*)re"
    R"re((?:(?!\p{sc:Han})[\p{Ll}\p{Lm}\p{Lo}\p{M}])+(?i:'s|'t|'re|'ve|'m|'ll|'d)?)re"
    R"re(|[^\r\n\p{L}\p{N}]?(?:(?!\p{sc:Han})[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}])+)re"
    R"re((?:(?!\p{sc:Han})[\p{Ll}\p{Lm}\p{Lo}\p{M}])*(?i:'s|'t|'re|'ve|'m|'ll|'d)?)re"
    R"re(|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re",
};

// o200k_base (GPT-4o); llama.cpp uses it for minimax-m2 and llama4 too.
constexpr std::string_view kGpt4o[] = {
    R"re([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+)re"
    R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)?)re"
    R"re(|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*)re"
    R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)?)re"
    R"re(|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)re",
};

// One row per tokenizer.ggml.pre value. Names and flags follow llama.cpp's
// llama_vocab::impl::load (ref: llama.cpp src/llama-vocab.cpp); "gpt-neox" is ours: GPT-NeoX's
// tokenizer.json uses the GPT-2 byte-level split.
// clang-format off
constexpr PreTokenizerSpec kSpecs[] = {
    // name               patterns        clean  ignore_merges add_bos bos_unset
    {"default",          kDefault,       true,  false,        false,  false},
    {"llama-bpe",        kLlama3,        true,  true,         true,   false},
    {"llama3",           kLlama3,        true,  true,         true,   false},
    {"llama-v3",         kLlama3,        true,  true,         true,   false},
    {"falcon3",          kLlama3,        true,  true,         true,   false},
    {"pixtral",          kLlama3,        true,  true,         true,   false},
    {"dbrx",             kLlama3,        true,  false,        false,  false},
    {"smaug-bpe",        kLlama3,        true,  false,        false,  false},
    {"glm4",             kLlama3,        true,  false,        false,  true},
    {"chatglm-bpe",      kLlama3,        true,  false,        false,  true},
    {"qwen2",            kQwen2,         false, false,        false,  false},
    {"deepseek-r1-qwen", kQwen2,         false, false,        false,  false},
    {"megrez",           kQwen2,         true,  false,        false,  false},
    {"stablelm2",        kQwen2,         true,  false,        false,  false},
    {"qwen35",           kQwen35,        false, false,        false,  false},
    {"deepseek-llm",     kDeepseekLlm,   false, false,        false,  false},
    {"deepseek-coder",   kDeepseekCoder, false, false,        false,  false},
    {"deepseek-v3",      kDeepseekV3,    false, false,        false,  false},
    {"kimi-k2",          kKimiK2,        false, false,        false,  false},
    {"gpt-4o",           kGpt4o,         false, false,        false,  false},
    {"llama4",           kGpt4o,         false, false,        false,  false},
    {"minimax-m2",       kGpt4o,         false, false,        false,  false},
    {"gpt-2",            kGpt2,          true,  false,        false,  false},
    {"phi-2",            kGpt2,          true,  false,        false,  false},
    {"gpt-neox",         kGpt2,          true,  false,        false,  false},
    {"mpt",              kGpt2,          true,  false,        false,  false},
    {"olmo",             kGpt2,          true,  false,        false,  false},
    {"jais",             kGpt2,          true,  false,        false,  false},
    {"starcoder",        kStarcoder,     true,  false,        false,  false},
    {"refact",           kStarcoder,     true,  false,        false,  false},
    {"codeshell",        kStarcoder,     true,  false,        false,  false},
    {"command-r",        kStarcoder,     false, false,        false,  false},
    {"smollm",           kStarcoder,     false, false,        false,  false},
    {"falcon",           kFalcon,        true,  false,        false,  false},
};
// clang-format on

// Memory a match may use. The Kimi-K2 regex backtracks per character of a word: about 8
// bytes each on the JIT stack (mapped per thread, touched only as used), about 220 each on the
// interpreter's heap. A word too long for both ends in Error(kResourceExhausted).
constexpr size_t kJitStackMax = 64u << 20;
constexpr uint32_t kHeapLimitKiB = 64u << 10;
constexpr uint32_t kCompileOptions = PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY;

std::string pcre2_message(int code) {
    PCRE2_UCHAR buf[256];
    if (pcre2_get_error_message(code, buf, sizeof buf) < 0) {
        return fmt::format("PCRE2 error {}", code);
    }
    return reinterpret_cast<const char*>(buf);
}

// Match state kept per thread, so split() allocates none of it per call.
struct Scratch {
    pcre2_match_data* match_data = pcre2_match_data_create(1, nullptr);
    pcre2_match_context* context = pcre2_match_context_create(nullptr);
    pcre2_jit_stack* jit_stack = pcre2_jit_stack_create(32 * 1024, kJitStackMax, nullptr);

    Scratch() {
        if (!match_data || !context || !jit_stack) throw std::bad_alloc();
        pcre2_jit_stack_assign(context, nullptr, jit_stack);
        pcre2_set_heap_limit(context, kHeapLimitKiB);
    }
    ~Scratch() {
        pcre2_jit_stack_free(jit_stack);
        pcre2_match_context_free(context);
        pcre2_match_data_free(match_data);
    }
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;
};

Scratch& scratch() {
    thread_local Scratch s;
    return s;
}

// Well-formed copy of `text`: each invalid byte becomes U+FFFD (as llama.cpp's
// unicode_cpts_from_utf8 does). `orig[k]` is the offset in `text` of the copy's byte k.
std::string sanitize(std::string_view text, std::vector<size_t>& orig) {
    std::string out;
    out.reserve(text.size() + 8);
    orig.clear();
    for (size_t pos = 0; pos < text.size();) {
        const size_t n = utf8::valid_length(text, pos);
        if (n == 0) {
            utf8::append(out, 0xFFFD);
            orig.insert(orig.end(), 3, pos);
            pos += 1;
            continue;
        }
        out.append(text.substr(pos, n));
        for (size_t k = 0; k < n; ++k) orig.push_back(pos);
        pos += n;
    }
    orig.push_back(text.size());
    return out;
}

}  // namespace

const PreTokenizerSpec* find_pre_tokenizer(std::string_view gguf_name) {
    for (const PreTokenizerSpec& spec : kSpecs) {
        if (spec.name == gguf_name) return &spec;
    }
    return nullptr;
}

std::string known_pre_tokenizer_names() {
    std::string out;
    for (const PreTokenizerSpec& spec : kSpecs) {
        if (!out.empty()) out += ", ";
        out += spec.name;
    }
    return out;
}

struct RegexSplitter::Regex {
    pcre2_code* code = nullptr;
    ~Regex() { pcre2_code_free(code); }

    // Finds the leftmost non-empty match in subject[start..]; false when there is none.
    bool find(std::string_view subject, size_t start, size_t& begin, size_t& end) const;
};

bool RegexSplitter::Regex::find(std::string_view subject, size_t start, size_t& begin,
                                size_t& end) const {
    Scratch& s = scratch();
    const auto* data = reinterpret_cast<PCRE2_SPTR>(subject.data());
    constexpr uint32_t kOptions = PCRE2_NO_UTF_CHECK | PCRE2_NOTEMPTY;
    int rc = pcre2_match(code, data, subject.size(), start, kOptions, s.match_data, s.context);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {
        rc = pcre2_match(code, data, subject.size(), start, kOptions | PCRE2_NO_JIT, s.match_data,
                         s.context);
    }
    if (rc == PCRE2_ERROR_NOMATCH) return false;
    if (rc < 0) {
        fail(ErrorKind::kResourceExhausted,
             "pre-tokenizer: regex failed on a piece of {} bytes: {}", subject.size(),
             pcre2_message(rc));
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(s.match_data);
    begin = ov[0];
    end = ov[1];
    return true;
}

RegexSplitter::RegexSplitter(std::span<const std::string_view> patterns) {
    for (std::string_view pattern : patterns) {
        auto regex = std::make_unique<Regex>();
        int code = 0;
        PCRE2_SIZE offset = 0;
        regex->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                    kCompileOptions, &code, &offset, nullptr);
        if (!regex->code) {
            fail(ErrorKind::kUnsupported,
                 "pre-tokenizer regex '{}' does not compile at offset {}: {}", pattern, offset,
                 pcre2_message(code));
        }
        // JIT is an optimisation; without it (no JIT support on this CPU) the interpreter runs.
        pcre2_jit_compile(regex->code, PCRE2_JIT_COMPLETE);
        regexes_.push_back(std::move(regex));
    }
}

RegexSplitter::~RegexSplitter() = default;

std::vector<std::string_view> RegexSplitter::split(std::string_view text) const {
    std::vector<size_t> orig;
    std::string clean;
    const bool valid = utf8::is_valid(text);
    if (!valid) clean = sanitize(text, orig);
    const std::string_view subject = valid ? text : std::string_view(clean);

    // Pieces as [begin, end) offsets into `subject`.
    std::vector<std::pair<size_t, size_t>> pieces;
    if (!subject.empty()) pieces.emplace_back(0, subject.size());
    std::vector<std::pair<size_t, size_t>> next;
    for (const auto& regex : regexes_) {
        next.clear();
        for (const auto& [b, e] : pieces) {
            const std::string_view piece = subject.substr(b, e - b);
            size_t pos = 0;
            size_t mb = 0;
            size_t me = 0;
            while (pos < piece.size() && regex->find(piece, pos, mb, me)) {
                if (mb > pos) next.emplace_back(b + pos, b + mb);
                next.emplace_back(b + mb, b + me);
                pos = me;
            }
            if (pos < piece.size()) next.emplace_back(b + pos, e);
        }
        pieces.swap(next);
    }

    std::vector<std::string_view> out;
    out.reserve(pieces.size());
    for (const auto& [b, e] : pieces) {
        const size_t ob = valid ? b : orig[b];
        const size_t oe = valid ? e : orig[e];
        out.push_back(text.substr(ob, oe - ob));
    }
    return out;
}

}  // namespace sobre::tokenizer
