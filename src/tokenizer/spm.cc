// SentencePiece-style BPE over token scores. ref: llama.cpp llm_tokenizer_spm_session, itself
// after sentencepiece's bpe_model.cc.
#include <algorithm>
#include <queue>

#include "core/error.h"
#include "tokenizer/encode.h"
#include "tokenizer/utf8.h"

namespace sobre::tokenizer {
namespace {

// A run of the text; merged runs keep the left run's start and grow, the right one empties.
struct Symbol {
    size_t begin = 0;
    size_t len = 0;
    int prev = -1;
    int next = -1;
};

struct Bigram {
    float score = 0;
    int left = -1;
    int right = -1;
    size_t len = 0;  // bytes of left + right when queued; a mismatch later means it is stale
};

// Highest score first; on equal scores the leftmost pair, as sentencepiece does.
struct LowerPriority {
    bool operator()(const Bigram& a, const Bigram& b) const {
        return a.score < b.score || (a.score == b.score && a.left > b.left);
    }
};

class SpmSession {
   public:
    SpmSession(const Vocab& vocab, std::string_view text) : vocab_(vocab), text_(text) {}

    void run(std::vector<int32_t>& out) {
        cut_symbols();
        merge_symbols(symbols_, queue_, [this](int l, int r) { try_add(l, r); },
                      [&](const Symbol& s) { emit(s, out); });
    }

   private:
    // One symbol per character. An invalid byte is a symbol of its own; llama.cpp sizes a
    // symbol by its lead byte alone, so a stray 0xFF there swallows the next three bytes (a
    // following space comes out as raw bytes E2 96 81, not as "▁"). Both give byte tokens.
    void cut_symbols() {
        for (size_t pos = 0; pos < text_.size();) {
            const size_t n = std::max<size_t>(utf8::valid_length(text_, pos), 1);
            const int index = static_cast<int>(symbols_.size());
            symbols_.push_back({pos, n, index - 1, pos + n == text_.size() ? -1 : index + 1});
            pos += n;
        }
    }

    void try_add(int left, int right) {
        if (left < 0 || right < 0) return;
        const Symbol& l = symbols_[static_cast<size_t>(left)];
        const Symbol& r = symbols_[static_cast<size_t>(right)];
        const int32_t id = vocab_.find(text_.substr(l.begin, l.len + r.len));
        if (id == kNoToken) return;
        queue_.push({vocab_.tokens[static_cast<size_t>(id)].score, left, right, l.len + r.len});
    }

    // Every merged symbol is a token; a single character may not be, and then its bytes go
    // out as byte tokens (<0xXX>). Without byte tokens the character becomes one unknown
    // token, as in sentencepiece without byte fallback (llama.cpp throws there).
    void emit(const Symbol& s, std::vector<int32_t>& out) const {
        const std::string_view piece = text_.substr(s.begin, s.len);
        const int32_t id = vocab_.find(piece);
        if (id != kNoToken) {
            out.push_back(id);
            return;
        }
        const bool bytes = std::all_of(piece.begin(), piece.end(), [&](char c) {
            return vocab_.byte_ids[static_cast<uint8_t>(c)] != kNoToken;
        });
        if (bytes) {
            for (char c : piece) out.push_back(vocab_.byte_ids[static_cast<uint8_t>(c)]);
            return;
        }
        if (vocab_.unk == kNoToken) {
            fail(ErrorKind::kUnsupported,
                 "tokenizer: no token, byte token or unknown token for '{}'", piece);
        }
        out.push_back(vocab_.unk);
    }

    const Vocab& vocab_;
    std::string_view text_;
    std::vector<Symbol> symbols_;
    std::priority_queue<Bigram, std::vector<Bigram>, LowerPriority> queue_;
};

}  // namespace

void encode_spm(const Vocab& vocab, std::string_view text, std::vector<int32_t>& out) {
    SpmSession(vocab, text).run(out);
}

}  // namespace sobre::tokenizer
