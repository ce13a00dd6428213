// SPDX-License-Identifier: MIT
// Names of the protocol's error codes.
#include "util/error.h"

namespace smime {

std::string_view code_name(Code code) {
    switch (code) {
        case Code::BadJson: return "ERR_BAD_JSON";
        case Code::BadRequest: return "ERR_BAD_REQUEST";
        case Code::UnknownOp: return "ERR_UNKNOWN_OP";
        case Code::TooLarge: return "ERR_TOO_LARGE";
        case Code::BadFrame: return "ERR_BAD_FRAME";
        case Code::Internal: return "ERR_INTERNAL";
        case Code::NotFound: return "ERR_NOT_FOUND";
        case Code::BadPassword: return "ERR_BAD_PASSWORD";
        case Code::BadPassphrase: return "ERR_BAD_PASSPHRASE";
        case Code::Locked: return "ERR_LOCKED";
        case Code::BadPkcs12: return "ERR_BAD_PKCS12";
        case Code::BadCertificate: return "ERR_BAD_CERTIFICATE";
        case Code::NoCertificate: return "ERR_NO_CERTIFICATE";
        case Code::NoIdentity: return "ERR_NO_IDENTITY";
        case Code::BadMessage: return "ERR_BAD_MESSAGE";
        case Code::DecryptFailed: return "ERR_DECRYPT_FAILED";
        case Code::Policy: return "ERR_POLICY";
        case Code::Storage: return "ERR_STORAGE";
        case Code::Io: return "ERR_IO";
        case Code::Throttled: return "ERR_THROTTLED";
    }
    return "ERR_INTERNAL";
}

}  // namespace smime
