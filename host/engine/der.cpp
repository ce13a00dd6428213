// SPDX-License-Identifier: MIT
// DER and BIO plumbing for the engine.
#include "engine/der.h"

#include "engine/ber.h"
#include "engine/certificate_cache.h"
#include "mime/encoding.h"
#include "util/error.h"
#include "util/log.h"
#include "util/secure.h"
#include "util/text.h"

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <vector>

namespace smime::engine {
namespace {

int sink_write(BIO* bio, const char* data, int size) {
    if (size <= 0) return 0;
    static_cast<std::string*>(BIO_get_data(bio))->append(data, static_cast<std::size_t>(size));
    return size;
}

long sink_ctrl(BIO*, int cmd, long, void*) { return cmd == BIO_CTRL_FLUSH ? 1 : 0; }

int sink_create(BIO* bio) {
    BIO_set_init(bio, 1);
    return 1;
}

using MethodPtr = std::unique_ptr<BIO_METHOD, ossl::Deleter<BIO_METHOD, BIO_meth_free>>;

// A source/sink BIO method; `State` (if not void) is the BIO's data, deleted with the BIO.
template <typename State = void>
MethodPtr make_method(const char* name, int (*write)(BIO*, const char*, int),
                      int (*read)(BIO*, char*, int), long (*ctrl)(BIO*, int, long, void*)) {
    MethodPtr m(BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, name));
    if (!m) return m;
    if (write) BIO_meth_set_write(m.get(), write);
    if (read) BIO_meth_set_read(m.get(), read);
    BIO_meth_set_ctrl(m.get(), ctrl);
    BIO_meth_set_create(m.get(), sink_create);
    if constexpr (!std::is_void_v<State>) {
        BIO_meth_set_destroy(m.get(), [](BIO* bio) {
            const std::unique_ptr<State> state(static_cast<State*>(BIO_get_data(bio)));
            BIO_set_data(bio, nullptr);
            return 1;
        });
    }
    return m;
}

const BIO_METHOD* sink_method() {
    static const MethodPtr method =
        make_method("smime string sink", sink_write, nullptr, sink_ctrl);
    return method.get();
}

// Base64 in CRLF lines of 76 characters (RFC 2045 section 6.8), written as the bytes arrive.
struct Base64Lines {
    std::string* out = nullptr;
    unsigned char carry[mime::kBase64LineBytes] = {};
    std::size_t carried = 0;
};

int base64_lines_write(BIO* bio, const char* data, int size) {
    if (size <= 0) return 0;
    auto* state = static_cast<Base64Lines*>(BIO_get_data(bio));
    std::string_view rest(data, static_cast<std::size_t>(size));
    if (state->carried > 0) {
        const std::size_t n = std::min(rest.size(), mime::kBase64LineBytes - state->carried);
        std::memcpy(state->carry + state->carried, rest.data(), n);
        state->carried += n;
        rest.remove_prefix(n);
        if (state->carried < mime::kBase64LineBytes) return size;
        mime::append_base64_lines(
            std::string_view(reinterpret_cast<const char*>(state->carry), state->carried),
            *state->out);
        state->carried = 0;
    }
    const std::size_t whole = rest.size() / mime::kBase64LineBytes * mime::kBase64LineBytes;
    mime::append_base64_lines(rest.substr(0, whole), *state->out);
    rest.remove_prefix(whole);
    std::memcpy(state->carry, rest.data(), rest.size());
    state->carried = rest.size();
    return size;
}

long base64_lines_ctrl(BIO*, int cmd, long, void*) {
    // Not on BIO_flush: a flush in mid-stream would end a line early, with padding inside the body.
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

const BIO_METHOD* base64_lines_method() {
    static const MethodPtr method = make_method<Base64Lines>(
        "smime base64 lines sink", base64_lines_write, nullptr, base64_lines_ctrl);
    return method.get();
}

struct Views {
    std::vector<std::string_view> parts;
    std::size_t index = 0;
    std::size_t offset = 0;
    // A part given back as it is read (consuming_views_source), and its bytes in the caller's
    // buffer.
    std::size_t consumed = std::numeric_limits<std::size_t>::max();
    std::optional<ReleaseBehind> release;
};

void release_read(Views& views) {
    if (!views.release) return;
    if (views.index == views.consumed) views.release->done_upto(views.offset);
    else if (views.index == views.consumed + 1)
        views.release->done_upto(views.parts[views.consumed].size());
}

int views_read(BIO* bio, char* out, int size) {
    auto* views = static_cast<Views*>(BIO_get_data(bio));
    int total = 0;
    while (total < size && views->index < views->parts.size()) {
        const std::string_view part = views->parts[views->index];
        const std::size_t n =
            std::min(part.size() - views->offset, static_cast<std::size_t>(size - total));
        std::memcpy(out + total, part.data() + views->offset, n);
        total += static_cast<int>(n);
        views->offset += n;
        if (views->offset == part.size()) {
            ++views->index;
            views->offset = 0;
        }
        release_read(*views);
    }
    return total;
}

long views_ctrl(BIO* bio, int cmd, long, void*) {
    const auto* views = static_cast<const Views*>(BIO_get_data(bio));
    switch (cmd) {
        case BIO_CTRL_EOF: return views->index >= views->parts.size() ? 1 : 0;
        case BIO_CTRL_FLUSH: return 1;
        default: return 0;
    }
}

const BIO_METHOD* views_method() {
    static const MethodPtr method =
        make_method<Views>("smime views source", nullptr, views_read, views_ctrl);
    return method.get();
}

// The first byte a views source has not yielded yet, or nullptr when it has yielded them all.
const char* views_unread(BIO* source) {
    const auto* views = static_cast<const Views*>(BIO_get_data(source));
    for (std::size_t i = views->index; i < views->parts.size(); ++i) {
        const std::size_t offset = i == views->index ? views->offset : 0;
        if (offset < views->parts[i].size()) return views->parts[i].data() + offset;
    }
    return nullptr;
}

struct Front {
    char* begin = nullptr;
    std::size_t capacity = 0;
    std::size_t* written = nullptr;
    BIO* unread = nullptr;
};

int front_write(BIO* bio, const char* data, int size) {
    if (size <= 0) return 0;
    const auto* front = static_cast<const Front*>(BIO_get_data(bio));
    const auto n = static_cast<std::size_t>(size);
    if (front->capacity - *front->written < n) return -1;
    char* const at = front->begin + *front->written;
    // Refused rather than overwriting bytes the source has still to yield.
    if (const char* const next = front->unread ? views_unread(front->unread) : nullptr) {
        const auto unread = reinterpret_cast<std::uintptr_t>(next);
        if (unread >= reinterpret_cast<std::uintptr_t>(front->begin) &&
            unread < reinterpret_cast<std::uintptr_t>(at) + n)
            return -1;
    }
    std::memcpy(at, data, n);
    *front->written += n;
    return size;
}

const BIO_METHOD* front_method() {
    static const MethodPtr method =
        make_method<Front>("smime front sink", front_write, nullptr, sink_ctrl);
    return method.get();
}

}  // namespace

ossl::BioPtr views_source(std::vector<std::string_view> parts) {
    ossl::BioPtr bio(BIO_new(views_method()));
    if (!bio) throw Error(Code::Internal, "cannot create a BIO");
    auto views = std::make_unique<Views>();
    views->parts = std::move(parts);
    BIO_set_data(bio.get(), views.release());
    return bio;
}

ossl::BioPtr consuming_views_source(std::vector<std::string_view> parts, std::size_t consumed,
                                    char* writable) {
    ossl::BioPtr bio = views_source(std::move(parts));
    auto* views = static_cast<Views*>(BIO_get_data(bio.get()));
    if (consumed < views->parts.size() &&
        views->parts[consumed].size() >= ReleaseBehind::kReleasedFrom) {
        views->consumed = consumed;
        views->release.emplace(writable, views->parts[consumed].size());
    }
    return bio;
}

bool released_all(BIO* source) {
    const auto* views = static_cast<const Views*>(BIO_get_data(source));
    return views->release && views->release->all_released();
}

ReleaseBehind::ReleaseBehind(char* begin, std::size_t size) : begin_(begin), size_(size) {}

void ReleaseBehind::done_upto(std::size_t read) {
    read = std::min(read, size_);
    if (read <= released_ || (read - released_ < kReleaseStep && read < size_)) return;
    // Up to a page boundary (64 KiB: a multiple of every common page size) until the end, so no
    // page straddles two steps and stays behind.
    std::size_t upto = read;
    if (read < size_) {
        const auto end = reinterpret_cast<std::uintptr_t>(begin_ + read);
        upto = read - static_cast<std::size_t>(end % (64u << 10));
    }
    if (upto <= released_) return;
    wipe_and_release(begin_ + released_, begin_ + upto);
    released_ = upto;
}

ossl::BioPtr string_sink(std::string& target) {
    ossl::BioPtr bio(BIO_new(sink_method()));
    if (!bio) throw Error(Code::Internal, "cannot create a BIO");
    BIO_set_data(bio.get(), &target);
    return bio;
}

ossl::BioPtr front_sink(char* begin, std::size_t capacity, std::size_t& written, BIO* unread) {
    ossl::BioPtr bio(BIO_new(front_method()));
    if (!bio) throw Error(Code::Internal, "cannot create a BIO");
    written = 0;
    BIO_set_data(bio.get(), new Front{begin, capacity, &written, unread});
    return bio;
}

ossl::BioPtr base64_lines_sink(std::string& target) {
    ossl::BioPtr bio(BIO_new(base64_lines_method()));
    if (!bio) throw Error(Code::Internal, "cannot create a BIO");
    auto state = std::make_unique<Base64Lines>();
    state->out = &target;
    BIO_set_data(bio.get(), state.release());
    return bio;
}

void finish_base64_lines(BIO* sink) {
    auto* state = static_cast<Base64Lines*>(BIO_get_data(sink));
    mime::append_base64_lines(
        std::string_view(reinterpret_cast<const char*>(state->carry), state->carried), *state->out);
    state->carried = 0;
}

namespace {

// Up to this size the SignedData is copied without its certificates: the copy costs far less than
// the parse it saves, and a larger object's content outweighs its certificates anyway.
constexpr std::size_t kMaxSharingCopy = 1024 * 1024;

// A SignedData parsed without its certificates, which come from the cache instead, in the
// message's order. nullptr when that does not give what parsing the object whole gives:
// certificates that do not parse, or one the same as another (CMS_add1_cert refuses a second).
ossl::CmsPtr read_sharing_certificates(std::string_view der) {
    auto detached = detach_certificates(der);
    if (!detached) return nullptr;
    // The copy holds the signed content, which may be decrypted mail: wiped like the engine's own
    // buffers of content.
    const SecureString structure(std::move(detached->structure));
    std::vector<ossl::X509Ptr> certs;
    certs.reserve(detached->certificates.size());
    for (const std::string_view cert_der : detached->certificates) {
        certs.push_back(cached_certificate(cert_der));
        if (!certs.back()) return nullptr;
    }
    const auto* p = reinterpret_cast<const unsigned char*>(structure.data());
    ossl::CmsPtr cms(d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(structure.size())));
    if (!cms || OBJ_obj2nid(CMS_get0_type(cms.get())) != NID_pkcs7_signed) return nullptr;
    for (const auto& cert : certs) {
        if (CMS_add1_cert(cms.get(), cert.get()) != 1) return nullptr;
    }
    return cms;
}

}  // namespace

