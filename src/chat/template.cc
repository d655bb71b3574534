#include "chat/template.h"

#include "chat/jinja/lexer.h"
#include "chat/jinja/parser.h"
#include "chat/jinja/runtime.h"
#include "core/error.h"

namespace sobre::chat {

namespace {

using jinja::Value;

// JSON to template values, keeping object key order. Depth is bounded like template values.
template <class Json>
Value to_value(const Json& j, int depth) {
    if (depth > jinja::kMaxValueDepth) {
        fail(ErrorKind::kResourceExhausted, "context JSON nested more than {} levels deep",
             jinja::kMaxValueDepth);
    }
    switch (j.type()) {
        case nlohmann::json::value_t::null:
            return Value::none();
        case nlohmann::json::value_t::boolean:
            return Value::boolean(j.template get<bool>());
        case nlohmann::json::value_t::number_integer:
            return Value::integer(j.template get<int64_t>());
        case nlohmann::json::value_t::number_unsigned: {
            const auto u = j.template get<uint64_t>();
            if (u <= static_cast<uint64_t>(INT64_MAX))
                return Value::integer(static_cast<int64_t>(u));
            return Value::number(static_cast<double>(u));
        }
        case nlohmann::json::value_t::number_float:
            return Value::number(j.template get<double>());
        case nlohmann::json::value_t::string:
            return Value::string(j.template get<std::string>());
        case nlohmann::json::value_t::array: {
            std::vector<Value> items;
            items.reserve(j.size());
            for (const auto& e : j) items.push_back(to_value(e, depth + 1));
            return Value::list(std::move(items));
        }
        case nlohmann::json::value_t::object: {
            auto d = std::make_shared<jinja::Dict>();
            for (auto it = j.begin(); it != j.end(); ++it) {
                d->insert(Value::string(it.key()), to_value(it.value(), depth + 1));
            }
            return Value::dict(std::move(d));
        }
        default:
            fail(ErrorKind::kInvalidArgument, "context holds a JSON value of unsupported type '{}'",
                 j.type_name());
    }
}

template <class Json>
std::string render_json(const jinja::Program& program, const Json& context,
                        const RenderOptions& options) {
    if (!context.is_object()) {
        fail(ErrorKind::kInvalidArgument, "chat template context must be a JSON object, not {}",
             context.type_name());
    }
    std::vector<std::pair<std::string, Value>> vars;
    for (auto it = context.begin(); it != context.end(); ++it) {
        vars.emplace_back(it.key(), to_value(it.value(), 1));
    }
    std::tm now{};
    if (options.now) {
        now = *options.now;
    } else {
        const std::time_t t = std::time(nullptr);
        localtime_r(&t, &now);
    }
    jinja::Runtime rt(options.limits, now);
    return rt.render(program, std::move(vars));
}

}  // namespace

Template::Template(std::string_view source) {
    if (source.size() > kMaxTemplateBytes) {
        fail(ErrorKind::kResourceExhausted, "chat template of {} bytes is over the limit of {}",
             source.size(), kMaxTemplateBytes);
    }
    program_ = jinja::parse(jinja::tokenize(source));
}

Template::~Template() = default;
Template::Template(Template&&) noexcept = default;
Template& Template::operator=(Template&&) noexcept = default;

std::string Template::render(const nlohmann::ordered_json& context,
                             const RenderOptions& options) const {
    return render_json(*program_, context, options);
}

std::string Template::render(const nlohmann::json& context, const RenderOptions& options) const {
    return render_json(*program_, context, options);
}

std::string render_chat(const std::string& template_src, const nlohmann::ordered_json& context,
                        const RenderOptions& options) {
    return Template(template_src).render(context, options);
}

std::string render_chat(const std::string& template_src, const nlohmann::json& context,
                        const RenderOptions& options) {
    return Template(template_src).render(context, options);
}

nlohmann::ordered_json context_from_case(const nlohmann::ordered_json& c) {
    if (!c.is_object() || !c.contains("messages") || !c["messages"].is_array()) {
        fail(ErrorKind::kInvalidArgument, "chat case: 'messages' must be an array");
    }
    nlohmann::ordered_json ctx = nlohmann::ordered_json::object();
    ctx["messages"] = c["messages"];
    ctx["tools"] = c.contains("tools") ? c["tools"] : nlohmann::ordered_json();
    ctx["add_generation_prompt"] = c.contains("add_generation_prompt")
                                       ? c["add_generation_prompt"]
                                       : nlohmann::ordered_json(false);
    for (const char* token : {"bos_token", "eos_token"}) {
        if (c.contains(token) && !c[token].is_null()) ctx[token] = c[token];
    }
    if (c.contains("extra") && !c["extra"].is_null()) {
        if (!c["extra"].is_object())
            fail(ErrorKind::kInvalidArgument, "chat case: 'extra' must be an object");
        for (auto it = c["extra"].begin(); it != c["extra"].end(); ++it) ctx[it.key()] = it.value();
    }
    return ctx;
}

}  // namespace sobre::chat
