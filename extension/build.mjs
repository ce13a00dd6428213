// SPDX-License-Identifier: MIT
// Builds the extension from one source tree into dist/chromium, dist/firefox and dist/thunderbird
// (each with its manifest and the fixed ids of ids.json) and packs each as .zip / .xpi.
import {build} from "esbuild";
import {cpSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync} from "node:fs";
import {dirname, join, relative} from "node:path";
import {fileURLToPath} from "node:url";
import {deflateRawSync, deflateSync} from "node:zlib";

const root = dirname(fileURLToPath(import.meta.url));
const ids = JSON.parse(readFileSync(join(root, "ids.json"), "utf8"));
const {version} = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const args = process.argv.slice(2);

// `node build.mjs --units`: the browser-independent modules as ES modules for the node tests.
if (args[0] === "--units") {
  await build({
    entryPoints: {
      "client": join(root, "src/host/client.ts"),
      "errors": join(root, "src/host/errors.ts"),
      "base64": join(root, "src/host/base64.ts"),
      "verdict": join(root, "src/reader/verdict.ts"),
      "input": join(root, "src/reader/input.ts"),
      "page-protocol": join(root, "src/page-api/protocol.ts"),
      "page-limits": join(root, "src/page-api/limits.ts"),
      "page-mime": join(root, "src/page-api/mime.ts"),
      "page-client": join(root, "src/page-api/client.ts"),
      "page-background": join(root, "src/page-api/background.ts"),
      "tb-mime": join(root, "src/thunderbird/mime.ts"),
      "tb-sequence": join(root, "src/thunderbird/sequence.ts"),
      "tb-compose": join(root, "src/thunderbird/compose.ts"),
    },
    outdir: join(root, "dist", "units"),
    outExtension: {".js": ".mjs"},
    bundle: true,
    splitting: true,  // one copy of each shared module, so error classes match across units
    format: "esm",
    platform: "neutral",
    logLevel: "warning",
  });
  process.exit(0);
}
const targets = args.length ? args : ["chromium", "firefox", "thunderbird"];

// Extension pages may run only the extension's own scripts; nothing remote, no eval.
const CSP = "script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'";

// The webmail page API (docs/page-api.md): the content script is registered at run time for the
// granted origins only; the host permission lets it run there and lets the popup read the tab's
// origin. The viewer frame is the one page a web page may embed.
const WEB = ["http://*/*", "https://*/*"];
const PAGE_API_MANIFEST = {
  host_permissions: WEB,
  web_accessible_resources: [{resources: ["pages/viewer.html"], matches: WEB}],
};

// The standalone client library a webmail ships with its own pages.
async function buildPageApiLibrary() {
  await build({
    entryPoints: [join(root, "src/page-api/standalone.ts")],
    outfile: join(root, "dist", "page-api", "smime-webmail.js"),
    bundle: true,
    format: "iife",
    target: ["es2020"],
    banner: {js: "// SPDX-License-Identifier: MIT\n// smime-webmail.js: the S/MIME page API client library (docs/page-api.md); sets window.SmimeWebmail."},
    legalComments: "none",
    logLevel: "warning",
  });
}

function manifest(target) {
  const common = {
    manifest_version: 3,
    name: "__MSG_extName__",
    description: "__MSG_extDescription__",
    default_locale: "en",
    version,
    icons: {48: "icons/icon-48.png", 128: "icons/icon-128.png"},
    permissions: target === "thunderbird" ? ["nativeMessaging", "storage"] : ["nativeMessaging", "storage", "scripting"],
    action: {default_popup: "pages/popup.html", default_title: "__MSG_extName__", default_icon: {48: "icons/icon-48.png"}},
    options_ui: {page: "pages/options.html", open_in_tab: true},
    content_security_policy: {extension_pages: CSP},
  };
  if (target !== "thunderbird") Object.assign(common, PAGE_API_MANIFEST);
  if (target === "chromium") {
    // The viewer's URL changes every session (use_dynamic_url), so a page cannot use it to tell
    // that the extension is installed; the content script's runtime.getURL gives the current one.
    const resources = common.web_accessible_resources.map((r) => ({...r, use_dynamic_url: true}));
    return {...common, web_accessible_resources: resources, key: ids.chromium_key, minimum_chrome_version: "116",
      background: {service_worker: "background.js"}, storage: {managed_schema: "managed_schema.json"}};
  }
  const gecko = target === "firefox"
    ? {id: ids.firefox_id, strict_min_version: "140.0", data_collection_permissions: {required: ["none"]}}
    : {id: ids.thunderbird_id, strict_min_version: "128.0"};
  const base = {...common, browser_specific_settings: {gecko}, background: {scripts: ["background.js"]}};
  if (target === "firefox") return base;
  // Thunderbird: read raw messages and show verdicts, compose toggles and the send hook, the
  // display script for the banner, deleting autosaved drafts, and the one Experiment (rawsend).
  return {
    ...base,
    permissions: [...common.permissions, "messagesRead", "messagesModify", "messagesDelete", "scripting", "compose",
      "accountsRead", "tabs"],
    message_display_action: {default_popup: "pages/verdict.html", default_title: "__MSG_extName__", default_icon: {48: "icons/icon-48.png"}},
    compose_action: {default_popup: "pages/compose.html", default_title: "__MSG_extName__", default_icon: {48: "icons/icon-48.png"}},
    experiment_apis: {
      smimeRawSend: {schema: "experiment/schema.json", parent: {scopes: ["addon_parent"], paths: [["smimeRawSend"]], script: "experiment/implementation.js"}},
    },
  };
}

