// SPDX-License-Identifier: MIT
// The native messaging loop: read frames, reassemble chunked payloads, dispatch, reply.
#pragma once

#include "ops/operation.h"
#include "protocol/envelope.h"
#include "protocol/frame.h"
#include "protocol/limits.h"
#include "util/error.h"

#include <chrono>
#include <deque>
#include <map>
#include <string>

namespace smime {

class Session {
public:
    Session(const Registry& registry, Context& context, frame::Reader& reader,
            frame::Writer& writer)
        : registry_(registry),
          context_(context),
          reader_(reader),
          writer_(writer),
          upload_budget_(limits::kDefaultUploadBudget) {
        context_.set_transport_limits(
            {{"max_frame_to_host", limits::kMaxIncomingFrame},
             {"max_frame_from_host", limits::kMaxOutgoingFrame},
             {"max_payload", limits::kMaxPayload},
             {"reply_chunk_bytes", limits::kReplyChunkRaw},
             {"max_inline_reply_payload", limits::kMaxInlineReplyPayload}});
    }

    // Serves until EOF (returns 0), an over-long or truncated frame (replies, returns 0), or an
    // I/O error on stdout (returns 1).
    int run();

    // Handles one whole frame; public for the fuzzer and unit tests.
    void handle_frame(std::string_view frame);

    // Memory all payloads still arriving may hold together (limits::kDefaultUploadBudget).
    void set_upload_budget(std::size_t bytes) noexcept { upload_budget_ = bytes; }
    // What the pending uploads hold now, and how many refused requests are remembered (for tests).
    std::size_t pending_upload_bytes() const noexcept { return pending_bytes_; }
    std::size_t discarding_count() const noexcept { return discarding_.size(); }

private:
    struct Upload {
        const Operation* op = nullptr;
        json args;
        std::uint64_t chunks = 0;
        std::uint64_t next = 0;
        std::uint64_t declared_size = 0;
        bool has_declared_size = false;
        Request request;
        std::unique_ptr<PayloadObserver> observer;
        std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
    };

    void handle_request(envelope::Parsed& parsed);
    void handle_chunk(const json& id, std::uint64_t index, std::string_view data);
    void dispatch(const json& id, const Operation& op, Request& request);
    void send_reply(const json& id, const Operation& op, Reply& reply);
    void send_error(const json& id, const Error& error);
    void send_json(const json& id, const json& reply);
    void abandon_upload(const std::string& key, const json& id, const Error& error);
    // Whether a string's bytes live inside the string object (too short for a block of their
    // own), so that moving the string moves them.
    static bool held_inside(const std::string& buffer) noexcept;
    void erase_upload(std::map<std::string, Upload>::iterator it);
    void discard_chunks(const std::string& key, std::uint64_t remaining);

    const Registry& registry_;
    Context& context_;
    frame::Reader& reader_;
    frame::Writer& writer_;
    std::map<std::string, Upload> uploads_;
    struct Discarding {
        std::uint64_t remaining = 0;  // chunk frames still to swallow
        std::uint64_t order = 0;      // the oldest is forgotten first
    };
    std::map<std::string, Discarding> discarding_;  // bounded by limits::kMaxDiscarding
    std::deque<std::pair<std::uint64_t, std::string>>
        discard_queue_;  // oldest first; may hold stale entries
    std::uint64_t discard_order_ = 0;
    std::size_t upload_budget_;
    std::size_t pending_bytes_ = 0;  // capacity of the buffers in uploads_
    bool chunk_frame_ = false;  // the frame handled last was a chunk its upload took, more to come
    std::string scratch_;       // reused buffer for chunk frames
};

}  // namespace smime
