// SPDX-License-Identifier: MIT
// Finds the system's anchors through OpenSSL's hashed-directory lookup, or its bundle where the
// system has no hashed directory.
#include "pki/system_anchors.h"

#include "util/log.h"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdlib>
#include <filesystem>
#include <string_view>
#include <system_error>

namespace smime::pki {
namespace {

#ifdef _WIN32
constexpr char kListSeparator = ';';
#else
constexpr char kListSeparator = ':';
#endif

// `<8 hex digits>.<digits>`: what `openssl rehash` (c_rehash, update-ca-certificates) names a
// link to a certificate; `.r<digits>` links to CRLs do not count.
bool is_certificate_link(std::string_view name) {
    if (name.size() < 10 || name[8] != '.') return false;
    for (std::size_t i = 0; i < name.size(); ++i) {
        if (i == 8) continue;
        const char c = name[i];
        const bool digit = c >= '0' && c <= '9';
        const bool hex = digit || (c >= 'a' && c <= 'f');
        if (i < 8 ? !hex : !digit) return false;
    }
    return true;
}

// Whether `dir` holds at least one hash link (it stops at the first one).
bool is_hashed_directory(const std::string& dir) {
    std::error_code ec;
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
        if (is_certificate_link(it->path().filename().string())) return true;
    return false;
}

std::string env_or(const char* name, const char* fallback) {
    const char* value = std::getenv(name);
    return value && *value ? value : fallback;
}

SystemAnchorLocations locate() {
    SystemAnchorLocations where;
    const std::string dirs = env_or(X509_get_default_cert_dir_env(), X509_get_default_cert_dir());
    for (std::size_t at = 0; at <= dirs.size();) {
        std::size_t end = dirs.find(kListSeparator, at);
        if (end == std::string::npos) end = dirs.size();
        std::string dir = dirs.substr(at, end - at);
        if (!dir.empty() && is_hashed_directory(dir))
            where.hashed_directories.push_back(std::move(dir));
        at = end + 1;
    }
    where.bundle_file = env_or(X509_get_default_cert_file_env(), X509_get_default_cert_file());
    return where;
}

}  // namespace

const std::vector<ossl::X509Ptr>& system_bundle() {
    static const std::vector<ossl::X509Ptr> anchors = [] {
        std::vector<ossl::X509Ptr> parsed;
        const ossl::BioPtr in(BIO_new_file(system_anchor_locations().bundle_file.c_str(), "r"));
        if (!in) {
            ERR_clear_error();
            return parsed;
        }
        while (X509* cert = PEM_read_bio_X509(in.get(), nullptr, nullptr, nullptr))
            parsed.emplace_back(cert);
        ERR_clear_error();  // the loop ends on "no start line"
        if (parsed.empty()) log::warn("the system certificate bundle holds no certificate");
        return parsed;
    }();
    return anchors;
}

const SystemAnchorLocations& system_anchor_locations() {
    static const SystemAnchorLocations where = locate();
    return where;
}

bool add_system_anchors(X509_STORE* store) {
    const SystemAnchorLocations& where = system_anchor_locations();
    if (!where.hashed_directories.empty()) {
        X509_LOOKUP* lookup = X509_STORE_add_lookup(store, X509_LOOKUP_hash_dir());
        bool added = lookup != nullptr;
        for (const auto& dir : where.hashed_directories)
            added = added && X509_LOOKUP_add_dir(lookup, dir.c_str(), X509_FILETYPE_PEM) == 1;
        if (added) return true;
        log::openssl_errors("system certificate directory");
    }
    const auto& anchors = system_bundle();
    for (const auto& anchor : anchors) X509_STORE_add_cert(store, anchor.get());
    ERR_clear_error();  // a certificate already in the store is not a problem
    return !anchors.empty();
}

}  // namespace smime::pki
