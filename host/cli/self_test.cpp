// SPDX-License-Identifier: MIT
// `smime-host self-test`: starts this binary as a browser would and checks each step of a round
// trip.
#include "cli/self_test.h"

#include <openssl/rand.h>
#ifndef _WIN32
#include <sys/stat.h>
#endif

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "extension_ids.h"
#include "keystore/certificate_info.h"
#include "keystore/pkcs12.h"
#include "platform/child_process.h"
#include "platform/platform.h"
#include "protocol/frame.h"
#include "protocol/limits.h"
#include "util/base64.h"
#include "util/ossl.h"
#include "util/print.h"
#include "util/secure.h"
#include "util/text.h"
#include "version.h"

namespace smime::cli {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

// Generous: stretching a passphrase with scrypt (N >= 2^17) takes seconds on a slow or busy
// machine, longer under a sanitizer; the limit only ends a step that hangs.
constexpr int kReplyTimeoutMs = 30'000;
constexpr int kExitTimeoutMs = 2'000;  // Chrome kills a host 2 s after closing its stdin
constexpr std::size_t kEchoBytes = 4 * 1024 * 1024 + 1234;  // several chunks, the last one short

// A step that did not pass; the message says what was wrong, for people.
class StepFailed final : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

void expect(bool condition, const std::string& what) {
    if (!condition) throw StepFailed(what);
}

// A private temporary directory for the host's data, removed at the end.
class TempHome final {
public:
    TempHome() {
        const fs::path base = fs::temp_directory_path();
        for (int attempt = 0; attempt < 16 && path_.empty(); ++attempt) {
            unsigned char random[8];
            if (RAND_bytes(random, sizeof random) != 1) break;
            const std::string name = "smime-host-self-test-" + text::hex(random, sizeof random);
            if (create_private(base / name)) path_ = base / name;
        }
        if (path_.empty())
            throw StepFailed("cannot create a temporary directory in " + base.string());
        platform::ensure_private_directory(path_);
    }
    ~TempHome() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    TempHome(const TempHome&) = delete;
    TempHome& operator=(const TempHome&) = delete;
    const fs::path& path() const noexcept { return path_; }

private:
    // Created 0700 from the start, whatever the umask: the key store refuses a folder that every
    // user may write to, and nobody else may put anything in it meanwhile.
    static bool create_private(const fs::path& path) {
#ifdef _WIN32
        std::error_code ec;
        return fs::create_directory(path, ec);
#else
        return ::mkdir(path.c_str(), 0700) == 0 && ::chmod(path.c_str(), 0700) == 0;
#endif
    }

    fs::path path_;
};

// The host under test, spoken to the way an extension speaks to it.
class Run final {
public:
    Run(fs::path executable, std::string origin)
        : executable_(std::move(executable)), origin_(std::move(origin)) {}

    const fs::path& executable() const noexcept { return executable_; }
    const std::string& origin() const noexcept { return origin_; }

    void start() {
        home_ = std::make_unique<TempHome>();
        host_ = std::make_unique<platform::ChildProcess>(
            executable_, std::vector<std::string>{origin_},
            platform::ChildProcess::Environment{{"SMIME_HOST_HOME", home_->path().string()}});
        reader_ = std::make_unique<frame::Reader>(
            [this](char* buffer, std::size_t size) {
                const long n = host_->read(buffer, size, kReplyTimeoutMs);
                if (n == platform::ChildProcess::kTimedOut)
                    throw StepFailed("no reply within " + std::to_string(kReplyTimeoutMs / 1000) +
                                     " s");
                return n;
            },
            limits::kMaxOutgoingFrame);
    }

    void send(const json& message) {
        expect(host_ != nullptr, "the host is not running");
        expect(host_->write_all(frame::encode(message.dump())), "the host closed its input");
    }

    json receive() {
        std::string body;
        switch (reader_->next(body)) {
            case frame::ReadStatus::Frame: break;
            case frame::ReadStatus::Eof: throw StepFailed("the host closed its output");
            case frame::ReadStatus::Truncated:
                throw StepFailed("the host's output ended inside a frame");
            case frame::ReadStatus::TooLarge:
                throw StepFailed("the host sent a frame over 1 MiB, which browsers drop");
            case frame::ReadStatus::IoError: throw StepFailed("cannot read the host's output");
        }
        try {
            return json::parse(body);
        } catch (const json::exception&) {
            throw StepFailed("the host's reply is not JSON");
        }
    }

