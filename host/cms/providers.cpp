// SPDX-License-Identifier: MIT
// The engine's provider loading goes through the host's single loader (util/providers.h).
#include "cms/providers.h"

#include "util/providers.h"

namespace smime::engine {

void load_providers() { ensure_legacy_provider(); }

}  // namespace smime::engine
