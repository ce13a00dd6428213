// SPDX-License-Identifier: MIT
// Key store operations: keystore.*, identities.*, certificates.*, recipients.status, and the
// CLI-only backup. There is deliberately no operation that returns a private key.
#include "keystore/keystore.h"
#include "ops/groups.h"
#include "ops/operation.h"
#include "util/error.h"

#include <cctype>
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
        if (ch != ':' && ch != ' ') fp.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
    return fp;
}

Reply result(json value) {
    Reply r;
    r.result = std::move(value);
    return r;
}

const ArgSpec kFingerprint{"fingerprint", ArgType::String, true, "SHA-256 fingerprint of the certificate (hex)"};

}  // namespace

void register_keystore_ops(Registry& registry) {
    registry.add({"keystore.status",
                  "Where the key store is, whether a passphrase protects it, whether it is unlocked, counts.",
                  {},
                  "{path, protected, unlocked, idle_lock_minutes, schema_version, counts{identities, certificates, "
                  "trust_anchors, crls}}",
                  "",
                  {"status"},
                  [](Context& c, Request&) { return result(c.store().status()); }});
    registry.add({"keystore.set_passphrase",
                  "Set, change or remove (empty) the key store passphrase; re-seals every private key at once.",
                  {{"new_passphrase", ArgType::Secret, true, "the new passphrase; empty removes protection"},
                   {"old_passphrase", ArgType::Secret, false, "the current passphrase (required if one is set)"}},
                  "{protected}",
                  "",
                  {"passphrase"},
                  [](Context& c, Request& r) {
                      std::optional<SecureString> old;
                      if (r.args.contains("old_passphrase")) old = secret(r, "old_passphrase");
                      c.store().set_passphrase(secret(r, "new_passphrase"), old);
                      return result({{"protected", c.store().is_protected()}});
                  }});
    registry.add({"keystore.unlock",
                  "Unlock the private keys for this process until keystore.lock, the idle timeout or exit. "
                  "Wrong guesses are rate-limited for the whole store (ERR_THROTTLED, details.retry_after_ms).",
                  {{"passphrase", ArgType::Secret, true, "the key store passphrase"},
                   {"idle_minutes", ArgType::Integer, false, "lock again after this many idle minutes (default 30)"}},
                  "{unlocked: true, idle_lock_minutes}",
                  "",
                  {"unlock"},
                  [](Context& c, Request& r) {
                      std::optional<int> idle;
                      if (r.args.contains("idle_minutes")) idle = r.args["idle_minutes"].get<int>();
                      c.store().unlock(secret(r, "passphrase"), idle);
                      return result({{"unlocked", true}, {"idle_lock_minutes", c.store().status()["idle_lock_minutes"]}});
                  }});
    registry.add({"keystore.lock",
                  "Forget the derived key in this process; private-key operations then need keystore.unlock.",
                  {},
                  "{unlocked: false}",
                  "",
                  {"lock"},
                  [](Context& c, Request&) {
                      c.store().lock();
                      return result({{"unlocked", !c.store().is_protected()}});
                  }});
    registry.add({"identities.import",
                  "Import your certificate with its private key from a PKCS#12 file (.p12/.pfx).",
                  {{"pkcs12", ArgType::Payload, true, "the PKCS#12 file (base64, or chunked)"},
                   {"password", ArgType::Secret, false, "the PKCS#12 password (default empty)"}},
                  "{fingerprint, emails, subject, issuer, serial, not_before, not_after, key{type, bits, curve?}, "
                  "active, active_for[], chain_length, created, warnings[{code, message}]}",
                  "",
                  {"import"},
                  [](Context& c, Request& r) {
                      return result(c.store().import_identity(r.payload.str(), secret(r, "password")));
                  }});
    registry.add({"identities.list",
                  "List your identities (certificates with private keys).",
                  {},
                  "{identities: [same fields as identities.import]}",
                  "",
                  {"list"},
                  [](Context& c, Request&) { return result({{"identities", c.store().list_identities()}}); }});
    registry.add({"identities.activate",
                  "Make this identity the one used for each of its addresses.",
                  {kFingerprint},
                  "the identity, as identities.import describes it",
                  "",
                  {"activate"},
                  [](Context& c, Request& r) { return result(c.store().activate(fingerprint_arg(r))); }});
    registry.add({"identities.deactivate",
                  "Stop using this identity for its addresses (it stays in the store and can still decrypt).",
                  {kFingerprint},
                  "the identity, as identities.import describes it",
                  "",
                  {"deactivate"},
                  [](Context& c, Request& r) { return result(c.store().deactivate(fingerprint_arg(r))); }});
    registry.add({"identities.delete",
                  "Delete an identity's private key for good (its certificate is kept as a public one); "
                  "a protected store must be unlocked.",
                  {kFingerprint},
                  "{deleted: fingerprint}",
                  "",
                  {"delete"},
                  [](Context& c, Request& r) {
                      const auto fp = fingerprint_arg(r);
                      c.store().delete_identity(fp);
                      return result({{"deleted", fp}});
                  }});
    registry.add({"identities.export_certificate",
                  "Export the public certificate of an identity (or any stored certificate) as PEM.",
                  {kFingerprint, {"chain", ArgType::Boolean, false, "append the identity's chain"}},
                  "{pem}",
                  "",
                  {"export"},
                  [](Context& c, Request& r) {
                      return result({{"pem", c.store().export_certificate(fingerprint_arg(r), arg_bool(r.args, "chain"))}});
                  }});
    registry.add({"identities.backup",
                  "Write a password-protected PKCS#12 backup of one of your identities (command line only).",
                  {kFingerprint, {"password", ArgType::Secret, true, "password for the backup file"}},
                  "the PKCS#12 file",
                  "pkcs12",
                  {"backup"},
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
                  true});
    registry.add({"certificates.import",
                  "Import certificates of correspondents, or a trust anchor (e.g. your organisation's root CA).",
                  {{"certificate", ArgType::String, true, "PEM (one or more) or base64 DER"},
                   {"trust_anchor", ArgType::Boolean, false, "trust it as a root for verifying signatures"}},
                  "{certificates: [{fingerprint, emails, subject, ..., trust_anchor, warnings}]}",
                  "",
                  {"import-certificate"},
                  [](Context& c, Request& r) {
                      return result({{"certificates", c.store().import_certificate(arg_string(r.args, "certificate"),
                                                                                   arg_bool(r.args, "trust_anchor"))}});
                  }});
    registry.add({"certificates.import_crl",
                  "Import a certificate revocation list (PEM or base64 DER) used when verifying signatures.",
                  {{"crl", ArgType::String, true, "the CRL"}},
                  "{fingerprint, issuer, this_update}",
                  "",
                  {"import-crl"},
                  [](Context& c, Request& r) { return result(c.store().import_crl(arg_string(r.args, "crl"))); }});
    registry.add({"certificates.list",
                  "List stored certificates (yours, correspondents', harvested from signed mail, trust anchors), "
                  "newest first, one page at a time.",
                  {{"email", ArgType::String, false, "only certificates for this address"},
                   {"offset", ArgType::Integer, false, "skip this many (default 0)"},
                   {"limit", ArgType::Integer, false, "at most this many (default 100, at most 1000)"}},
                  "{certificates: [{fingerprint, emails, subject, issuer, serial, not_before, not_after, key, source, "
                  "trust_anchor, trusted, capabilities, seen_from?, first_seen, last_seen, preferred_by_sender, "
                  "warnings}], total}",
                  "",
                  {"certificates"},
                  [](Context& c, Request& r) {
                      std::optional<std::string> email;
                      if (r.args.contains("email")) email = arg_string(r.args, "email");
                      const std::int64_t offset = r.args.value("offset", std::int64_t{0});
                      const std::int64_t limit = r.args.value("limit", KeyStore::kDefaultListLimit);
                      return result(c.store().list_certificates(email, offset, limit));
                  }});
    registry.add({"certificates.delete",
                  "Delete a stored certificate (not one of your identities: use identities.delete).",
                  {kFingerprint},
                  "{deleted: fingerprint}",
                  "",
                  {"delete-certificate"},
                  [](Context& c, Request& r) {
                      const auto fp = fingerprint_arg(r);
                      c.store().delete_certificate(fp);
                      return result({{"deleted", fp}});
                  }});
    registry.add({"recipients.status",
                  "For each address, whether mail to it can be encrypted and with which certificate.",
                  {{"addresses", ArgType::StringArray, true, "e-mail addresses (at most 1000)"}},
                  "{recipients: [{address, can_encrypt, certificate: {fingerprint, emails, subject, issuer, serial, "
                  "not_before, not_after, key, warnings, source, trusted, capabilities} | null}]}",
                  "",
                  {"recipients"},
                  [](Context& c, Request& r) {
                      const auto addresses = arg_strings(r.args, "addresses");
                      if (addresses.size() > 1000)
                          throw Error(Code::TooLarge, "at most 1000 addresses per request", {{"field", "args.addresses"}});
                      return result({{"recipients", c.store().recipients_status(addresses)}});
                  }});
}

}  // namespace smime
