// SPDX-License-Identifier: MIT
// Each operation group registers its operations here; one file per group under ops/.
#pragma once

namespace smime {
class Registry;

void register_host_ops(Registry& registry);  // hello, echo (ops/host_ops.cpp)
void register_keystore_ops(Registry& registry);
void register_message_ops(Registry& registry);  // message.* (ops/message_ops.cpp)  // keystore.*,
                                                // identities.*, certificates.*, recipients.*
}  // namespace smime
