// SPDX-License-Identifier: MIT
// Every string the code and the pages ask for exists in English and Dutch.
import {test} from "node:test";
import assert from "node:assert/strict";
import {readFileSync, readdirSync} from "node:fs";
import {join} from "node:path";

const root = new URL("..", import.meta.url).pathname;
const load = (lang) => JSON.parse(readFileSync(join(root, "_locales", lang, "messages.json"), "utf8"));

function files(dir, ext) {
  return readdirSync(dir, {withFileTypes: true}).flatMap((d) =>
    d.isDirectory() ? files(join(dir, d.name), ext) : d.name.endsWith(ext) ? [join(dir, d.name)] : []);
}

test("English and Dutch have the same keys, none empty", () => {
  const en = load("en");
  const nl = load("nl");
  assert.deepEqual(Object.keys(nl).sort(), Object.keys(en).sort());
  for (const [key, value] of Object.entries({...en, ...nl})) assert.ok(value.message.trim(), key);
});

test("every literal key used in code and HTML exists", () => {
  const en = load("en");
  const used = new Set();
  for (const f of files(join(root, "src"), ".ts")) {
    for (const m of readFileSync(f, "utf8").matchAll(/\bt\("([A-Za-z0-9_]+)"[,)]/g)) used.add(m[1]);
  }
  for (const f of files(join(root, "static"), ".html")) {
    for (const m of readFileSync(f, "utf8").matchAll(/data-i18n(?:-placeholder|-label)?="([^"]+)"/g)) used.add(m[1]);
  }
  assert.ok(used.size > 50);
  for (const key of used) assert.ok(en[key], `missing locale key ${key}`);
});
