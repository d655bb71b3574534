#include "server/tool_choice.h"

#include "core/error.h"

namespace sobre::server {
namespace {

using nlohmann::json;

const json* function_of(const json& tool) {
    if (!tool.is_object() || tool.value("type", "") != "function") return nullptr;
    const auto it = tool.find("function");
    return it != tool.end() && it->is_object() && it->contains("name") && (*it)["name"].is_string() ? &*it : nullptr;
}

// A tool's parameters schema; a function without one takes any object.
json parameters_of(const json& function) {
    const auto it = function.find("parameters");
    return it == function.end() || it->is_null() ? json{{"type", "object"}} : *it;
}

json call_entry(const std::string& name, const json& arguments) {
    return {{"id", "call_0"}, {"type", "function"}, {"function", {{"name", name}, {"arguments", arguments.dump()}}}};
}

}  // namespace

ToolChoice parse_tool_choice(const json& body) {
    ToolChoice c;
    const auto it = body.find("tool_choice");
    if (it == body.end() || it->is_null()) return c;
    const json& v = *it;
    if (v.is_string() && v == "auto") return c;
    if (v.is_string() && v == "none") {
        c.mode = ToolChoice::kNone;
        return c;
    }
    if (v.is_string() && v == "required") {
        c.mode = ToolChoice::kRequired;
    } else if (v.is_object() && v.value("type", "") == "function" && v.contains("function") && v["function"].is_object() &&
               v["function"].contains("name") && v["function"]["name"].is_string()) {
        c.mode = ToolChoice::kNamed;
        c.name = v["function"]["name"].get<std::string>();
    } else {
        fail(ErrorKind::kInvalidArgument,
             "'tool_choice' must be \"auto\", \"none\", \"required\" or {{\"type\": \"function\", \"function\": {{\"name\": ...}}}}");
    }
    const auto tools = body.find("tools");
    if (tools == body.end() || !tools->is_array() || tools->empty()) {
        fail(ErrorKind::kInvalidArgument, "'tool_choice' {} needs 'tools'", v.dump());
    }
    for (const json& t : *tools) {
        const json* f = function_of(t);
        if (!f) fail(ErrorKind::kInvalidArgument, "'tools' entries must be {{\"type\": \"function\", \"function\": {{\"name\": ...}}}}");
        if (c.mode == ToolChoice::kNamed && (*f)["name"] == c.name) return c;
    }
    if (c.mode == ToolChoice::kNamed) fail(ErrorKind::kInvalidArgument, "'tool_choice' names '{}', which is not among 'tools'", c.name);
    return c;
}

std::vector<json> forced_call_schemas(const json& tools, const ToolChoice& choice) {
    std::vector<json> schemas;
    for (const json& t : tools) {
        const json* f = function_of(t);
        if (!f) continue;
        const std::string name = (*f)["name"].get<std::string>();
        if (choice.mode == ToolChoice::kNamed) {
            if (name == choice.name) return {parameters_of(*f)};
            continue;
        }
        schemas.push_back({{"type", "object"},
                           {"properties", {{"name", {{"const", name}}}, {"arguments", parameters_of(*f)}}},
                           {"required", {"name", "arguments"}},
                           {"additionalProperties", false}});
    }
    return schemas;
}

json forced_tool_calls(const std::string& text, const ToolChoice& choice) {
    const json doc = json::parse(text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) return json::array();
    if (choice.mode == ToolChoice::kNamed) return json::array({call_entry(choice.name, doc)});
    if (!doc.contains("name") || !doc["name"].is_string() || !doc.contains("arguments")) return json::array();
    return json::array({call_entry(doc["name"].get<std::string>(), doc["arguments"])});
}

}  // namespace sobre::server
