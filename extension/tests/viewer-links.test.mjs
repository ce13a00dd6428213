// SPDX-License-Identifier: MIT
// The viewer a web page embeds keeps links live only for content proven unaltered: a good
// signature and no layer encrypted without authentication.
import {test} from "node:test";
import assert from "node:assert/strict";
import {linksMayStayLive} from "../dist/units/verdict.mjs";

const good = {verdict: "good", signer: null};
const cbc = {code: "unauthenticated_encryption", message: "CBC"};

test("links stay live only with a good signature and no unauthenticated encryption", () => {
  assert.equal(linksMayStayLive({level: "signed", layers: [], signatures: [good]}), true);
  assert.equal(linksMayStayLive({level: "signed+encrypted", layers: [], signatures: [good], warnings: [cbc]}), false);
  assert.equal(linksMayStayLive({level: "encrypted", layers: [], warnings: [cbc]}), false);
  assert.equal(linksMayStayLive({level: "encrypted", layers: []}), false, "encrypted (GCM) but unsigned");
  assert.equal(linksMayStayLive({level: "signed", layers: [], signatures: [{verdict: "bad_signature", signer: null}]}), false);
  assert.equal(linksMayStayLive({level: "none", layers: []}), false);
});
