// json.dumps() as Hugging Face's tojson calls it: the bytes must match Python's, since tool
// schemas are printed into prompts with it.
// ref: CPython Lib/json/encoder.py (py_encode_basestring, _make_iterencode).
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "chat/jinja/pystr.h"
#include "chat/jinja/value.h"
#include "core/error.h"

namespace sobre::chat::jinja {

namespace {

void append_json_string(std::string& out, std::string_view s, bool ensure_ascii) {
    char buf[16];
    out.push_back('"');
    auto escape_u = [&](unsigned v) {
        std::snprintf(buf, sizeof buf, "\\u%04x", v);
        out.append(buf);
    };
    for (char32_t cp : decode_utf8(s)) {
        switch (cp) {
            case '"':
                out.append("\\\"");
                continue;
            case '\\':
                out.append("\\\\");
                continue;
            case '\n':
                out.append("\\n");
                continue;
            case '\r':
                out.append("\\r");
                continue;
            case '\t':
                out.append("\\t");
                continue;
            case '\b':
                out.append("\\b");
                continue;
            case '\f':
                out.append("\\f");
                continue;
            default:
                break;
        }
        if (cp < 0x20 || (ensure_ascii && cp > 0x7E)) {
            if (cp >= 0x10000 && ensure_ascii) {
                const char32_t v = cp - 0x10000;
                escape_u(static_cast<unsigned>(0xD800 + (v >> 10)));
                escape_u(static_cast<unsigned>(0xDC00 + (v & 0x3FF)));
            } else {
                escape_u(static_cast<unsigned>(cp));
            }
        } else {
            append_utf8(out, cp);
        }
    }
    out.push_back('"');
}

std::string json_float(double d) {
    if (std::isnan(d)) return "NaN";
    if (std::isinf(d)) return d < 0 ? "-Infinity" : "Infinity";
    return py_float_repr(d);
}

[[noreturn]] void not_serializable(const Value& v) {
    fail(ErrorKind::kInvalidArgument, "Object of type {} is not JSON serializable", type_name(v));
}

// JSON object keys: json.dumps turns str, int, float, bool and None keys into strings.
std::string json_key(const Value& k) {
    switch (k.kind()) {
        case Value::Kind::kString:
            return k.as_string();
        case Value::Kind::kInt:
            return std::to_string(k.as_int());
        case Value::Kind::kBool:
            return k.as_bool() ? "true" : "false";
        case Value::Kind::kNone:
            return "null";
        case Value::Kind::kFloat:
            return json_float(k.as_double());
        default:
            fail(ErrorKind::kInvalidArgument, "keys must be str, int, float, bool or None, not {}",
                 type_name(k));
    }
}

class JsonWriter {
   public:
    JsonWriter(std::string& out, const JsonOptions& opt, size_t max_bytes)
        : out_(out), opt_(opt), max_bytes_(max_bytes) {}

    void write(const Value& v, int level) {
        if (out_.size() > max_bytes_) {
            fail(ErrorKind::kResourceExhausted, "tojson output longer than the limit of {} bytes",
                 max_bytes_);
        }
        switch (v.kind()) {
            case Value::Kind::kNone:
                out_.append("null");
                break;
            case Value::Kind::kBool:
                out_.append(v.as_bool() ? "true" : "false");
                break;
            case Value::Kind::kInt:
                out_.append(std::to_string(v.as_int()));
                break;
            case Value::Kind::kFloat:
                out_.append(json_float(v.as_double()));
                break;
            case Value::Kind::kString:
                append_json_string(out_, v.as_string(), opt_.ensure_ascii);
                break;
            case Value::Kind::kList:
                write_list(v, level);
                break;
            case Value::Kind::kDict:
                write_dict(v, level);
                break;
            default:
                not_serializable(v);
        }
    }

   private:
    // Opens a nesting level: with indent, each item starts on its own line.
    std::string open_level(int level) const {
        std::string nl = "\n";
        for (int i = 0; i <= level; ++i) nl += opt_.indent;
        return nl;
    }
    void close_level(int level) {
        out_.push_back('\n');
        for (int i = 0; i < level; ++i) out_ += opt_.indent;
    }

    void write_list(const Value& v, int level) {
        if (v.items().empty()) {
            out_.append("[]");
            return;
        }
        out_.push_back('[');
        const std::string nl = opt_.has_indent ? open_level(level) : "";
        out_ += nl;
        bool first = true;
        for (const Value& item : v.items()) {
            if (!first) out_ += opt_.item_sep, out_ += nl;
            first = false;
            write(item, level + 1);
        }
        if (opt_.has_indent) close_level(level);
        out_.push_back(']');
    }

    void write_dict(const Value& v, int level) {
        const Dict& d = v.as_dict();
        if (d.size() == 0) {
            out_.append("{}");
            return;
        }
        std::vector<const std::pair<Value, Value>*> items;
        for (const auto& kv : d.items()) items.push_back(&kv);
        if (opt_.sort_keys) {
            std::stable_sort(items.begin(), items.end(), [](const auto* a, const auto* b) {
                return compare(a->first, b->first) < 0;
            });
        }
        out_.push_back('{');
        const std::string nl = opt_.has_indent ? open_level(level) : "";
        out_ += nl;
        bool first = true;
        for (const auto* kv : items) {
            if (!first) out_ += opt_.item_sep, out_ += nl;
            first = false;
            append_json_string(out_, json_key(kv->first), opt_.ensure_ascii);
            out_ += opt_.key_sep;
            write(kv->second, level + 1);
        }
        if (opt_.has_indent) close_level(level);
        out_.push_back('}');
    }

    std::string& out_;
    const JsonOptions& opt_;
    size_t max_bytes_;
};

}  // namespace

void append_json(std::string& out, const Value& v, const JsonOptions& opt, size_t max_bytes) {
    JsonWriter(out, opt, max_bytes).write(v, 0);
    if (out.size() > max_bytes) {
        fail(ErrorKind::kResourceExhausted, "tojson output longer than the limit of {} bytes",
             max_bytes);
    }
}

}  // namespace sobre::chat::jinja
