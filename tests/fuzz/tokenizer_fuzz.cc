// libFuzzer target for the tokenizers. Byte 0 of an input picks the vocabulary (one of the six
// in ../shared/fixtures/vocab) and the flags; the rest is the text. Any text must tokenize
// (invalid UTF-8 included) or throw sobre::Error; ids must be in range; the streaming decoder
// must give back exactly the concatenated pieces; where the vocabulary is lossless, decoding
// must give back the text; every pre-tokenizer split must cover the text with non-empty
// pieces. A broken property aborts, which libFuzzer reports as a crash.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "gguf/reader.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/tokenizer.h"

namespace {

using sobre::tokenizer::RegexSplitter;
using sobre::tokenizer::StreamDecoder;
using sobre::tokenizer::Tokenizer;

constexpr const char* kVocabs[] = {"llama-spm",      "phi-3", "deepseek-llm",
                                   "deepseek-coder", "gpt-2", "starcoder"};
constexpr size_t kNumVocabs = sizeof(kVocabs) / sizeof(kVocabs[0]);
constexpr const char* kSplits[] = {"qwen2",  "llama-bpe", "deepseek-v3",  "kimi-k2",
                                   "gpt-4o", "qwen35",    "deepseek-llm", "deepseek-coder",
                                   "falcon", "default",   "starcoder"};

// The fixtures folder: the SOBRE_FIXTURES_DIR compile definition, or the environment variable
// of that name.
std::string fixtures_dir() {
    if (const char* env = std::getenv("SOBRE_FIXTURES_DIR")) return env;
#ifdef SOBRE_FIXTURES_DIR
    return SOBRE_FIXTURES_DIR;
#else
    std::fprintf(stderr, "tokenizer_fuzz: set SOBRE_FIXTURES_DIR to ../shared/fixtures\n");
    std::abort();
#endif
}

struct State {
    std::vector<std::unique_ptr<Tokenizer>> vocabs;
    std::vector<std::unique_ptr<RegexSplitter>> splits;

    State() {
        for (const char* name : kVocabs) {
            const auto file =
                sobre::gguf::File::open(fixtures_dir() + "/vocab/ggml-vocab-" + name + ".gguf");
            vocabs.push_back(Tokenizer::from_gguf(file));
        }
        for (const char* name : kSplits) {
            splits.push_back(std::make_unique<RegexSplitter>(
                sobre::tokenizer::find_pre_tokenizer(name)->patterns));
        }
    }
};

void check(bool ok, const char* what) {
    if (ok) return;
    std::fprintf(stderr, "tokenizer_fuzz: property broken: %s\n", what);
    std::abort();
}

bool well_formed(std::string_view s) {
    for (size_t i = 0; i < s.size();) {
        const auto b = static_cast<uint8_t>(s[i]);
        const size_t n = b < 0x80                 ? 1
                         : b >= 0xC2 && b <= 0xDF ? 2
                         : b >= 0xE0 && b <= 0xEF ? 3
                         : b >= 0xF0 && b <= 0xF4 ? 4
                                                  : 0;
        if (n == 0 || i + n > s.size()) return false;
        const auto b1 = static_cast<uint8_t>(s[i + 1 < s.size() ? i + 1 : i]);
        if (n > 1 && (b1 < (b == 0xE0   ? 0xA0
                            : b == 0xF0 ? 0x90
                                        : 0x80) ||
                      b1 > (b == 0xED   ? 0x9F
                            : b == 0xF4 ? 0x8F
                                        : 0xBF))) {
            return false;
        }
        for (size_t k = 2; k < n; ++k) {
            if ((static_cast<uint8_t>(s[i + k]) & 0xC0) != 0x80) return false;
        }
        i += n;
    }
    return true;
}

// decode(encode(text)) == text holds for: SPM without U+2581 in the text (read as a space)
// and without phi-3's space-eating "</s>"; BPE vocabularies without space clean-up on
// well-formed text (invalid bytes may become U+FFFD), gpt-2 also on any bytes if no clean-up
// pair occurs.
bool lossless(size_t vocab, std::string_view text) {
    const std::string_view name = kVocabs[vocab];
    if (name == "llama-spm" || name == "phi-3") {
        return text.find("\xE2\x96\x81") == std::string_view::npos &&
               text.find("</s>") == std::string_view::npos;
    }
    if (name == "gpt-2" || name == "starcoder") {
        for (size_t i = 0; i + 1 < text.size(); ++i) {
            if (text[i] == ' ' &&
                std::string_view("?!.,'").find(text[i + 1]) != std::string_view::npos)
                return false;
        }
        return name == "gpt-2" || well_formed(text);
    }
    return well_formed(text);
}

void fuzz_vocab(const Tokenizer& tok, size_t vocab, uint8_t flags, std::string_view text) {
    const bool add_special = flags & 0x08;
    const bool parse_special = flags & 0x10;
    const bool render_special = flags & 0x20;
    const std::vector<int32_t> ids = tok.encode(text, add_special, parse_special);
    std::string pieces;
    for (const int32_t id : ids) {
        check(id >= 0 && id < tok.n_tokens(), "id in range");
        pieces += tok.token_to_piece(id, render_special);
    }
    StreamDecoder decoder(tok, render_special);
    std::string streamed;
    for (const int32_t id : ids) streamed += decoder.push(id);
    streamed += decoder.flush();
    check(streamed == pieces, "stream == pieces");
    const std::string decoded = tok.decode(ids, render_special, add_special);
    if (!add_special && !parse_special && !render_special && lossless(vocab, text)) {
        check(decoded == text, "decode(encode(text)) == text");
    }
}

void fuzz_split(const RegexSplitter& splitter, std::string_view text) {
    std::string joined;
    for (std::string_view piece : splitter.split(text)) {
        check(!piece.empty(), "no empty piece");
        check(piece.data() == text.data() + joined.size(), "pieces in order");
        joined.append(piece);
    }
    check(joined == text, "pieces cover the text");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const State state;
    if (size == 0) return 0;
    const uint8_t flags = data[0];
    const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
    const size_t vocab = (flags & 0x07) % kNumVocabs;
    try {
        fuzz_vocab(*state.vocabs[vocab], vocab, flags, text);
        fuzz_split(*state.splits[(flags >> 6 | (flags & 0x07) << 2) % state.splits.size()], text);
    } catch (const sobre::Error&) {
        // Allowed: a split regex out of backtracking memory on a pathological input.
    }
    return 0;
}
