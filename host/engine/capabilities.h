// SPDX-License-Identifier: MIT
// The S/MIME signed attributes that drive automatic key exchange: SMIMECapabilities (RFC 8551
// section 2.5.2) and SMIMEEncryptionKeyPreference (section 2.5.3), written and read.
#pragma once

#include <openssl/cms.h>

#include <string>
#include <vector>

namespace smime::engine {

// Adds what we can decrypt, strongest first: AES-256-GCM, AES-128-GCM, AES-256/192/128-CBC and,
// for RSA keys, RSAES-OAEP.
void add_capabilities(CMS_SignerInfo* si, EVP_PKEY* key);

// Adds SMIMEEncryptionKeyPreference naming `cert` by issuer and serial number.
void add_encryption_key_preference(CMS_SignerInfo* si, X509* cert);

// Canonical names (see Recipient::capabilities in engine/keys.h); empty if the attribute is absent
// or malformed.
std::vector<std::string> read_capabilities(CMS_SignerInfo* si);

// The certificate among `certs` that SMIMEEncryptionKeyPreference names, or nullptr.
X509* find_encryption_key_preference(CMS_SignerInfo* si, STACK_OF(X509)* certs);

// Canonical name for an algorithm identifier's OID.
std::string capability_name(const ASN1_OBJECT* oid);

}  // namespace smime::engine
