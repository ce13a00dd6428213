// SPDX-License-Identifier: MIT
// The protocol's size limits, in one place (docs/protocol.md quotes them).
#pragma once

#include <cstddef>

namespace smime::limits {

// Browsers drop host-to-extension messages over 1 MiB; no frame we write may exceed it.
inline constexpr std::size_t kMaxOutgoingFrame = 1024 * 1024;
// Chromium refuses extension-to-host messages over 64 MiB; we accept the same.
inline constexpr std::size_t kMaxIncomingFrame = 64 * 1024 * 1024;
// A reassembled payload (a whole MIME message) may be this large.
inline constexpr std::size_t kMaxPayload = 512 * 1024 * 1024;
// Raw bytes per reply chunk: base64 of it plus the envelope stays well under 1 MiB.
inline constexpr std::size_t kReplyChunkRaw = 768 * 1000;
// Payloads up to this size are returned inline as base64 in the reply frame.
inline constexpr std::size_t kMaxInlineReplyPayload = 512 * 1024;
// Bound on the declared number of chunks of one upload.
inline constexpr std::size_t kMaxChunks = 1 << 20;
// Requests whose payload is still arriving, per process.
inline constexpr std::size_t kMaxPendingUploads = 64;
// Memory that all payloads still arriving may hold together (their buffers' capacity), unless
// SMIME_HOST_UPLOAD_BUDGET_MIB says otherwise. Two whole payloads of the largest size fit.
inline constexpr std::size_t kDefaultUploadBudget = std::size_t{1} << 30;
// Refused chunked requests whose remaining chunks are swallowed silently; past this the oldest is
// forgotten (its late chunks then get an error reply each, which the client ignores).
inline constexpr std::size_t kMaxDiscarding = 1024;
inline constexpr std::size_t kMaxIdLength = 256;

}  // namespace smime::limits