// A minimal PNG (solid colour) so every build has its icons without binary files in the tree.
const crcTable = Array.from({length: 256}, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const byte of buf) c = crcTable[(c ^ byte) & 255] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function png(size, [r, g, b]) {
  const chunk = (type, data) => {
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    out.write(type, 4, "latin1");
    data.copy(out, 8);
    out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header[8] = 8;  // bit depth
  header[9] = 2;  // truecolour
  const rows = Buffer.alloc(size * (1 + size * 3));
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const edge = x < size / 8 || y < size / 8 || x >= size - size / 8 || y >= size - size / 8;
      const o = y * (1 + size * 3) + 1 + x * 3;
      rows[o] = edge ? 255 : r;
      rows[o + 1] = edge ? 255 : g;
      rows[o + 2] = edge ? 255 : b;
    }
  }
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk("IHDR", header),
    chunk("IDAT", deflateSync(rows)), chunk("IEND", Buffer.alloc(0))]);
}

// A zip writer (deflate, fixed timestamps) so packages are reproducible without an external tool.
function zip(dir, out) {
  const files = [];
  const walk = (d) => {
    for (const name of readdirSync(d).sort()) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else files.push(path);
    }
  };
  walk(dir);
  const local = [];
  const central = [];
  let offset = 0;
  const DOS_DATE = (2020 - 1980) << 9 | 1 << 5 | 1;
  for (const path of files) {
    const name = Buffer.from(relative(dir, path).split("\\").join("/"));
    const data = readFileSync(path);
    const packed = deflateRawSync(data, {level: 9});
    const crc = crc32(data);
    const head = Buffer.alloc(30);
    head.writeUInt32LE(0x04034b50, 0);
    head.writeUInt16LE(20, 4);
    head.writeUInt16LE(0x0800, 6);
    head.writeUInt16LE(8, 8);
    head.writeUInt16LE(0, 10);
    head.writeUInt16LE(DOS_DATE, 12);
    head.writeUInt32LE(crc, 14);
    head.writeUInt32LE(packed.length, 18);
    head.writeUInt32LE(data.length, 22);
    head.writeUInt16LE(name.length, 26);
    local.push(head, name, packed);
    const entry = Buffer.alloc(46);
    entry.writeUInt32LE(0x02014b50, 0);
    entry.writeUInt16LE(20, 4);
    entry.writeUInt16LE(20, 6);
    entry.writeUInt16LE(0x0800, 8);
    entry.writeUInt16LE(8, 10);
    entry.writeUInt16LE(0, 12);
    entry.writeUInt16LE(DOS_DATE, 14);
    entry.writeUInt32LE(crc, 16);
    entry.writeUInt32LE(packed.length, 20);
    entry.writeUInt32LE(data.length, 24);
    entry.writeUInt16LE(name.length, 28);
    entry.writeUInt32LE(offset, 42);
    central.push(entry, name);
    offset += head.length + name.length + packed.length;
  }
  const centralSize = central.reduce((n, b) => n + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(offset, 16);
  writeFileSync(out, Buffer.concat([...local, ...central, end]));
}

await buildPageApiLibrary();

const PACKAGES = {chromium: "smime-host-chromium.zip", firefox: "smime-host-firefox.xpi", thunderbird: "smime-host-thunderbird.xpi"};

for (const target of targets) {
  const out = join(root, "dist", target);
  rmSync(out, {recursive: true, force: true});
  mkdirSync(join(out, "icons"), {recursive: true});
  await build({
    entryPoints: {
      "background": join(root, "src/background/main.ts"),
      "pages/options": join(root, "src/pages/options.ts"),
      "pages/popup": join(root, "src/pages/popup.ts"),
      "pages/reader": join(root, "src/pages/reader.ts"),
      ...(target === "thunderbird" ? {
        "banner": join(root, "src/thunderbird/banner.ts"),
        "pages/compose": join(root, "src/pages/compose.ts"),
        "pages/verdict": join(root, "src/pages/verdict.ts"),
      } : {}),
    },
    outdir: out,
    bundle: true,
    format: "iife",
    target: ["chrome116", "firefox115"],
    define: {__TARGET__: JSON.stringify(target)},
    legalComments: "external",
    minify: false,
    sourcemap: false,
    logLevel: "warning",
  });
  cpSync(join(root, "static"), join(out, "pages"), {recursive: true});
  if (target !== "thunderbird") {
    await build({
      entryPoints: {"page-api/content": join(root, "src/page-api/content.ts")},
      outdir: out, bundle: true, format: "iife", target: ["chrome116", "firefox115"],
      define: {__TARGET__: JSON.stringify(target)}, logLevel: "warning",
    });
    cpSync(join(root, "dist", "page-api", "smime-webmail.js"), join(out, "page-api", "smime-webmail.js"));
  } else {
    rmSync(join(out, "pages", "viewer.html"));
  }
  if (target === "chromium") cpSync(join(root, "managed_schema.json"), join(out, "managed_schema.json"));
  cpSync(join(root, "_locales"), join(out, "_locales"), {recursive: true});
  for (const size of [48, 128]) writeFileSync(join(out, "icons", `icon-${size}.png`), png(size, [31, 94, 160]));
  if (target === "thunderbird") {
    cpSync(join(root, "experiment"), join(out, "experiment"), {recursive: true});
    for (const [tone, rgb] of [["good", [30, 123, 52]], ["warning", [154, 103, 0]], ["bad", [179, 38, 30]]]) {
      writeFileSync(join(out, "icons", `verdict-${tone}.png`), png(48, rgb));
    }
  } else {
    for (const page of ["compose.html", "verdict.html"]) rmSync(join(out, "pages", page));
  }
  writeFileSync(join(out, "manifest.json"), JSON.stringify(manifest(target), null, 2) + "\n");
  zip(out, join(root, "dist", PACKAGES[target]));
  console.log(`built dist/${target} and dist/${PACKAGES[target]}`);
}
