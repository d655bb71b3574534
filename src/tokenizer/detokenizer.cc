// Token ids back to text: pieces, whole-sequence decoding and the streaming decoder.

#include "core/error.h"
#include "tokenizer/encode.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace sobre::tokenizer {
namespace {

// The byte of a "<0xXX>" token; -1 when the text is not of that form.
int parse_byte_token(std::string_view text) {
    if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return -1;
    int value = 0;
    for (char c : text.substr(3, 2)) {
        int digit = -1;
        if (c >= '0' && c <= '9') digit = c - '0';
        if (c >= 'A' && c <= 'F') digit = c - 'A' + 10;
        if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
        if (digit < 0) return -1;
        value = value * 16 + digit;
    }
    return value;
}

std::string unescape_spaces(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (size_t pos = 0; pos < text.size(); ++pos) {
        if (text.substr(pos, 3) == "\xE2\x96\x81") {
            out += ' ';
            pos += 2;
        } else {
            out += text[pos];
        }
    }
    return out;
}

// Maps each GPT-2 table character back to its byte. A character outside the table (some
// vocabularies hold raw Unicode tokens) is kept as its UTF-8; llama.cpp writes an
// "[UNK_BYTE_0x..]" marker there instead.
std::string decode_byte_level(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (size_t pos = 0; pos < text.size();) {
        size_t n = utf8::valid_length(text, pos);
        if (n == 0) n = 1;
        uint32_t cp = static_cast<uint8_t>(text[pos]);
        if (n == 2) cp = ((cp & 0x1F) << 6) | (static_cast<uint8_t>(text[pos + 1]) & 0x3F);
        const int byte = n <= 2 ? unicode_to_byte(cp) : -1;
        if (byte >= 0) {
            out += static_cast<char>(byte);
        } else {
            out.append(text.substr(pos, n));
        }
        pos += n;
    }
    return out;
}

// Hugging Face's clean_up_tokenization_spaces, as llama.cpp's llama_detokenize does it: three
// passes over the bytes. ref: llama.cpp llama_vocab::impl::detokenize
std::string clean_spaces(const std::string& in) {
    auto pass = [](const std::string& s, auto&& keep_space_before) {
        std::string out;
        out.reserve(s.size());
        for (size_t i = 0; i < s.size(); ++i) {
            if (s[i] == ' ' && i + 1 < s.size() && !keep_space_before(s, i + 1)) continue;
            out += s[i];
        }
        return out;
    };
    // " ?", " !", " .", " ,"
    std::string s = pass(in, [](const std::string& t, size_t i) {
        return !(t[i] == '?' || t[i] == '!' || t[i] == '.' || t[i] == ',');
    });
    // " ' " -> "'": the apostrophe loses both spaces. The space after it is consumed and
    // cannot be the space before a second " ' " (as in llama.cpp).
    std::string t;
    t.reserve(s.size());
    bool prev_consumed = false;
    for (size_t i = 0; i < s.size(); ++i) {
        const bool after_space = i > 0 && s[i - 1] == ' ' && !prev_consumed;
        prev_consumed = false;
        if (s[i] == '\'' && after_space && i + 1 < s.size() && s[i + 1] == ' ') {
            t.back() = '\'';
            ++i;
            prev_consumed = true;
            continue;
        }
        t += s[i];
    }
    // " 's", " 'm", " 're", " 've" (not " 't", " 'd", " 'll")
    return pass(t, [](const std::string& u, size_t i) {
        if (u[i] != '\'' || i + 1 >= u.size()) return true;
        const char a = u[i + 1];
        if (a == 's' || a == 'm') return false;
        if (i + 2 >= u.size()) return true;
        const char b = u[i + 2];
        return !((a == 'r' && b == 'e') || (a == 'v' && b == 'e'));
    });
}

}  // namespace

std::string render_piece(const Vocab& vocab, int32_t id) {
    const TokenData& t = vocab.tokens[static_cast<size_t>(id)];
    if (t.attr & (kAttrControl | kAttrUnknown | kAttrUserDefined)) return t.text;
    if (t.attr & kAttrNormal) {
        return vocab.kind == VocabKind::kSpm ? unescape_spaces(t.text) : decode_byte_level(t.text);
    }
    if (t.attr & kAttrByte) {
        const int byte = parse_byte_token(t.text);
        return byte < 0 ? std::string() : std::string(1, static_cast<char>(byte));
    }
    return {};
}

const std::string& Tokenizer::checked_piece(int32_t id) const {
    if (id < 0 || id >= vocab_->n_tokens()) {
        fail(ErrorKind::kInvalidArgument, "token id {} is out of range (vocabulary of {} tokens)",
             id, vocab_->n_tokens());
    }
    return pieces_[static_cast<size_t>(id)];
}

std::string Tokenizer::token_to_piece(int32_t id, bool render_special) const {
    const std::string& piece = checked_piece(id);
    if (!render_special && vocab_->has(id, kAttrControl | kAttrUnknown)) return {};
    return piece;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool render_special,
                              bool remove_special) const {
    const Vocab& v = *vocab_;
    bool strip_space = v.add_space_prefix;
    // llama.cpp keeps the SPM leading space once it drops the BOS here; Hugging Face's decoder
    // (skip_special_tokens) strips it, and that makes decode(encode(x, true), ..., true) == x.
    if (remove_special && v.add_bos && !ids.empty() && ids.front() == v.bos) ids = ids.subspan(1);
    if (remove_special && v.add_eos && !ids.empty() && ids.back() == v.eos) {
        ids = ids.first(ids.size() - 1);
    }
    std::string out;
    for (const int32_t id : ids) {
        const std::string& full = checked_piece(id);
        std::string_view piece = full;
        if (!render_special && v.has(id, kAttrControl | kAttrUnknown)) piece = {};
        // Only the very first token can lose the space encode() put in front of the text.
        if (strip_space && !piece.empty() && piece.front() == ' ') piece.remove_prefix(1);
        strip_space = false;
        out.append(piece);
    }
    return v.clean_spaces ? clean_spaces(out) : out;
}

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, bool render_special)
    : tokenizer_(tokenizer), render_special_(render_special) {}

std::string StreamDecoder::push(int32_t id) {
    pending_ += tokenizer_.token_to_piece(id, render_special_);
    const size_t ready = pending_.size() - utf8::incomplete_tail(pending_);
    std::string out = pending_.substr(0, ready);
    pending_.erase(0, ready);
    return out;
}

std::string StreamDecoder::flush() {
    std::string out;
    out.swap(pending_);
    return out;
}

}  // namespace sobre::tokenizer
