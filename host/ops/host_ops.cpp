// SPDX-License-Identifier: MIT
// Operations about the host itself: `hello` (self-description) and `echo` (transport check).
#include "ops/groups.h"
#include "ops/operation.h"
#include "protocol/limits.h"
#include "version.h"

#include <openssl/crypto.h>

namespace smime {
namespace {

Reply hello(Context& context, Request&) {
    Reply reply;
    json caller = {{"kind", context.caller().kind_name()}};
    if (!context.caller().origin.empty()) caller["origin"] = context.caller().origin;
    if (!context.caller().addon_id.empty()) caller["addon_id"] = context.caller().addon_id;
    reply.result = {
        {"name", "smime-host"},
        {"version", kVersion},
        {"protocol", kProtocolVersion},
        {"openssl", OpenSSL_version(OPENSSL_VERSION)},
        {"operations", registry().names()},
        // Optional capabilities a caller may rely on (docs/protocol.md, hello).
        {"features", json::array({"protect_headers", "header_protection", "recipient_trust", "certificates_paging",
                                  "authenticated_encryption"})},
        {"caller", caller},
        {"policy", context.policy().describe()},
        {"limits",
         {{"max_frame_to_host", limits::kMaxIncomingFrame},
          {"max_frame_from_host", limits::kMaxOutgoingFrame},
          {"max_payload", limits::kMaxPayload},
          {"reply_chunk_bytes", limits::kReplyChunkRaw},
          {"max_inline_reply_payload", limits::kMaxInlineReplyPayload}}},
    };
    return reply;
}

Reply echo(Context&, Request& request) {
    Reply reply;
    reply.result["size"] = request.payload.size();
    if (request.args.contains("text")) reply.result["text"] = request.args["text"];
    reply.payload = std::move(request.payload);
    return reply;
}

}  // namespace

void register_host_ops(Registry& registry) {
    registry.add({"hello",
                  "Describe the host: version, protocol, OpenSSL version, operations, limits.",
                  {},
                  "{name, version, protocol, openssl, operations[], features[], caller{kind, origin?, addon_id?}, limits{}}",
                  "",
                  {},
                  hello});
    registry.add({"echo",
                  "Return the payload (and text) as sent; checks the transport, including chunking.",
                  {{"data", ArgType::Payload, false, "bytes to send back"},
                   {"text", ArgType::String, false, "a string to send back (checks UTF-8 handling)"}},
                  "{size, data (payload, inline or chunked), text?}",
                  "data",
                  {},
                  echo});
}

}  // namespace smime