    // Sends a request and returns its result, failing the step on an error reply.
    json call(const std::string& op, const json& args = json::object()) {
        const int id = next_id();
        send({{"id", id}, {"op", op}, {"args", args}});
        return result_of(receive(), id);
    }

    static json result_of(const json& reply, int id) {
        expect(reply.value("id", json()) == id,
               "a reply for another request: " + reply.value("id", json()).dump());
        if (reply.value("ok", false) != true) {
            const json error = reply.value("error", json::object());
            throw StepFailed(error.value("code", std::string("no error code")) + ": " +
                             error.value("message", std::string()));
        }
        return reply.value("result", json::object());
    }

    int next_id() { return ++last_id_; }

    // Closes the host's input as a browser does when the port goes away; returns its exit status.
    std::optional<int> finish() {
        host_->close_stdin();
        return host_->wait(kExitTimeoutMs);
    }

private:
    fs::path executable_;
    std::string origin_;
    std::unique_ptr<TempHome> home_;
    std::unique_ptr<platform::ChildProcess> host_;
    std::unique_ptr<frame::Reader> reader_;
    int last_id_ = 0;
};

// A step returns a few words for the report ("protocol 1") or throws StepFailed.
struct Step {
    std::string title;
    std::function<std::string(Run&)> run;
};

std::string start_host(Run& run) {
    run.start();
    return run.origin();
}

std::string hello(Run& run) {
    const json result = run.call("hello");
    expect(result.value("name", "") == "smime-host", "hello did not come from smime-host");
    expect(result.value("protocol", 0) == kProtocolVersion,
           "protocol " + result.value("protocol", json()).dump() + ", expected " +
               std::to_string(kProtocolVersion));
    expect(result.value("version", "") == kVersion, "version " +
                                                        result.value("version", json()).dump() +
                                                        " answered, this binary is " + kVersion);
    const json caller = result.value("caller", json::object());
    expect(caller.value("kind", "") == "chromium" && caller.value("origin", "") == run.origin(),
           "the host did not recognise its caller: " + caller.dump());
    return "smime-host " + result.value("version", "") + ", protocol " +
           std::to_string(kProtocolVersion) + ", " + result.value("openssl", "");
}

// Deterministic bytes covering every value, so a corrupted byte anywhere shows.
std::string pattern(std::size_t size) {
    std::string data(size, '\0');
    std::uint32_t state = 2463534242u;
    for (char& c : data) {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        c = static_cast<char>(state & 0xff);
    }
    return data;
}

std::string echo_chunked(Run& run) {
    const std::string sent = pattern(kEchoBytes);
    const std::string text =
        "S/MIME \u2713 Gr\u00fc\u00dfe \u65e5\u672c";  // multi-byte UTF-8 must survive
    const std::size_t chunk = limits::kReplyChunkRaw;
    const std::size_t chunks = (sent.size() + chunk - 1) / chunk;
    const int id = run.next_id();
    run.send({{"id", id},
              {"op", "echo"},
              {"args", {{"data", {{"chunks", chunks}, {"size", sent.size()}}}, {"text", text}}}});
    for (std::size_t i = 0; i < chunks; ++i) {
        const std::string_view piece = std::string_view(sent).substr(i * chunk, chunk);
        run.send({{"id", id}, {"chunk", i}, {"data", base64::encode(piece)}});
    }
    const json result = Run::result_of(run.receive(), id);
    expect(result.value("size", json()) == sent.size(),
           "echo reports size " + result.value("size", json()).dump());
    expect(result.value("text", "") == text, "the text came back altered");
    const json reference = result.value("data", json());
    expect(reference.is_object() && reference.value("chunks", 0) > 0,
           "a payload over 512 KiB must come back in chunks");
    const auto reply_chunks = reference["chunks"].get<std::size_t>();
    std::string received;
    received.reserve(sent.size());
    for (std::size_t i = 0; i < reply_chunks; ++i) {
        const json frame = run.receive();
        expect(frame.value("id", json()) == id && frame.value("chunk", json()) == i,
               "expected chunk " + std::to_string(i) + ", got " + frame.dump().substr(0, 80));
        expect(base64::decode_append(frame.value("data", ""), received),
               "chunk " + std::to_string(i) + " is not base64");
    }
    expect(received == sent, "the payload came back altered");
    return std::to_string(sent.size() >> 20) + " MiB in " + std::to_string(chunks) +
           " chunks, back in " + std::to_string(reply_chunks);
}

std::string shut_down(Run& run) {
    const auto status = run.finish();
    expect(status.has_value(),
           "still running " + std::to_string(kExitTimeoutMs / 1000) + " s after end of input");
    expect(*status == 0, "exit status " + std::to_string(*status));
    return "exit status 0";
}

// A throwaway PKI made fresh for each run: a root and a user with an RSA-2048 key, for an S/MIME
// round trip that touches no real key.
constexpr const char* kSelfTestAddress = "self-test@smime-host.invalid";

struct ThrowawayPki {
    ossl::PKeyPtr ca_key, user_key;
    ossl::X509Ptr ca, user;
};

void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    expect(ext != nullptr, "cannot build a test certificate extension");
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

ossl::X509Ptr make_certificate(EVP_PKEY* key, const char* name, X509* issuer, EVP_PKEY* issuer_key,
                               bool ca) {
    ossl::X509Ptr cert(X509_new());
    X509_set_version(cert.get(), 2);
    std::int64_t serial = 0;
    RAND_bytes(reinterpret_cast<unsigned char*>(&serial), sizeof serial);
    ASN1_INTEGER_set_int64(X509_get_serialNumber(cert.get()), (serial & 0x7fffffffffff) | 1);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400);
    X509_set_pubkey(cert.get(), key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(cert.get()), "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(name), -1, -1, 0);
    X509* signer = issuer ? issuer : cert.get();
    X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
    if (ca) {
        add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
        add_extension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_extension(cert.get(), signer, NID_basic_constraints, "CA:FALSE");
        add_extension(cert.get(), signer, NID_key_usage,
                      "critical,digitalSignature,keyEncipherment");
        add_extension(cert.get(), signer, NID_ext_key_usage, "emailProtection");
        add_extension(cert.get(), signer, NID_subject_alt_name,
                      (std::string("email:") + kSelfTestAddress).c_str());
    }
    expect(X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256()) > 0,
           "cannot sign a test certificate");
    return cert;
}

