// SPDX-License-Identifier: MIT
// Entry of the standalone client library file: puts SmimeWebmail on the page's window.

import {SmimeWebmail} from "./client.js";

(globalThis as unknown as {SmimeWebmail: typeof SmimeWebmail}).SmimeWebmail = SmimeWebmail;
