// Byte-level BPE with merge ranks (GPT-2 family). ref: llama.cpp llm_tokenizer_bpe_session.
#include <array>
#include <queue>

#include "tokenizer/encode.h"
#include "tokenizer/utf8.h"

namespace sobre::tokenizer {
namespace {

// GPT-2 bytes_to_unicode(): printable Latin-1 bytes stand for themselves, the other 68 bytes
// get U+0100, U+0101, ... in byte order, so every byte has a visible, non-space character.
struct ByteTable {
    std::array<std::string, 256> text;
    std::array<int16_t, 512> byte_of{};  // code point -> byte, -1 if none

    ByteTable() {
        byte_of.fill(-1);
        uint32_t extra = 0;
        for (uint32_t b = 0; b < 256; ++b) {
            const bool printable =
                (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
            const uint32_t cp = printable ? b : 256 + extra++;
            utf8::append(text[b], cp);
            byte_of[cp] = static_cast<int16_t>(b);
        }
    }
};

const ByteTable& byte_table() {
    static const ByteTable table;
    return table;
}

struct Symbol {
    size_t begin = 0;
    size_t len = 0;
    int prev = -1;
    int next = -1;
};

struct Bigram {
    int32_t rank = 0;
    int left = -1;
    int right = -1;
    size_t len = 0;  // bytes of left + right when queued; a mismatch later means it is stale
};

// Lowest rank first; on equal ranks the leftmost pair.
struct LowerPriority {
    bool operator()(const Bigram& a, const Bigram& b) const {
        return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
    }
};

// Merges one byte-encoded word.
class BpeWord {
   public:
    BpeWord(const Vocab& vocab, std::string_view word) : vocab_(vocab), word_(word) {}

    void run(std::vector<int32_t>& out) {
        // One symbol per table character, i.e. per original byte (the encoding is valid UTF-8).
        for (size_t pos = 0; pos < word_.size();) {
            const size_t n = std::max<size_t>(utf8::valid_length(word_, pos), 1);
            const int index = static_cast<int>(symbols_.size());
            symbols_.push_back({pos, n, index - 1, pos + n == word_.size() ? -1 : index + 1});
            pos += n;
        }
        merge_symbols(symbols_, queue_, [this](int l, int r) { try_add(l, r); },
                      [&](const Symbol& s) { emit(s, out); });
    }

   private:
    void try_add(int left, int right) {
        if (left < 0 || right < 0) return;
        const Symbol& l = symbols_[static_cast<size_t>(left)];
        const Symbol& r = symbols_[static_cast<size_t>(right)];
        key_.assign(word_.substr(l.begin, l.len));
        key_ += ' ';
        key_.append(word_.substr(r.begin, r.len));
        const auto it = vocab_.merges.find(key_);
        if (it == vocab_.merges.end()) return;
        queue_.push({it->second, left, right, l.len + r.len});
    }

    // A merge result missing from the vocabulary (a broken file) goes out character by
    // character; llama.cpp probes single bytes of the encoding there, which drops most of it.
    void emit(const Symbol& s, std::vector<int32_t>& out) const {
        const std::string_view piece = word_.substr(s.begin, s.len);
        const int32_t id = vocab_.find(piece);
        if (id != kNoToken) {
            out.push_back(id);
            return;
        }
        for (size_t pos = 0; pos < piece.size();) {
            const size_t n = std::max<size_t>(utf8::valid_length(piece, pos), 1);
            const int32_t char_id = vocab_.find(piece.substr(pos, n));
            if (char_id != kNoToken) out.push_back(char_id);
            pos += n;
        }
    }

    const Vocab& vocab_;
    std::string_view word_;
    std::vector<Symbol> symbols_;
    std::priority_queue<Bigram, std::vector<Bigram>, LowerPriority> queue_;
    std::string key_;
};

// Appends `word` spelled in the GPT-2 byte table. A byte that is not part of well-formed
// UTF-8 keeps its own table character when the vocabulary has it as a normal token; otherwise
// it becomes U+FFFD, as every invalid byte does in llama.cpp. Some vocabularies lack the bytes
// that (nearly) never occur in UTF-8: StarCoder has no token for C0, C1, F1, F5..FF, and
// DeepSeek typed C0, C1, F5..FF user-defined.
void byte_encode(const Vocab& vocab, std::string_view word, std::string& out) {
    static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
    for (size_t pos = 0; pos < word.size();) {
        const size_t n = utf8::valid_length(word, pos);
        if (n > 0) {
            for (char c : word.substr(pos, n)) out += byte_to_unicode(static_cast<uint8_t>(c));
            pos += n;
            continue;
        }
        const auto byte = static_cast<uint8_t>(word[pos]);
        const int32_t id = vocab.byte_ids[byte];
        if (id != kNoToken && vocab.has(id, kAttrNormal)) {
            out += byte_to_unicode(byte);
        } else {
            for (char c : kReplacement) out += byte_to_unicode(static_cast<uint8_t>(c));
        }
        pos += 1;
    }
}

}  // namespace

const std::string& byte_to_unicode(uint8_t b) { return byte_table().text[b]; }

int unicode_to_byte(uint32_t cp) { return cp < 512 ? byte_table().byte_of[cp] : -1; }

void encode_bpe(const Vocab& vocab, const RegexSplitter& splitter, std::string_view text,
                std::vector<int32_t>& out) {
    std::string encoded;
    for (std::string_view word : splitter.split(text)) {
        encoded.clear();
        byte_encode(vocab, word, encoded);
        if (vocab.ignore_merges) {
            const int32_t id = vocab.find(encoded);
            if (id != kNoToken) {
                out.push_back(id);
                continue;
            }
        }
        BpeWord(vocab, encoded).run(out);
    }
}

}  // namespace sobre::tokenizer
