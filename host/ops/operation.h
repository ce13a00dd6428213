// SPDX-License-Identifier: MIT
// The operation table: each operation's name, arguments, help and handler, so the protocol
// validates and documents itself (`{"op": "x", "args": {"help": true}}`).
#pragma once

#include "ops/context.h"
#include "util/pieces.h"
#include "util/secure.h"

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace smime {

using json = nlohmann::json;

enum class ArgType {
    String,
    Integer,
    Boolean,
    StringArray,
    Object,
    Secret,   // a string that is wiped after use and never logged; CLI reads it from a
              // prompt/file/env
    Payload,  // binary: base64 string inline, or {"chunks": N} followed by chunk frames
};

const char* arg_type_name(ArgType type);

struct ArgSpec {
    std::string name;
    ArgType type;
    bool required = false;
    std::string help;
};

// Sees a chunked payload while it arrives, so that work on it (digesting a message to sign)
// overlaps the upload instead of following it.
class PayloadObserver {
public:
    virtual ~PayloadObserver() = default;
    // All of the payload received so far; each call sees a longer prefix of the same bytes.
    virtual void received(std::string_view so_far) = 0;
    // Returns once nothing reads the bytes given so far any more: they are about to move (an
    // observer that works on a thread of its own finishes what it was given first).
    virtual void settle() {}
};

// One request as a handler sees it: validated arguments plus the decoded payload, if any.
struct Request {
    json args = json::object();
    SecureString payload;  // the Payload argument's bytes (may be plaintext mail: wiped after use)
    bool has_payload = false;
    std::unique_ptr<PayloadObserver>
        observer;  // what watched a chunked payload arrive, if anything did
};

// What a handler returns: a JSON result and optionally one binary payload field, which the
// transport sends inline or in chunks. The payload may hold views into the request's payload,
// which lives until the reply is sent.
struct Reply {
    json result = json::object();
    std::optional<Pieces> payload;
};

using Handler = std::function<Reply(Context&, Request&)>;

struct Operation {
    std::string name;     // "message.sign"
    std::string summary;  // one line
    std::vector<ArgSpec> args;
    std::string result_help;           // what result holds
    std::string payload_result;        // name of the binary result field, if any ("mime", "data")
    std::vector<std::string> aliases;  // CLI short names ("sign")
    Handler handler;
    bool cli_only = false;  // reachable from the command line only, never over the protocol
    // For chunked payloads: an observer to feed as chunks arrive (may return none).
    std::function<std::unique_ptr<PayloadObserver>(Context&, const json& args)> observe;

    const ArgSpec* payload_arg() const;
    const ArgSpec* find_arg(const std::string& arg_name) const;
    json help() const;
};

// An operation's handler and the observer its `observe` makes, bound by type: the handler gets
// that observer as the type that was made (nullptr when the payload came inline, or `make`
// returned none), so it never has to find out at run time what it was given.
template <class Observer>
struct Observed {
    std::unique_ptr<Observer> (*make)(Context&, const json& args);
    Reply (*handle)(Context&, Request&, Observer*);

    std::function<std::unique_ptr<PayloadObserver>(Context&, const json&)> observe() const {
        return [make = make](Context& context, const json& args) {
            return std::unique_ptr<PayloadObserver>(make(context, args));
        };
    }
    Handler handler() const {
        // Only `make` fills request.observer for this operation: it is an Observer.
        return [handle = handle](Context& context, Request& request) {
            return handle(context, request, static_cast<Observer*>(request.observer.get()));
        };
    }
};

class Registry {
public:
    void add(Operation op);
    const Operation* find(const std::string& name) const;  // by name or CLI alias
    std::vector<std::string> names() const;
    const std::map<std::string, Operation>& all() const noexcept { return ops_; }

private:
    std::map<std::string, Operation> ops_;
    std::map<std::string, std::string> aliases_;
};

// The registry with every operation of the host.
const Registry& registry();

// Validates `args` against `op` (types, required, unknown fields). Throws Error(BadRequest).
// A Payload argument is left as given (string or chunk reference) for the transport to resolve.
void validate_args(const Operation& op, const json& args);

// Wipes the Secret arguments inside `args` in place.
void wipe_secrets(const Operation& op, json& args);

// Helpers for handlers: typed reads of validated arguments.
std::string arg_string(const json& args, const char* name, const std::string& fallback = {});
bool arg_bool(const json& args, const char* name, bool fallback = false);
std::vector<std::string> arg_strings(const json& args, const char* name);

}  // namespace smime