ThrowawayPki& pki() {
    static ThrowawayPki p = [] {
        ThrowawayPki made;
        use_secure_heap();
        made.ca_key.reset(EVP_RSA_gen(2048));
        made.user_key.reset(EVP_RSA_gen(2048));
        expect(made.ca_key && made.user_key, "cannot generate test keys");
        made.ca = make_certificate(made.ca_key.get(), "smime-host self-test root", nullptr, nullptr,
                                   true);
        made.user = make_certificate(made.user_key.get(), "smime-host self-test", made.ca.get(),
                                     made.ca_key.get(), false);
        return made;
    }();
    return p;
}

std::string mime_call(Run& run, const std::string& op, const std::string& mime, json args,
                      std::string& out) {
    args["mime"] = base64::encode(mime);
    const json result = run.call(op, args);
    const json& payload = result.value("mime", json());
    expect(payload.is_string(), op + " returned no message");
    out.clear();
    expect(base64::decode_append(payload.get<std::string>(), out),
           op + " returned a message that is not base64");
    return result.dump();
}

const std::string kSelfTestMessage = std::string("From: Self Test <") + kSelfTestAddress +
                                     ">\r\nTo: " + kSelfTestAddress +
                                     "\r\nSubject: smime-host self-test\r\n\r\nGr\xC3\xBC\xC3\x9F"
                                     "e from the self-test.\r\n";

struct Session {
    std::string signed_mime, encrypted_mime;
};
Session& session() {
    static Session s;
    return s;
}

std::string import_identity(Run& run) {
    auto& p = pki();
    engine::Identity identity;
    identity.certificate = ossl::up_ref(p.user.get());
    EVP_PKEY_up_ref(p.user_key.get());
    identity.private_key.reset(p.user_key.get());
    identity.chain.push_back(ossl::up_ref(p.ca.get()));
    const std::string p12 = pkcs12::write(identity, SecureString("self-test"), "self-test");
    const json id =
        run.call("identities.import", {{"pkcs12", base64::encode(p12)}, {"password", "self-test"}});
    expect(id.value("active", false), "the imported identity is not active");
    run.call("certificates.import",
             {{"certificate", certinfo::pem(p.ca.get())}, {"trust_anchor", true}});
    return "RSA-2048 identity " + id.value("fingerprint", std::string()).substr(0, 16) + "…";
}

