#include "server/json_constraint.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <set>

#include "core/error.h"

namespace sobre::server {

using nlohmann::json;

// Types as bits, so "type": ["string", "null"] is one mask.
enum TypeBit : uint32_t {
    kObject = 1, kArray = 2, kString = 4, kNumber = 8, kInteger = 16, kBoolean = 32, kNull = 64,
    kAnyType = 127,
};

struct SchemaNode {
    uint32_t types = kAnyType;
    std::vector<std::pair<std::string, std::shared_ptr<SchemaNode>>> properties;
    std::set<std::string> required;
    bool additional = true;                   // other keys allowed (any value)
    std::shared_ptr<SchemaNode> items;        // null: any
    std::vector<std::string> literals;        // enum / const as compact JSON texts; empty: none
};

namespace {

uint32_t type_bit(const std::string& t) {
    if (t == "object") return kObject;
    if (t == "array") return kArray;
    if (t == "string") return kString;
    if (t == "number") return kNumber | kInteger;
    if (t == "integer") return kInteger;
    if (t == "boolean") return kBoolean;
    if (t == "null") return kNull;
    fail(ErrorKind::kInvalidArgument, "json_schema: unknown type '{}'", t);
}

std::shared_ptr<SchemaNode> compile(const json& s, int depth) {
    if (depth > 32) fail(ErrorKind::kInvalidArgument, "json_schema: nested deeper than 32 levels");
    auto node = std::make_shared<SchemaNode>();
    if (s.is_boolean() && s.get<bool>()) return node;
    if (!s.is_object()) fail(ErrorKind::kInvalidArgument, "json_schema: a schema must be an object");
    static const std::set<std::string> kIgnored = {"title", "description", "$schema", "default", "examples",
                                                   "strict", "format", "$id"};
    for (const auto& [k, v] : s.items()) {
        if (k == "type") {
            node->types = 0;
            if (v.is_string()) node->types = type_bit(v.get<std::string>());
            else if (v.is_array()) for (const json& t : v) node->types |= type_bit(t.get<std::string>());
            else fail(ErrorKind::kInvalidArgument, "json_schema: 'type' must be a string or a list");
        } else if (k == "properties") {
            if (!v.is_object()) fail(ErrorKind::kInvalidArgument, "json_schema: 'properties' must be an object");
            for (const auto& [name, sub] : v.items()) node->properties.emplace_back(name, compile(sub, depth + 1));
        } else if (k == "required") {
            for (const json& r : v) node->required.insert(r.get<std::string>());
        } else if (k == "additionalProperties") {
            node->additional = !(v.is_boolean() && !v.get<bool>());
        } else if (k == "items") {
            node->items = compile(v, depth + 1);
        } else if (k == "enum") {
            for (const json& e : v) node->literals.push_back(e.dump());
        } else if (k == "const") {
            node->literals.push_back(v.dump());
        } else if (!kIgnored.count(k)) {
            fail(ErrorKind::kInvalidArgument, "json_schema: the keyword '{}' is not supported", k);
        }
    }
    for (const std::string& r : node->required) {
        const bool known = std::any_of(node->properties.begin(), node->properties.end(),
                                       [&](const auto& p) { return p.first == r; });
        if (!known && !node->additional) fail(ErrorKind::kInvalidArgument, "json_schema: required '{}' is not a property", r);
    }
    return node;
}

bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

}  // namespace

// One open construct. Frames never hold pointers into other frames, so the stack copies cheaply.
struct SchemaMachine::Frame {
    enum Kind : uint8_t { kValue, kObject, kArray, kString, kNumber, kLiteral } kind = kValue;
    std::shared_ptr<const SchemaNode> schema;
    // kObject: 0 expect key or '}', 1 in key, 2 expect ':', 3 expect value, 4 expect ',' or '}', 5 expect key
    // kArray: 0 expect value or ']', 1 expect ',' or ']', 2 expect value
    // kString: 0 normal, 1 after '\\', 2..5 reading \\u hex digits; key strings report to the parent
    // kNumber: 0 after '-', 1 int '0', 2 int digits, 3 after '.', 4 frac digits, 5 after 'e', 6 after sign, 7 exp digits
    int state = 0;
    bool is_key = false;
    bool integer_only = false;
    std::string text;                  // key being read / literal matched so far
    std::vector<std::string> options;  // kLiteral: texts still possible
    std::set<std::string> seen;        // kObject: keys already given
    std::shared_ptr<const SchemaNode> pending;  // kObject: schema of the value after the current key
};

SchemaMachine::SchemaMachine(const json* schema) {
    root_ = schema ? compile(*schema, 0) : std::make_shared<SchemaNode>();
    if (!schema) std::const_pointer_cast<SchemaNode>(root_)->types = kObject;
    Frame f;
    f.kind = Frame::kValue;
    f.schema = root_;
    stack_.push_back(f);
}

SchemaMachine::SchemaMachine(const SchemaMachine&) = default;
SchemaMachine& SchemaMachine::operator=(const SchemaMachine&) = default;
SchemaMachine::~SchemaMachine() = default;

bool SchemaMachine::complete() const { return done_; }


namespace {

// Keys of `schema` that `prefix` can still become, given the keys already seen.
bool key_possible(const SchemaNode& s, const std::set<std::string>& seen, const std::string& prefix) {
    if (s.additional) return true;
    for (const auto& [name, sub] : s.properties) {
        if (!seen.count(name) && name.compare(0, prefix.size(), prefix) == 0) return true;
    }
    return false;
}

bool key_is_property(const SchemaNode& s, const std::string& key) {
    return std::any_of(s.properties.begin(), s.properties.end(), [&](const auto& p) { return p.first == key; });
}

bool keys_left(const SchemaNode& s, const std::set<std::string>& seen) {
    if (s.additional) return true;
    return std::any_of(s.properties.begin(), s.properties.end(), [&](const auto& p) { return !seen.count(p.first); });
}

bool required_met(const SchemaNode& s, const std::set<std::string>& seen) {
    return std::all_of(s.required.begin(), s.required.end(), [&](const std::string& r) { return seen.count(r) > 0; });
}

std::shared_ptr<const SchemaNode> property_schema(const SchemaNode& s, const std::string& key) {
    for (const auto& [name, sub] : s.properties) {
        if (name == key) return sub;
    }
    return std::make_shared<SchemaNode>();
}

}  // namespace

bool SchemaMachine::feed(unsigned char c) {
    if (done_ || stack_.empty()) return false;
    Frame& f = stack_.back();
    // A value that just ended hands the byte to the construct around it.
    auto finish_value = [this]() {
        stack_.pop_back();
        if (stack_.empty()) {
            done_ = true;
            return;
        }
        Frame& parent = stack_.back();
        if (parent.kind == Frame::kObject) parent.state = 4;
        if (parent.kind == Frame::kArray) parent.state = 1;
    };
    switch (f.kind) {
        case Frame::kValue: {
            const SchemaNode& s = *f.schema;
            if (!s.literals.empty()) {
                std::vector<std::string> opts;
                for (const std::string& l : s.literals) {
                    if (!l.empty() && static_cast<unsigned char>(l[0]) == c) opts.push_back(l);
                }
                if (opts.empty()) return false;
                f.kind = Frame::kLiteral;
                f.options = opts;
                f.text = std::string(1, static_cast<char>(c));
                if (opts.size() == 1 && opts[0].size() == 1) finish_value();
                return true;
            }
            if (c == '{' && (s.types & kObject)) {
                f.kind = Frame::kObject;
                f.state = 0;
                return true;
            }
            if (c == '[' && (s.types & kArray)) {
                f.kind = Frame::kArray;
                f.state = 0;
                return true;
            }
            if (c == '"' && (s.types & kString)) {
                f.kind = Frame::kString;
                f.state = 0;
                return true;
            }
            if ((c == '-' || is_digit(c)) && (s.types & (kNumber | kInteger))) {
                f.kind = Frame::kNumber;
                f.integer_only = !(s.types & kNumber);
                f.state = c == '-' ? 0 : (c == '0' ? 1 : 2);
                return true;
            }
            std::vector<std::string> words;
            if (s.types & kBoolean) words = {"true", "false"};
            if (s.types & kNull) words.push_back("null");
            for (const std::string& w : words) {
                if (static_cast<unsigned char>(w[0]) == c) {
                    f.kind = Frame::kLiteral;
                    f.options = {w};
                    f.text = std::string(1, static_cast<char>(c));
                    return true;
                }
            }
            return false;
        }
        case Frame::kLiteral: {
            std::vector<std::string> opts;
            const std::string next = f.text + static_cast<char>(c);
            for (const std::string& o : f.options) {
                if (o.compare(0, next.size(), next) == 0) opts.push_back(o);
            }
            if (opts.empty()) {
                // A finished literal (an enum number such as 1 in [1, 12]) lets the byte pass on.
                if (std::find(f.options.begin(), f.options.end(), f.text) == f.options.end()) return false;
                finish_value();
                return feed(c);
            }
            f.options = opts;
            f.text = next;
            if (opts.size() == 1 && opts[0] == next) finish_value();
            return true;
        }
        case Frame::kString: {
            if (f.state == 0) {
                if (c == '"') {
                    if (f.is_key) {
                        const std::string key = f.text;
                        const Frame& owner = stack_[stack_.size() - 2];
                        if (!owner.schema->additional && !key_is_property(*owner.schema, key)) return false;
                        stack_.pop_back();
                        Frame& obj = stack_.back();
                        obj.seen.insert(key);
                        obj.pending = property_schema(*obj.schema, key);
                        obj.state = 2;
                        return true;
                    }
                    finish_value();
                    return true;
                }
                if (c == '\\') {
                    if (f.is_key) return false;  // keys are plain property names
                    f.state = 1;
                    return true;
                }
                if (c < 0x20) return false;
                if (f.is_key) {
                    const Frame& obj = stack_[stack_.size() - 2];
                    if (!key_possible(*obj.schema, obj.seen, f.text + static_cast<char>(c))) return false;
                    f.text += static_cast<char>(c);
                }
                return true;
            }
            if (f.state == 1) {
                if (c == 'u') {
                    f.state = 2;
                    return true;
                }
                if (std::string_view("\"\\/bfnrt").find(static_cast<char>(c)) == std::string_view::npos) return false;
                f.state = 0;
                return true;
            }
            if (!std::isxdigit(c)) return false;
            f.state = f.state == 5 ? 0 : f.state + 1;
            return true;
        }
        case Frame::kNumber: {
            auto go = [&](int s) {
                f.state = s;
                return true;
            };
            const bool ends_ok = f.state == 1 || f.state == 2 || f.state == 4 || f.state == 7;
            switch (f.state) {
                case 0: if (c == '0') return go(1); if (is_digit(c)) return go(2); return false;
                case 1: if (c == '.' && !f.integer_only) return go(3); if ((c == 'e' || c == 'E') && !f.integer_only) return go(5); break;
                case 2: if (is_digit(c)) return go(2); if (c == '.' && !f.integer_only) return go(3); if ((c == 'e' || c == 'E') && !f.integer_only) return go(5); break;
                case 3: if (is_digit(c)) return go(4); return false;
                case 4: if (is_digit(c)) return go(4); if (c == 'e' || c == 'E') return go(5); break;
                case 5: if (c == '+' || c == '-') return go(6); if (is_digit(c)) return go(7); return false;
                case 6: if (is_digit(c)) return go(7); return false;
                case 7: if (is_digit(c)) return go(7); break;
                default: return false;
            }
            if (!ends_ok || stack_.size() == 1) return false;  // a top-level number never ends
            finish_value();
            return feed(c);
        }
        case Frame::kObject: {
            const SchemaNode& s = *f.schema;
            if ((f.state == 0 || f.state == 4) && c == '}') {
                if (!required_met(s, f.seen)) return false;
                finish_value();
                return true;
            }
            if (f.state == 4 && c == ',') {
                if (!keys_left(s, f.seen)) return false;
                f.state = 5;
                return true;
            }
            if ((f.state == 0 || f.state == 5) && c == '"') {
                if (!keys_left(s, f.seen)) return false;
                Frame key;
                key.kind = Frame::kString;
                key.is_key = true;
                stack_.push_back(key);
                return true;
            }
            if (f.state == 2 && c == ':') {
                Frame value;
                value.kind = Frame::kValue;
                value.schema = f.pending;
                f.state = 3;
                stack_.push_back(value);
                return true;
            }
            return false;
        }
        case Frame::kArray: {
            if ((f.state == 0 || f.state == 1) && c == ']') {
                finish_value();
                return true;
            }
            if (f.state == 1 && c == ',') {
                f.state = 2;
                return true;
            }
            if (f.state == 0 || f.state == 2) {
                Frame value;
                value.kind = Frame::kValue;
                value.schema = f.schema->items ? f.schema->items : std::make_shared<SchemaNode>();
                f.state = 1;
                stack_.push_back(value);
                return feed(c);
            }
            return false;
        }
    }
    return false;
}

JsonMachine::JsonMachine(const json* schema) { alternatives_.emplace_back(schema); }

JsonMachine::JsonMachine(const std::vector<json>& any_of) {
    if (any_of.empty()) fail(ErrorKind::kInvalidArgument, "json_schema: no schema to follow");
    for (const json& s : any_of) alternatives_.emplace_back(&s);
}

bool JsonMachine::feed(unsigned char c) {
    if (alternatives_.size() == 1) return alternatives_[0].feed(c);
    std::vector<SchemaMachine> next;
    for (const SchemaMachine& a : alternatives_) {
        SchemaMachine trial = a;
        if (trial.feed(c)) next.push_back(std::move(trial));
    }
    if (next.empty()) return false;
    alternatives_ = std::move(next);
    return true;
}

bool JsonMachine::feed(const std::string& s) {
    for (unsigned char c : s) {
        if (!feed(c)) return false;
    }
    return true;
}

bool JsonMachine::complete() const {
    return std::any_of(alternatives_.begin(), alternatives_.end(), [](const SchemaMachine& a) { return a.complete(); });
}

bool SchemaMachine::in_free_string() const {
    return !done_ && !stack_.empty() && stack_.back().kind == Frame::kString && !stack_.back().is_key &&
           stack_.back().state == 0;
}

bool JsonMachine::in_free_string() const {
    return std::all_of(alternatives_.begin(), alternatives_.end(), [](const SchemaMachine& a) { return a.in_free_string(); });
}

ConstraintVocab::ConstraintVocab(std::vector<std::string> p, std::vector<bool> e) : pieces(std::move(p)), eog(std::move(e)) {
    free_text.reserve(pieces.size());
    for (const std::string& piece : pieces) {
        free_text.push_back(std::none_of(piece.begin(), piece.end(), [](char ch) {
            const auto c = static_cast<unsigned char>(ch);
            return c == '"' || c == '\\' || c < 0x20;
        }));
    }
}

void mask_logits(const JsonMachine& m, const ConstraintVocab& vocab, float* logits, int64_t n_vocab) {
    // Which bytes can come next at all: 256 trials instead of one per token.
    std::array<bool, 256> first_ok{};
    for (int c = 0; c < 256; ++c) {
        JsonMachine trial = m;
        first_ok[c] = trial.feed(static_cast<unsigned char>(c));
    }
    const bool free_string = m.in_free_string();
    bool any = false;
    for (int64_t i = 0; i < n_vocab; ++i) {
        const std::string& piece = vocab.pieces[i];
        if (vocab.eog[i]) continue;
        bool ok = !piece.empty() && first_ok[static_cast<unsigned char>(piece[0])];
        if (ok && !(free_string && vocab.free_text[i])) {
            JsonMachine trial = m;
            ok = trial.feed(piece);
        }
        if (!ok) logits[i] = -INFINITY;
        any |= ok;
    }
    // Complete, or (a dead end the grammar did not foresee) nothing can continue: only the end is left.
    const bool done = m.complete() || !any;
    for (int64_t i = 0; i < n_vocab; ++i) {
        if (vocab.eog[i] ? !done : done) logits[i] = -INFINITY;
    }
}

}  // namespace sobre::server
