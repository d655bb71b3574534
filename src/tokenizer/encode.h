// The encoding steps behind Tokenizer::encode (internal to src/tokenizer).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/pretokenize.h"
#include "tokenizer/vocab.h"

namespace sobre::tokenizer {

// A stretch of the input: a special token cut out of it, or raw text still to tokenize.
struct Fragment {
    int32_t token = kNoToken;  // kNoToken: raw text [begin, end) of the input
    size_t begin = 0;
    size_t end = 0;
};

// Cuts special tokens out of `text`, longest token first, before any pre-tokenization.
// User-defined tokens are always cut; control and unknown tokens only when `parse_special`.
// Tokens with kAttrLstrip / kAttrRstrip drop the ASCII whitespace beside them.
// ref: llama.cpp llama_vocab::impl::tokenizer_st_partition
std::vector<Fragment> split_special(const Vocab& vocab, std::string_view text, bool parse_special);

// SentencePiece BPE over `text` (spaces already escaped to U+2581): merges the adjacent pair
// whose concatenation is the highest-scoring token, leftmost first on ties; pieces that are
// no token fall back to byte tokens. Appends to `out`.
void encode_spm(const Vocab& vocab, std::string_view text, std::vector<int32_t>& out);

// Byte-level BPE: splits `text` with `splitter`, maps each piece's bytes through the GPT-2
// byte table and merges by rank (lowest first, leftmost on ties). Appends to `out`.
void encode_bpe(const Vocab& vocab, const RegexSplitter& splitter, std::string_view text,
                std::vector<int32_t>& out);

// What token `id` renders as when special tokens are shown: control, unknown and user-defined
// tokens give their text; normal tokens their text decoded (SPM U+2581 -> space, BPE table
// characters -> bytes); byte tokens their byte; unused and undefined tokens "".
// ref: llama.cpp llama_vocab::impl::token_to_piece
std::string render_piece(const Vocab& vocab, int32_t id);

// The merge loop SPM and byte-level BPE share: queue every adjacent pair (try_add decides
// whether it is a token and with what priority), repeatedly join the best pair whose sides are
// still as the pair saw them, queue the new neighbours, then emit the surviving symbols in
// order. Symbol has len / prev / next (a linked list over the word); Bigram left / right / len.
template <class Symbol, class Queue, class TryAdd, class Emit>
void merge_symbols(std::vector<Symbol>& symbols, Queue& queue, TryAdd try_add, Emit emit) {
    for (int i = 1; i < static_cast<int>(symbols.size()); ++i) try_add(i - 1, i);
    while (!queue.empty()) {
        const auto top = queue.top();
        queue.pop();
        Symbol& left = symbols[static_cast<size_t>(top.left)];
        Symbol& right = symbols[static_cast<size_t>(top.right)];
        if (left.len == 0 || right.len == 0 || left.len + right.len != top.len) continue;
        left.len += right.len;
        right.len = 0;
        left.next = right.next;
        if (right.next >= 0) symbols[static_cast<size_t>(right.next)].prev = top.left;
        try_add(left.prev, top.left);
        try_add(top.left, left.next);
    }
    for (int i = symbols.empty() ? -1 : 0; i != -1; i = symbols[static_cast<size_t>(i)].next) {
        emit(symbols[static_cast<size_t>(i)]);
    }
}

// GPT-2's byte-to-unicode table: the UTF-8 of the character byte `b` is spelled with.
const std::string& byte_to_unicode(uint8_t b);
// The byte a GPT-2 table character stands for; -1 for any other code point.
int unicode_to_byte(uint32_t cp);

}  // namespace sobre::tokenizer
