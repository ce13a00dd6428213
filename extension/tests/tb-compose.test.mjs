// SPDX-License-Identifier: MIT
// The Thunderbird add-on's compose state: which recipients can receive encrypted mail, and so
// whether the message will be encrypted. A failed question to the host must be asked again.
import {test} from "node:test";
import assert from "node:assert/strict";

// The few MailExtension calls the compose state makes, before the module reads the globals.
globalThis.__TARGET__ = "thunderbird";
const recipients = {to: ["Bob <bob@example.test>"], cc: [], bcc: []};
globalThis.browser = {
  storage: {local: {get: async (defaults) => ({...defaults})}},
  i18n: {getMessage: () => "", getUILanguage: () => "en"},
};
globalThis.messenger = {compose: {getComposeDetails: async () => recipients}};
const {composeView, lookAtComposeTabs, refreshRecipients} = await import("../dist/units/tb-compose.mjs");

function host() {
  const h = {failing: true, asked: 0};
  h.client = {
    request: async (op, args) => {
      assert.equal(op, "recipients.status");
      h.asked += 1;
      if (h.failing) throw new Error("the host is restarting");
      return {recipients: args.addresses.map((address) => ({address, can_encrypt: true, certificate: {trusted: true}}))};
    },
  };
  return h;
}

test("after a failed recipients.status the next look asks again, and encryption turns on", async () => {
  const h = host();
  const first = await composeView(h.client, 11);
  assert.equal(first.encrypt, false, "nothing known yet: not encrypted");
  assert.deepEqual(first.recipients, []);
  h.failing = false;
  const second = await composeView(h.client, 11);
  assert.equal(h.asked, 2, "the same recipients are asked about again after the failure");
  assert.equal(second.encrypt, true);
  assert.deepEqual(second.recipients, [{address: "bob@example.test", canEncrypt: true, trusted: true}]);
  await composeView(h.client, 11);
  assert.equal(h.asked, 2, "an answered list is not asked about again while it is unchanged");
});

test("after a failure the once-a-second look waits before asking again; the user's look asks at once", async () => {
  const h = host();
  await assert.rejects(refreshRecipients(h.client, 12, undefined, true), /restarting/);
  await refreshRecipients(h.client, 12, undefined, true);
  assert.equal(h.asked, 1, "the next second's look does not ask again yet");
  h.failing = false;
  const view = await composeView(h.client, 12);
  assert.equal(h.asked, 2, "opening the compose popup asks at once");
  assert.equal(view.encrypt, true);
});

test("a compose tab whose details never come holds up neither the other tabs nor the next look", async () => {
  const h = host();
  h.failing = false;
  const badges = new Map();
  globalThis.messenger.tabs = {query: async () => [{id: 31}, {id: 32}]};
  globalThis.messenger.compose.getComposeDetails = (tabId) => tabId === 31 ? new Promise(() => {}) : Promise.resolve(recipients);
  globalThis.messenger.composeAction = {
    setBadgeText: async ({tabId, text}) => { badges.set(tabId, text); },
    setBadgeBackgroundColor: async () => {},
    setTitle: async () => {},
  };
  const started = Date.now();
  await lookAtComposeTabs(h.client, 50);
  assert.ok(Date.now() - started < 2000, "the look ended although tab 31 never answered");
  assert.equal(badges.get(32), "E", "tab 32 shows that its message will be encrypted");
  assert.equal(badges.has(31), false);
  await lookAtComposeTabs(h.client, 50);
  assert.equal(h.asked, 1, "tab 32's unchanged recipients are not asked about again");
});

test("a slow host is asked about a list once, however many looks wait for it, and its answer counts", async () => {
  let release;
  let asked = 0;
  const client = {
    request: (op, args) => {
      asked += 1;
      return new Promise((resolve) => {
        release = () => resolve({recipients: args.addresses.map((address) => ({address, can_encrypt: true, certificate: {trusted: true}}))});
      });
    },
  };
  globalThis.messenger.compose.getComposeDetails = async () => recipients;
  const looks = [refreshRecipients(client, 41, undefined, true), refreshRecipients(client, 41, undefined, true)];
  await new Promise((r) => setTimeout(r, 10));
  const third = refreshRecipients(client, 41, undefined, true);
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(asked, 1, "one question on the way for the same list");
  release();
  const states = await Promise.all([...looks, third]);
  for (const s of states) assert.deepEqual(s.recipients, [{address: "bob@example.test", canEncrypt: true, trusted: true}]);
  const view = await composeView(client, 41);
  assert.equal(view.encrypt, true, "the late answer counts: encryption turns on");
  assert.equal(asked, 1);
});
