// SPDX-License-Identifier: MIT
// The operation table, argument validation and self-description.
#include "ops/operation.h"

#include "ops/groups.h"
#include "util/error.h"

namespace smime {

const char* arg_type_name(ArgType type) {
    switch (type) {
        case ArgType::String: return "string";
        case ArgType::Integer: return "integer";
        case ArgType::Boolean: return "boolean";
        case ArgType::StringArray: return "array of strings";
        case ArgType::Object: return "object";
        case ArgType::Secret: return "string (secret)";
        case ArgType::Payload: return "payload (base64 string, or chunked)";
    }
    return "?";
}

const ArgSpec* Operation::payload_arg() const {
    for (const auto& a : args)
        if (a.type == ArgType::Payload) return &a;
    return nullptr;
}

const ArgSpec* Operation::find_arg(const std::string& arg_name) const {
    for (const auto& a : args)
        if (a.name == arg_name) return &a;
    return nullptr;
}

json Operation::help() const {
    json out = {
        {"op", name}, {"summary", summary}, {"args", json::array()}, {"result", result_help}};
    for (const auto& a : args)
        out["args"].push_back({{"name", a.name},
                               {"type", arg_type_name(a.type)},
                               {"required", a.required},
                               {"help", a.help}});
    if (!payload_result.empty()) out["payload_result"] = payload_result;
    if (!aliases.empty()) out["cli"] = aliases;
    return out;
}

void Registry::add(Operation op) {
    for (const auto& alias : op.aliases) aliases_[alias] = op.name;
    auto name = op.name;
    ops_.emplace(std::move(name), std::move(op));
}

const Operation* Registry::find(const std::string& name) const {
    if (auto it = ops_.find(name); it != ops_.end()) return &it->second;
    if (auto al = aliases_.find(name); al != aliases_.end()) return find(al->second);
    return nullptr;
}

std::vector<std::string> Registry::names() const {
    std::vector<std::string> out;
    for (const auto& [name, op] : ops_)
        if (!op.cli_only) out.push_back(name);
    return out;
}

const Registry& registry() {
    static const Registry instance = [] {
        Registry r;
        register_host_ops(r);
        register_keystore_ops(r);
        register_message_ops(r);
        return r;
    }();
    return instance;
}

namespace {

bool type_matches(ArgType type, const json& value) {
    switch (type) {
        case ArgType::String:
        case ArgType::Secret: return value.is_string();
        case ArgType::Integer: return value.is_number_integer();
        case ArgType::Boolean: return value.is_boolean();
        case ArgType::Object: return value.is_object();
        case ArgType::StringArray:
            if (!value.is_array()) return false;
            for (const auto& item : value)
                if (!item.is_string()) return false;
            return true;
        case ArgType::Payload: return value.is_string() || value.is_object();
    }
    return false;
}

}  // namespace

void validate_args(const Operation& op, const json& args) {
    for (const auto& [key, value] : args.items()) {
        const ArgSpec* spec = op.find_arg(key);
        if (!spec)
            throw Error(Code::BadRequest, "unknown argument '" + key + "' for " + op.name,
                        {{"field", "args." + key}});
        if (!type_matches(spec->type, value))
            throw Error(Code::BadRequest,
                        "argument '" + key + "' must be " + arg_type_name(spec->type),
                        {{"field", "args." + key}, {"expected", arg_type_name(spec->type)}});
    }
    for (const auto& spec : op.args)
        if (spec.required && !args.contains(spec.name))
            throw Error(Code::BadRequest, "missing argument '" + spec.name + "' for " + op.name,
                        {{"field", "args." + spec.name}});
}

void wipe_secrets(const Operation& op, json& args) {
    for (const auto& spec : op.args) {
        if (spec.type != ArgType::Secret) continue;
        auto it = args.find(spec.name);
        if (it != args.end() && it->is_string()) cleanse(it->get_ref<std::string&>());
    }
}

std::string arg_string(const json& args, const char* name, const std::string& fallback) {
    auto it = args.find(name);
    return (it != args.end() && it->is_string()) ? it->get<std::string>() : fallback;
}

bool arg_bool(const json& args, const char* name, bool fallback) {
    auto it = args.find(name);
    return (it != args.end() && it->is_boolean()) ? it->get<bool>() : fallback;
}

std::vector<std::string> arg_strings(const json& args, const char* name) {
    auto it = args.find(name);
    if (it == args.end() || !it->is_array()) return {};
    return it->get<std::vector<std::string>>();
}

}  // namespace smime
