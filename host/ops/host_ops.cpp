// SPDX-License-Identifier: MIT
// Operations about the host itself: `hello` (self-description) and `echo` (transport check).
#include "ops/groups.h"
#include "ops/operation.h"
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
        {"features", json::array({"protect_headers", "header_protection", "recipient_trust",
                                  "certificates_paging", "authenticated_encryption"})},
        {"caller", caller},
        {"policy", context.policy().describe()},
        {"limits", context.transport_limits()},
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
    registry.add({
        .name = "hello",
        .summary = "Describe the host: version, protocol, OpenSSL version, operations, limits.",
        .result_help = "{name, version, protocol, openssl, operations[], features[], caller{kind, "
                       "origin?, addon_id?}, limits{}}",
        .handler = hello,
    });
    registry.add({
        .name = "echo",
        .summary =
            "Return the payload (and text) as sent; checks the transport, including chunking.",
        .args = {{"data", ArgType::Payload, false, "bytes to send back"},
                 {"text", ArgType::String, false, "a string to send back (checks UTF-8 handling)"}},
        .result_help = "{size, data (payload, inline or chunked), text?}",
        .payload_result = "data",
        .handler = echo,
    });
}

}  // namespace smime
