// SPDX-License-Identifier: MIT
// Request/reply loop with chunked payloads in both directions (docs/protocol.md, "Chunking").
#include "protocol/session.h"

#include "protocol/limits.h"
#include "util/base64.h"
#include "util/error.h"
#include "util/log.h"
#include "util/secure.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <new>

namespace smime {
namespace {

std::string dump(const json& value) {
    // Certificate subjects may hold invalid UTF-8; replace it rather than fail the reply.
    return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

int Session::run() {
    // Wiped whole (its capacity) when the session ends, whichever way.
    SecureString buffer;
    std::string& frame = buffer.mutable_str();
    for (;;) {
        frame::ReadStatus status;
        try {
            status = reader_.next(frame);
        } catch (const std::bad_alloc&) {
            // The reader has skipped the frame it could not hold: answer, and serve the next.
            std::string().swap(frame);
            send_error(nullptr, Error(Code::TooLarge, "not enough memory for this frame"));
            continue;
        }
        switch (status) {
            case frame::ReadStatus::Frame:
                handle_frame(frame);
                // It may have held a password: wiped before the next frame is awaited. A chunk
                // that joined an upload still waiting for more is the exception: the next chunk
                // comes at once and overwrites it (the reader wipes what a shorter frame leaves),
                // and its bytes are in the upload anyway.
                if (!chunk_frame_) cleanse(frame);
                if (writer_.failed()) {
                    log::error("cannot write to stdout; the caller has gone");
                    return 1;
                }
                break;
            case frame::ReadStatus::Eof:
                if (!uploads_.empty()) log::info("stdin closed with unfinished chunked requests");
                return 0;
            case frame::ReadStatus::Truncated:
                cleanse(frame);
                send_error(nullptr, Error(Code::BadFrame, "the stream ended inside a frame"));
                return 0;
            case frame::ReadStatus::TooLarge:
                send_error(nullptr,
                           Error(Code::TooLarge, "frame length over the limit; closing the stream",
                                 {{"length", reader_.last_announced_length()},
                                  {"limit", limits::kMaxIncomingFrame}}));
                return 0;
            case frame::ReadStatus::IoError:
                cleanse(frame);  // part of a frame, which may hold a password
                log::error("cannot read stdin");
                return 1;
        }
    }
}

void Session::handle_frame(std::string_view frame) {
    json id = nullptr;
    chunk_frame_ = false;
    try {
        if (auto chunk = envelope::parse_chunk_fast(frame)) {
            id = chunk->id;
            handle_chunk(chunk->id, chunk->index, chunk->data);
            return;
        }
        auto parsed = envelope::parse(frame, id);
        if (parsed.is_chunk) handle_chunk(parsed.chunk.id, parsed.chunk.index, parsed.chunk.data);
        else handle_request(parsed);
    } catch (const Error& e) {
        send_error(id, e);
    } catch (const std::bad_alloc&) {
        send_error(id, Error(Code::TooLarge, "not enough memory for this request"));
    } catch (const json::exception& e) {
        // Its message may quote input (a secret): only the kind goes to the log.
        log::error("unexpected JSON failure " + std::to_string(e.id));
        send_error(id, Error(Code::Internal, "internal error"));
    } catch (const std::exception& e) {
        log::error(std::string("unexpected failure: ") + e.what());
        send_error(id, Error(Code::Internal, "internal error"));
    }
}

void Session::handle_request(envelope::Parsed& parsed) {
    const json& id = parsed.id;
    const Operation* op = registry_.find(parsed.op);
    if (op && (op->cli_only || op->name != parsed.op))
        op = nullptr;  // no CLI aliases or CLI-only ops here
    try {
        if (!op)
            throw Error(Code::UnknownOp, "unknown operation '" + parsed.op + "'",
                        {{"op", parsed.op}});
        if (auto help = parsed.args.find("help");
            help != parsed.args.end() && !op->find_arg("help")) {
            if (!help->is_boolean())
                throw Error(Code::BadRequest, "'help' must be a boolean", {{"field", "args.help"}});
            if (help->get<bool>()) {
                send_json(id, {{"id", id}, {"ok", true}, {"result", op->help()}});
                return;
            }
            parsed.args.erase(help);
        }
        validate_args(*op, parsed.args);

        Request request;
        const ArgSpec* payload = op->payload_arg();
        if (payload && parsed.args.contains(payload->name)) {
            json& value = parsed.args[payload->name];
            if (value.is_string()) {
                if (!base64::decode_append(value.get_ref<const std::string&>(),
                                           request.payload.mutable_str()))
                    throw Error(Code::BadRequest,
                                "argument '" + payload->name + "' is not valid base64",
                                {{"field", "args." + payload->name}});
                request.has_payload = true;
                cleanse(value.get_ref<std::string&>());
                parsed.args.erase(payload->name);
            } else {
                // A chunk reference: {"chunks": N, "size": S?}
                for (const auto& [key, v] : value.items())
                    if (key != "chunks" && key != "size")
                        throw Error(Code::BadRequest,
                                    "unknown member '" + key + "' in a chunk reference",
                                    {{"field", "args." + payload->name + "." + key}});
                auto chunks = value.find("chunks");
                if (chunks == value.end() || !chunks->is_number_unsigned() ||
                    chunks->get<std::uint64_t>() == 0 ||
                    chunks->get<std::uint64_t>() > limits::kMaxChunks)
                    throw Error(Code::BadRequest, "'chunks' must be an integer from 1 to 1048576",
                                {{"field", "args." + payload->name + ".chunks"}});
                Upload upload;
                upload.chunks = chunks->get<std::uint64_t>();
                if (auto size = value.find("size"); size != value.end()) {
                    if (!size->is_number_unsigned())
                        throw Error(Code::BadRequest, "'size' must be a non-negative integer",
                                    {{"field", "args." + payload->name + ".size"}});
                    upload.declared_size = size->get<std::uint64_t>();
                    upload.has_declared_size = true;
                    if (upload.declared_size > limits::kMaxPayload)
                        throw Error(
                            Code::TooLarge, "payload over the limit",
                            {{"size", upload.declared_size}, {"limit", limits::kMaxPayload}});
                }
                if (id.is_null())
                    throw Error(Code::BadRequest, "a chunked request needs an id",
                                {{"field", "id"}});
                const std::string key = envelope::id_key(id);
                if (uploads_.count(key))
                    throw Error(Code::BadRequest,
                                "a request with this id is still receiving chunks",
                                {{"field", "id"}});
                if (uploads_.size() >= limits::kMaxPendingUploads)
                    throw Error(Code::TooLarge, "too many chunked requests in progress");
                // Reserve what was announced, but not so much that a lying header costs real
                // memory. Plus the 2 bytes by which a last chunk's estimate (whole groups of 3) may
                // exceed its content: without them a size that is not a multiple of 3 doubled the
                // buffer at the last chunk (a 25 MiB verify peaked at 4.2 times the message).
                const std::size_t reserve =
                    upload.has_declared_size
                        ? std::min<std::uint64_t>(upload.declared_size + 2, 64u << 20)
                        : 0;
                if (pending_bytes_ + reserve > upload_budget_)
                    throw Error(Code::TooLarge, "too much data in chunked requests in progress",
                                {{"budget", upload_budget_}});
                parsed.args.erase(payload->name);
                upload.op = op;
                upload.args = std::move(parsed.args);
                if (op->observe && upload.has_declared_size)
                    upload.observer = op->observe(context_, upload.args);
                upload.request.payload.mutable_str().reserve(reserve);
                pending_bytes_ += upload.request.payload.str().capacity();
                uploads_.emplace(key, std::move(upload));
                return;  // the reply comes after the last chunk
            }
        }
        request.args = std::move(parsed.args);
        dispatch(id, *op, request);
    } catch (const Error& e) {
        if (op) wipe_secrets(*op, parsed.args);
        // Swallow the chunks the client will still send for this refused request.
        if (auto n = envelope::announced_chunks(parsed.args);
            n && !id.is_null() && *n <= limits::kMaxChunks)
            discard_chunks(envelope::id_key(id), *n);
        send_error(id, e);
    } catch (...) {
        if (op) wipe_secrets(*op, parsed.args);  // e.g. out of memory: the caller answers
        throw;
    }
}

void Session::handle_chunk(const json& id, std::uint64_t index, std::string_view data) {
    const std::string key = envelope::id_key(id);
    auto it = uploads_.find(key);
    if (it == uploads_.end()) {
        if (auto d = discarding_.find(key); d != discarding_.end()) {
            if (--d->second.remaining == 0) discarding_.erase(d);
            return;
        }
        send_error(id,
                   Error(Code::BadRequest, "chunk for an id that has no request waiting for chunks",
                         {{"field", "id"}}));
        return;
    }
    Upload& upload = it->second;
    if (index != upload.next) {
        abandon_upload(key, id,
                       Error(Code::BadRequest, "chunk out of order",
                             {{"expected", upload.next}, {"received", index}}));
        return;
    }
    std::string& buffer = upload.request.payload.mutable_str();
    const std::size_t incoming = data.size() / 4 * 3;
    if (buffer.size() + incoming > limits::kMaxPayload ||
        (upload.has_declared_size && buffer.size() + incoming > upload.declared_size + 2)) {
        abandon_upload(
            key, id,
            Error(Code::TooLarge, "payload over the limit", {{"limit", limits::kMaxPayload}}));
        return;
    }
    const std::size_t capacity = buffer.capacity();
    if (pending_bytes_ - capacity + std::max(capacity, buffer.size() + incoming) > upload_budget_) {
        abandon_upload(key, id,
                       Error(Code::TooLarge, "too much data in chunked requests in progress",
                             {{"budget", upload_budget_}}));
        return;
    }
    bool decoded = false;
    try {
        if (buffer.capacity() < buffer.size() + incoming) {
            // Grow by hand: a reallocation inside the string would free the old block unwiped.
            if (upload.observer) upload.observer->settle();
            std::string grown;
            grown.reserve(std::max(buffer.capacity() * 2, buffer.size() + incoming));
            grown.append(buffer);
            cleanse(buffer);
            buffer.swap(grown);
        }
        decoded = base64::decode_append(data, buffer);
    } catch (const std::bad_alloc&) {
        abandon_upload(key, id, Error(Code::TooLarge, "not enough memory for this request"));
        return;
    }
    pending_bytes_ = pending_bytes_ - capacity + buffer.capacity();
    if (!decoded) {
        abandon_upload(
            key, id, Error(Code::BadRequest, "chunk data is not valid base64", {{"chunk", index}}));
        return;
    }
    if (upload.observer) {
        try {
            upload.observer->received(buffer);
        } catch (const std::exception&) {
            upload.observer.reset();  // only a head start: the handler does the work itself
        }
    }
    if (++upload.next < upload.chunks) {
        chunk_frame_ = true;  // its bytes are in the upload already; the next chunk overwrites it
        return;
    }

    if (upload.has_declared_size && buffer.size() != upload.declared_size) {
        abandon_upload(key, id,
                       Error(Code::BadRequest, "payload size differs from the announced size",
                             {{"announced", upload.declared_size}, {"received", buffer.size()}}));
        return;
    }
    if (log::enabled(log::Level::Debug))
        log::debug(upload.op->name + ": " + std::to_string(buffer.size()) + " bytes received in " +
                   std::to_string(std::chrono::duration<double, std::milli>(
                                      std::chrono::steady_clock::now() - upload.started)
                                      .count()) +
                   " ms");
    pending_bytes_ -= std::min(pending_bytes_, buffer.capacity());  // the request holds it now
    // A short payload lives inside the Upload (the small-string buffer): moving it wipes and
    // moves those bytes, so the observer must be done with them first. A longer one stays in its
    // block, which the move hands over: the observer may go on with the last chunk while the
    // handler starts (it asks the observer for its result before it changes or frees the bytes,
    // and the request destroys its observer, which waits, before its payload).
    if (upload.observer && held_inside(buffer)) upload.observer->settle();
    Upload done = std::move(upload);
    uploads_.erase(it);
    done.request.args = std::move(done.args);
    done.request.has_payload = true;
    done.request.observer = std::move(done.observer);
    dispatch(id, *done.op, done.request);
}

bool Session::held_inside(const std::string& buffer) noexcept {
    const auto object = reinterpret_cast<std::uintptr_t>(&buffer);
    const auto data = reinterpret_cast<std::uintptr_t>(buffer.data());
    return data >= object && data < object + sizeof buffer;
}

void Session::abandon_upload(const std::string& key, const json& id, const Error& error) {
    auto it = uploads_.find(key);
    if (it != uploads_.end()) {
        const std::uint64_t remaining = it->second.chunks - it->second.next - 1;
        wipe_secrets(*it->second.op, it->second.args);
        erase_upload(it);
        if (remaining > 0) discard_chunks(key, remaining);
    }
    send_error(id, error);
}

void Session::erase_upload(std::map<std::string, Upload>::iterator it) {
    pending_bytes_ -= std::min(pending_bytes_, it->second.request.payload.str().capacity());
    uploads_.erase(it);
}

void Session::discard_chunks(const std::string& key, std::uint64_t remaining) {
    const auto current = [this](const std::pair<std::uint64_t, std::string>& entry) {
        auto d = discarding_.find(entry.second);
        return d != discarding_.end() && d->second.order == entry.first;
    };
    // Forget the oldest refused request still remembered.
    while (discarding_.size() >= limits::kMaxDiscarding && !discarding_.count(key) &&
           !discard_queue_.empty()) {
        if (current(discard_queue_.front())) discarding_.erase(discard_queue_.front().second);
        discard_queue_.pop_front();
    }
    // Entries of requests whose chunks all came are stale: drop them now and then, so the queue
    // stays within twice the bound.
    if (discard_queue_.size() >= 2 * limits::kMaxDiscarding) {
        std::deque<std::pair<std::uint64_t, std::string>> kept;
        for (auto& entry : discard_queue_)
            if (current(entry)) kept.push_back(std::move(entry));
        discard_queue_.swap(kept);
    }
    discarding_[key] = {remaining, discard_order_};
    discard_queue_.emplace_back(discard_order_++, key);
}

void Session::dispatch(const json& id, const Operation& op, Request& request) {
    try {
        const auto start = std::chrono::steady_clock::now();
        Reply reply = op.handler(context_, request);
        wipe_secrets(op, request.args);
        const auto handled = std::chrono::steady_clock::now();
        send_reply(id, op, reply);
        if (log::enabled(log::Level::Debug)) {
            const auto ms = [](auto d) {
                return std::to_string(std::chrono::duration<double, std::milli>(d).count());
            };
            log::debug(op.name + ": " + ms(handled - start) + " ms, reply sent in " +
                       ms(std::chrono::steady_clock::now() - handled) + " ms");
        }
    } catch (const Error& e) {
        wipe_secrets(op, request.args);
        send_error(id, e);
    } catch (const std::bad_alloc&) {
        wipe_secrets(op, request.args);
        send_error(id, Error(Code::TooLarge, "not enough memory for this request"));
    } catch (const json::exception& e) {
        wipe_secrets(op, request.args);
        log::error(op.name + ": unexpected JSON failure " +
                   std::to_string(e.id));  // its text may quote input
        send_error(id, Error(Code::Internal, "internal error in " + op.name));
    } catch (const std::exception& e) {
        wipe_secrets(op, request.args);
        log::error(op.name + ": unexpected failure: " + e.what());
        send_error(id, Error(Code::Internal, "internal error in " + op.name));
    }
}

void Session::send_reply(const json& id, const Operation& op, Reply& reply) {
    if (!reply.payload) {
        send_json(id, {{"id", id}, {"ok", true}, {"result", std::move(reply.result)}});
        return;
    }
    const Pieces& payload = *reply.payload;
    const std::string field = op.payload_result.empty() ? "data" : op.payload_result;
    if (payload.size() <= limits::kMaxInlineReplyPayload) {
        // The payload (often decrypted mail) goes straight into one wiped buffer, never through a
        // JSON string and its serialised copy: {"id":..,"ok":true,"result":{...,
        // "<field>":"<base64>"}}.
        reply.result.erase(field);
        const bool empty_result = reply.result.empty();
        const std::string head =
            dump({{"id", id}, {"ok", true}, {"result", std::move(reply.result)}});
        SecureString text;
        std::string& out = text.mutable_str();
        out.reserve(head.size() + field.size() + 8 + (payload.size() + 2) / 3 * 4);
        out.append(head, 0, head.size() - 2);
        if (!empty_result) out += ',';
        out += '"';
        out += field;
        out += "\":\"";
        payload.append_base64(0, payload.size(), out);
        out += "\"}}";
        if (!writer_.write(out) && !writer_.failed())
            send_error(id, Error(Code::TooLarge, "reply too large for one frame",
                                 {{"size", out.size()}, {"limit", limits::kMaxOutgoingFrame}}));
        return;
    }
    const std::size_t chunks =
        (payload.size() + limits::kReplyChunkRaw - 1) / limits::kReplyChunkRaw;
    reply.result[field] = {{"chunks", chunks}, {"size", payload.size()}};
    const std::string head = dump({{"id", id}, {"ok", true}, {"result", std::move(reply.result)}});
    if (!writer_.write(head)) {
        if (!writer_.failed())
            send_error(id, Error(Code::TooLarge, "reply too large for one frame"));
        return;
    }
    const std::string id_text = dump(id);
    // Room for a whole chunk frame at once: growing it in steps would hold two buffers at the end.
    scratch_.reserve(id_text.size() + 48 + base64::encoded_size(limits::kReplyChunkRaw));
    for (std::size_t i = 0; i < chunks; ++i) {
        scratch_.clear();
        scratch_ += "{\"id\":";
        scratch_ += id_text;
        scratch_ += ",\"chunk\":";
        scratch_ += std::to_string(i);
        scratch_ += ",\"data\":\"";
        payload.append_base64(i * limits::kReplyChunkRaw, limits::kReplyChunkRaw, scratch_);
        scratch_ += "\"}";
        if (!writer_.write(scratch_)) break;
    }
    cleanse(scratch_);
}

void Session::send_error(const json& id, const Error& error) {
    send_json(id, envelope::error_reply(id, error));
}

void Session::send_json(const json& id, const json& reply) {
    std::string text;
    try {
        text = dump(reply);
    } catch (const std::bad_alloc&) {
        // Not even the reply fits in memory: a fixed one still tells the caller, and we go on.
        writer_.write(
            R"({"id":null,"ok":false,"error":{"code":"ERR_TOO_LARGE","message":"not enough memory for this request","details":{}}})");
        return;
    }
    if (writer_.write(text)) return;
    if (writer_.failed()) return;
    // Over the outgoing limit: say so instead of sending a frame the browser would drop.
    writer_.write(dump(envelope::error_reply(
        id, Error(Code::TooLarge, "reply too large for one frame",
                  {{"size", text.size()}, {"limit", limits::kMaxOutgoingFrame}}))));
}

}  // namespace smime
