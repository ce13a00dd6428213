// SPDX-License-Identifier: MIT
// Pieces of a reply, encoded to base64 piece by piece.
#include "util/pieces.h"

#include "util/uninitialized.h"

namespace smime {

void Pieces::append_base64(std::size_t offset, std::size_t n, std::string& out) const {
    const std::size_t total = std::min(n, size_ - std::min(offset, size_));
    const std::size_t encoded = base64::encoded_size(total);
    append_uninitialized(out, encoded, [&](char* dst) noexcept {
        unsigned char carry[3];  // bytes of a group of three that a piece boundary split
        std::size_t carried = 0;
        for_each_part(offset, n, [&](std::string_view part) {
            const auto* p = reinterpret_cast<const unsigned char*>(part.data());
            std::size_t left = part.size();
            while (carried > 0 && carried < 3 && left > 0) {
                carry[carried++] = *p++;
                --left;
            }
            if (carried == 3) {
                base64::encode_to(carry, 3, dst);
                dst += 4;
                carried = 0;
            }
            const std::size_t whole = left / 3 * 3;
            base64::encode_to(p, whole, dst);
            dst += whole / 3 * 4;
            for (std::size_t i = whole; i < left; ++i) carry[carried++] = p[i];
        });
        if (carried > 0) base64::encode_to(carry, carried, dst);
        wipe_bytes(carry, sizeof carry);
        return encoded;
    });
}

}  // namespace smime
