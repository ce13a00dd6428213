// SPDX-License-Identifier: MIT
// The Thunderbird add-on's per-tab message tickets: a reading that resolves after the user moved to
// another message must not paint, in whatever order the readings resolve.
import {test} from "node:test";
import assert from "node:assert/strict";
import {DisplayedMessages} from "../dist/units/tb-sequence.mjs";

test("a slow reading of message A does not paint while B is shown", async () => {
  const displayed = new DisplayedMessages();
  const painted = [];
  const deferred = () => {
    let resolve;
    const promise = new Promise((r) => (resolve = r));
    return {promise, resolve};
  };
  const slowA = deferred();
  const fastB = deferred();
  const show = async (messageId, reading) => {
    const ticket = displayed.select(7, messageId);
    const verdict = await reading;
    if (displayed.isCurrent(ticket)) painted.push([messageId, verdict]);
  };
  const a = show(1, slowA.promise);
  const b = show(2, fastB.promise);
  fastB.resolve("unsigned");
  slowA.resolve("good");
  await Promise.all([a, b]);
  assert.deepEqual(painted, [[2, "unsigned"]]);
  assert.equal(displayed.messageOf(7), 2);
});

test("tickets are per tab; selecting several or none clears the message; forget drops the tab", () => {
  const displayed = new DisplayedMessages();
  const t1 = displayed.select(1, 10);
  const t2 = displayed.select(2, 20);
  assert.ok(displayed.isCurrent(t1) && displayed.isCurrent(t2));
  const again = displayed.select(1, 10);
  assert.ok(!displayed.isCurrent(t1), "the same message selected again takes a new ticket");
  assert.ok(displayed.isCurrent(again));
  displayed.select(2, null);
  assert.equal(displayed.messageOf(2), null);
  assert.ok(!displayed.isCurrent(t2));
  displayed.forget(1);
  assert.ok(!displayed.isCurrent(again));
  assert.equal(displayed.messageOf(1), null);
});
