// SPDX-License-Identifier: MIT
// Key store operations: keystore.*, identities.*, certificates.*, recipients.status, and the
// CLI-only backup. There is deliberately no operation that returns a private key.
#include "keystore/keystore.h"
#include "ops/groups.h"
#include "ops/operation.h"
#include "util/error.h"
#include "util/text.h"

#include <cstdint>

namespace smime {
namespace {

SecureString secret(Request& request, const char* name) {
    auto it = request.args.find(name);
    if (it == request.args.end()) return SecureString();
    return SecureString(it->get<std::string>());
}

std::string fingerprint_arg(const Request& request) {
    // Accept the colon-separated upper-case form certificate viewers show.
    std::string fp;
    for (char ch : arg_string(request.args, "fingerprint"))
        if (ch != ':' && ch != ' ') fp.push_back(ch);
    return text::ascii_lower(fp);
}

Reply result(json value) {
    Reply r;
    r.result = std::move(value);
    return r;
}

const ArgSpec kFingerprint{"fingerprint", ArgType::String, true,
                           "SHA-256 fingerprint of the certificate (hex)"};

}  // namespace

void register_keystore_ops(Registry& registry) {
    registry.add({
        .name = "keystore.status",
        .summary = "Where the key store is, whether a passphrase protects it, whether it is "
                   "unlocked, counts.",
        .result_help = "{path, protected, unlocked, idle_lock_minutes, schema_version, "
                       "counts{identities, certificates, "
                       "trust_anchors, crls}}",
        .aliases = {"status"},
        .handler = [](Context& c, Request&) { return result(c.store().status()); },
    });
    registry.add({
        .name = "keystore.set_passphrase",
        .summary = "Set, change or remove (empty) the key store passphrase; re-seals every private "
                   "key at once.",
        .args = {{"new_passphrase", ArgType::Secret, true,
                  "the new passphrase; empty removes protection"},
                 {"old_passphrase", ArgType::Secret, false,
                  "the current passphrase (required if one is set)"}},
        .result_help = "{protected}",
        .aliases = {"passphrase"},
        .handler =
            [](Context& c, Request& r) {
                std::optional<SecureString> old;
                if (r.args.contains("old_passphrase")) old = secret(r, "old_passphrase");
                c.store().set_passphrase(secret(r, "new_passphrase"), old);
                return result({{"protected", c.store().is_protected()}});
            },
    });
    registry.add({
        .name = "keystore.unlock",
        .summary = "Unlock the private keys for this process until keystore.lock, the idle timeout "
                   "or exit. "
                   "Wrong guesses are rate-limited for the whole store (ERR_THROTTLED, "
                   "details.retry_after_ms).",
        .args = {{"passphrase", ArgType::Secret, true, "the key store passphrase"},
                 {"idle_minutes", ArgType::Integer, false,
                  "lock again after this many idle minutes (default 30)"}},
        .result_help = "{unlocked: true, idle_lock_minutes}",
        .aliases = {"unlock"},
        .handler =
            [](Context& c, Request& r) {
                std::optional<int> idle;
                if (r.args.contains("idle_minutes")) idle = r.args["idle_minutes"].get<int>();
                c.store().unlock(secret(r, "passphrase"), idle);
                return result({{"unlocked", true},
                               {"idle_lock_minutes", c.store().status()["idle_lock_minutes"]}});
            },
    });
    registry.add({
        .name = "keystore.lock",
        .summary = "Forget the derived key in this process; private-key operations then need "
                   "keystore.unlock.",
        .result_help = "{unlocked: false}",
        .aliases = {"lock"},
        .handler =
            [](Context& c, Request&) {
                c.store().lock();
                return result({{"unlocked", !c.store().is_protected()}});
            },
    });
    registry.add({
        .name = "identities.import",
        .summary = "Import your certificate with its private key from a PKCS#12 file (.p12/.pfx).",
        .args = {{"pkcs12", ArgType::Payload, true, "the PKCS#12 file (base64, or chunked)"},
                 {"password", ArgType::Secret, false, "the PKCS#12 password (default empty)"}},
        .result_help = "{fingerprint, emails, subject, issuer, serial, not_before, not_after, "
                       "key{type, bits, curve?}, "
                       "active, active_for[], chain_length, created, warnings[{code, message}]}",
        .aliases = {"import"},
        .handler =
            [](Context& c, Request& r) {
                return result(c.store().import_identity(r.payload.str(), secret(r, "password")));
            },
    });
    registry.add({
        .name = "identities.list",
        .summary = "List your identities (certificates with private keys).",
        .result_help = "{identities: [same fields as identities.import]}",
        .aliases = {"list"},
        .handler =
            [](Context& c, Request&) {
                return result({{"identities", c.store().list_identities()}});
            },
    });
    registry.add({
        .name = "identities.activate",
        .summary = "Make this identity the one used for each of its addresses.",
        .args = {kFingerprint},
        .result_help = "the identity, as identities.import describes it",
        .aliases = {"activate"},
        .handler = [](Context& c,
                      Request& r) { return result(c.store().activate(fingerprint_arg(r))); },
    });
    registry.add({
        .name = "identities.deactivate",
        .summary = "Stop using this identity for its addresses (it stays in the store and can "
                   "still decrypt).",
        .args = {kFingerprint},
        .result_help = "the identity, as identities.import describes it",
        .aliases = {"deactivate"},
        .handler = [](Context& c,
                      Request& r) { return result(c.store().deactivate(fingerprint_arg(r))); },
    });
    registry.add({
        .name = "identities.delete",
        .summary =
            "Delete an identity's private key for good (its certificate is kept as a public one); "
            "a protected store must be unlocked.",
        .args = {kFingerprint},
        .result_help = "{deleted: fingerprint}",
        .aliases = {"delete"},
        .handler =
            [](Context& c, Request& r) {
                const auto fp = fingerprint_arg(r);
                c.store().delete_identity(fp);
                return result({{"deleted", fp}});
            },
    });
    registry.add({
        .name = "identities.export_certificate",
        .summary =
            "Export the public certificate of an identity (or any stored certificate) as PEM.",
        .args = {kFingerprint, {"chain", ArgType::Boolean, false, "append the identity's chain"}},
        .result_help = "{pem}",
        .aliases = {"export"},
        .handler =
            [](Context& c, Request& r) {
                return result({{"pem", c.store().export_certificate(fingerprint_arg(r),
                                                                    arg_bool(r.args, "chain"))}});
            },
    });
    registry.add({
        .name = "identities.backup",
        .summary = "Write a password-protected PKCS#12 backup of one of your identities (command "
                   "line only).",
        .args = {kFingerprint, {"password", ArgType::Secret, true, "password for the backup file"}},
        .result_help = "the PKCS#12 file",
        .payload_result = "pkcs12",
        .aliases = {"backup"},
        .handler =
            [](Context& c, Request& r) {
                Reply reply;
                if (!c.policy().allow_key_backup)
                    throw Error(Code::Policy, "your organisation does not allow key backups",
                                {{"key", "allow_key_backup"}});
                const SecureString password = secret(r, "password");
                if (password.size() < 8)
                    throw Error(Code::BadRequest, "a backup password needs at least 8 characters",
                                {{"field", "args.password"}});
                reply.payload = SecureString(c.store().backup(fingerprint_arg(r), password));
                return reply;
            },
        .cli_only = true,
    });
    registry.add({
        .name = "certificates.import",
        .summary = "Import certificates of correspondents, or a trust anchor (e.g. your "
                   "organisation's root CA).",
        .args = {{"certificate", ArgType::String, true, "PEM (one or more) or base64 DER"},
                 {"trust_anchor", ArgType::Boolean, false,
                  "trust it as a root for verifying signatures"}},
        .result_help =
            "{certificates: [{fingerprint, emails, subject, ..., trust_anchor, warnings}]}",
        .aliases = {"import-certificate"},
        .handler =
            [](Context& c, Request& r) {
                return result({{"certificates",
                                c.store().import_certificate(arg_string(r.args, "certificate"),
                                                             arg_bool(r.args, "trust_anchor"))}});
            },
    });
    registry.add({
        .name = "certificates.import_crl",
        .summary = "Import a certificate revocation list (PEM or base64 DER) used when verifying "
                   "signatures.",
        .args = {{"crl", ArgType::String, true, "the CRL"}},
        .result_help = "{fingerprint, issuer, this_update}",
        .aliases = {"import-crl"},
        .handler =
            [](Context& c, Request& r) {
                return result(c.store().import_crl(arg_string(r.args, "crl")));
            },
    });
    registry.add({
        .name = "certificates.list",
        .summary = "List stored certificates (yours, correspondents', harvested from signed mail, "
                   "trust anchors), "
                   "newest first, one page at a time.",
        .args = {{"email", ArgType::String, false, "only certificates for this address"},
                 {"offset", ArgType::Integer, false, "skip this many (default 0)"},
                 {"limit", ArgType::Integer, false,
                  "at most this many (default 100, at most 1000)"}},
        .result_help = "{certificates: [{fingerprint, emails, subject, issuer, serial, not_before, "
                       "not_after, key, source, "
                       "trust_anchor, trusted, capabilities, seen_from?, first_seen, last_seen, "
                       "preferred_by_sender, "
                       "warnings}], total}",
        .aliases = {"certificates"},
        .handler =
            [](Context& c, Request& r) {
                std::optional<std::string> email;
                if (r.args.contains("email")) email = arg_string(r.args, "email");
                const std::int64_t offset = r.args.value("offset", std::int64_t{0});
                const std::int64_t limit = r.args.value("limit", KeyStore::kDefaultListLimit);
                return result(c.store().list_certificates(email, offset, limit));
            },
    });
    registry.add({
        .name = "certificates.delete",
        .summary =
            "Delete a stored certificate (not one of your identities: use identities.delete).",
        .args = {kFingerprint},
        .result_help = "{deleted: fingerprint}",
        .aliases = {"delete-certificate"},
        .handler =
            [](Context& c, Request& r) {
                const auto fp = fingerprint_arg(r);
                c.store().delete_certificate(fp);
                return result({{"deleted", fp}});
            },
    });
    registry.add({
        .name = "recipients.status",
        .summary =
            "For each address, whether mail to it can be encrypted and with which certificate.",
        .args = {{"addresses", ArgType::StringArray, true, "e-mail addresses (at most 1000)"}},
        .result_help =
            "{recipients: [{address, can_encrypt, certificate: {fingerprint, emails, subject, "
            "issuer, serial, "
            "not_before, not_after, key, warnings, source, trusted, capabilities} | null}]}",
        .aliases = {"recipients"},
        .handler =
            [](Context& c, Request& r) {
                const auto addresses = arg_strings(r.args, "addresses");
                if (addresses.size() > 1000)
                    throw Error(Code::TooLarge, "at most 1000 addresses per request",
                                {{"field", "args.addresses"}});
                return result({{"recipients", c.store().recipients_status(addresses)}});
            },
    });
}

}  // namespace smime