ossl::CmsPtr read_cms(std::string_view der) {
    if (der.empty() || der.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
        throw Error(Code::BadMessage, "CMS object empty or too large");
    }
    if (der.size() <= kMaxSharingCopy) {
        ERR_set_mark();
        ossl::CmsPtr cms = read_sharing_certificates(der);
        ERR_pop_to_mark();
        if (cms) return cms;
    }
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    ossl::CmsPtr cms(d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(der.size())));
    if (!cms) {
        log::openssl_errors("parsing CMS");
        throw Error(Code::BadMessage, "the CMS object is malformed");
    }
    return cms;
}

ossl::CmsPtr read_cms_body(const mime::Entity& entity) {
    std::string der;
    if (!mime::decode_body(entity.body, mime::transfer_encoding(entity), der)) {
        throw Error(Code::BadMessage, "the S/MIME part's transfer encoding is malformed");
    }
    return read_cms(der);
}

std::string write_der(CMS_ContentInfo* cms) {
    std::string der;
    const ossl::BioPtr sink = string_sink(der);
    if (i2d_CMS_bio(sink.get(), cms) <= 0) {
        log::openssl_errors("encoding CMS");
        throw Error(Code::Internal, "cannot encode the CMS object");
    }
    return der;
}

void free_chain_upto(BIO* chain, BIO* keep) {
    while (chain && chain != keep) {
        BIO* next = BIO_pop(chain);
        BIO_free(chain);
        chain = next;
    }
}

std::string random_hex(std::size_t bytes) {
    std::vector<unsigned char> raw(bytes);
    if (RAND_bytes(raw.data(), static_cast<int>(bytes)) != 1)
        throw Error(Code::Internal, "no randomness");
    return text::hex(raw.data(), raw.size());
}

}  // namespace smime::engine
