// SPDX-License-Identifier: MIT
// The request envelope: {"id", "op", "args"} requests and {"id", "chunk", "data"} chunk frames.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace smime {
class Error;
}  // namespace smime

namespace smime::envelope {

using json = nlohmann::json;

struct Chunk {
    json id;
    std::uint64_t index = 0;
    std::string_view data;  // base64 text; points into the frame or into `owned`
    std::string owned;
};

struct Parsed {
    bool is_chunk = false;
    json id;  // null when absent
    std::string op;
    json args = json::object();
    Chunk chunk;
};

// Fast path for chunk frames: recognises exactly {"id": <int|string>, "chunk": <uint>, "data":
// "<text without escapes>"} in any member order without running a JSON parser over the payload.
// Anything else returns nullopt, and parse() handles it (so this is only an optimisation).
std::optional<Chunk> parse_chunk_fast(std::string_view frame);

// Parses and validates one frame. Sets `id` as soon as it is known so that an error reply can
// carry it. Throws Error (BadJson, BadRequest).
Parsed parse(std::string_view frame, json& id);

// The reply that reports `error` for request `id`: {"id", "ok": false, "error": {code, message,
// details}}. The CLI's --json output uses the same shape.
json error_reply(const json& id, const Error& error);

// The key under which pending uploads are tracked for an id.
std::string id_key(const json& id);

// If `args` holds a chunk reference {"chunks": N}, returns N (used to skip the chunks of a
// request that was refused).
std::optional<std::uint64_t> announced_chunks(const json& args);

}  // namespace smime::envelope