std::string sign_message(Run& run) {
    mime_call(run, "message.sign", kSelfTestMessage, json::object(), session().signed_mime);
    expect(session().signed_mime.find("multipart/signed") != std::string::npos,
           "the result is not multipart/signed");
    return "multipart/signed, " + std::to_string(session().signed_mime.size()) + " bytes";
}

std::string verify_message(Run& run) {
    std::string content;
    const json result = json::parse(
        mime_call(run, "message.verify", session().signed_mime, json::object(), content));
    const json& signatures = result["status"]["signatures"];
    expect(signatures.size() == 1, "expected one signature");
    expect(signatures[0].value("verdict", "") == "good", "verdict " + signatures[0].dump());
    return std::string("good signature by ") + kSelfTestAddress;
}

std::string encrypt_message(Run& run) {
    mime_call(run, "message.encrypt", kSelfTestMessage, {{"sign", true}}, session().encrypted_mime);
    expect(session().encrypted_mime.find("application/pkcs7-mime") != std::string::npos,
           "the result is not pkcs7-mime");
    return "signed, then encrypted";
}

std::string decrypt_message(Run& run) {
    std::string inner;
    const json result = json::parse(
        mime_call(run, "message.decrypt", session().encrypted_mime, json::object(), inner));
    expect(result["status"].value("level", "") == "signed+encrypted",
           "level " + result["status"].dump());
    expect(result["status"]["signatures"][0].value("verdict", "") == "good",
           "the inner signature is not good");
    expect(inner.find("e from the self-test.") != std::string::npos, "the decrypted text differs");
    return "signed+encrypted, good signature, text intact";
}

// The steps, in order; each needs the ones before it to have passed.
std::vector<Step> steps() {
    return {
        {"start as a browser would", start_host},
        {"hello", hello},
        {"echo a payload in chunks", echo_chunked},
        {"import a throwaway identity", import_identity},
        {"sign", sign_message},
        {"verify", verify_message},
        {"encrypt", encrypt_message},
        {"decrypt", decrypt_message},
        {"exit on end of input", shut_down},
    };
}

void print_help() {
    print(std::string("smime-host self-test: check this installation with a round trip through the "
                      "native\nmessaging loop. Starts this binary as a browser would (caller "
                      "chrome-extension://") +
          kChromiumExtensionId +
          "/,\npipes, framed JSON, a fresh temporary data directory), runs each step and prints\n"
          "one line per step. Exit status 0 only if every step passed.\n");
}

}  // namespace

int self_test(int argc, char** argv) {
    for (int i = 2; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            print_help();
            return 0;
        }
        print_error("smime-host self-test: unexpected argument '" + arg + "'\n");
        return 2;
    }

    fs::path executable;
    try {
        executable = platform::executable_path();
    } catch (const std::exception& e) {
        print_error(std::string("smime-host self-test: ") + e.what() + "\n");
        return 1;
    }
    Run run(executable, std::string("chrome-extension://") + kChromiumExtensionId + "/");
    print("smime-host self-test of " + executable.string() + "\n");

    using Clock = std::chrono::steady_clock;
    const auto all_steps = steps();
    const auto started = Clock::now();
    std::size_t passed = 0;
    std::string failure;
    for (const Step& step : all_steps) {
        std::string title = step.title;
        if (title.size() < 26) title.resize(26, ' ');
        if (!failure.empty()) {
            print("  - " + title + "      not run\n");
            continue;
        }
        const auto begin = Clock::now();
        std::string detail;
        bool ok = true;
        try {
            detail = step.run(run);
        } catch (const std::exception& e) {  // StepFailed, or smime::Error from starting the host
            detail = e.what();
            ok = false;
        }
        const auto ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - begin).count();
        char timing[32];
        std::snprintf(timing, sizeof timing, "%5lld ms", static_cast<long long>(ms));
        print("  " + std::string(ok ? "\u2713 " : "\u2717 ") + title + timing + "  " + detail +
              "\n");
        std::fflush(stdout);
        if (ok) ++passed;
        else failure = step.title + ": " + detail;
    }
    const auto total =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
    if (failure.empty()) {
        print("self-test passed: " + std::to_string(passed) + " of " +
              std::to_string(all_steps.size()) + " steps in " + std::to_string(total) + " ms\n");
        return 0;
    }
    print("self-test FAILED at '" + failure + "'\n");
    return 1;
}

}  // namespace smime::cli
