// SPDX-License-Identifier: MIT
// Starting the browsers the tests drive: Firefox (and Thunderbird) profiles with the host manifest
// and Marionette, Chromium with the unpacked extension and the host manifest in its profile.
import {spawn} from "node:child_process";
import {existsSync, mkdirSync, mkdtempSync, writeFileSync} from "node:fs";
import {tmpdir} from "node:os";
import {createServer} from "node:net";
import {join} from "node:path";
import {chromium} from "playwright-core";

export const FIREFOX = process.env.FIREFOX ?? ["/usr/bin/firefox-esr", "/usr/bin/firefox"].find(existsSync);
export const CHROMIUM = process.env.CHROMIUM ?? ["/usr/lib/chromium/chromium", "/usr/bin/chromium"].find(existsSync);

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export const freePort = () => new Promise((resolve) => {
  const s = createServer().listen(0, "127.0.0.1", () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});

/** Writes `prefs` (pairs of name and value) as the profile's user.js. */
// The Firefox add-on file and a fresh work folder for a Firefox test; fails loudly when Firefox
// or the built add-on is missing.
export function firefoxTestSetup(xpi, artifacts, workPrefix) {
  if (!FIREFOX) throw new Error("firefox-esr is not installed (installer/deps.sh --test installs it)");
  if (!existsSync(xpi)) throw new Error("build the extension first: npm run build");
  mkdirSync(artifacts, {recursive: true});
  return mkdtempSync(join(tmpdir(), workPrefix));
}

export function writeUserPrefs(profile, prefs) {
  writeFileSync(join(profile, "user.js"), prefs.map(([k, v]) => `user_pref(${JSON.stringify(k)}, ${JSON.stringify(v)});`).join("\n") + "\n");
}

/** A HOME for Firefox or Thunderbird in `work`/home with the host manifest for `extensionId`, and
 * when `managed` ({description, data}) is given, the add-on's managed storage. */
export function mozillaHome(work, wrapper, extensionId, managed) {
  const home = join(work, "home");
  mkdirSync(join(home, ".mozilla/native-messaging-hosts"), {recursive: true});
  if (managed) mkdirSync(join(home, ".mozilla/managed-storage"), {recursive: true});
  writeFileSync(join(home, ".mozilla/native-messaging-hosts/org.smimehost.native.json"), JSON.stringify({
    name: "org.smimehost.native", description: "test", path: wrapper, type: "stdio", allowed_extensions: [extensionId],
  }));
  if (managed) {
    writeFileSync(join(home, `.mozilla/managed-storage/${extensionId}.json`), JSON.stringify({
      name: extensionId, description: managed.description, type: "storage", data: managed.data,
    }));
  }
  return home;
}

/** Headless Firefox on a fresh profile in `work`/profile with Marionette on a free port; `prefs`
 * are added to the usual ones. Returns the process (its own group) and the Marionette port. */
export async function startFirefox(binary, work, home, {width, height, prefs = []}) {
  const port = await freePort();
  const profile = join(work, "profile");
  mkdirSync(profile);
  writeUserPrefs(profile, [
    ["marionette.port", port], ["xpinstall.signatures.required", false], ["browser.shell.checkDefaultBrowser", false],
    ["browser.startup.homepage_override.mstone", "ignore"], ["datareporting.policy.dataSubmissionEnabled", false],
    ["toolkit.telemetry.reportingpolicy.firstRun", false], ["app.update.enabled", false],
    ["extensions.update.enabled", false], ["network.captive-portal-service.enabled", false],
    ["browser.aboutwelcome.enabled", false], ...prefs,
  ]);
  const firefox = spawn(binary, ["--headless", "--marionette", "-remote-allow-system-access", "--no-remote", "--profile", profile, "about:blank"],
    {env: {...process.env, HOME: home, MOZ_HEADLESS_WIDTH: String(width), MOZ_HEADLESS_HEIGHT: String(height)}, stdio: "ignore", detached: true});
  return {firefox, port};
}

/**
 * Starts a WebDriver session on the Marionette connection `m`, installs the add-on `xpi`
 * temporarily and returns the moz-extension host name Firefox gave add-on `addonId`; `m` is left in
 * the content context.
 */
export async function installAddon(m, xpi, addonId) {
  await m.command("WebDriver:NewSession", {capabilities: {}});
  await m.command("Addon:Install", {path: xpi, temporary: true});
  await m.command("Marionette:SetContext", {value: "chrome"});
  const host = await m.run(`const resolve = arguments[0];
    resolve(WebExtensionPolicy.getByID(${JSON.stringify(addonId)}).mozExtensionHostname);`);
  await m.command("Marionette:SetContext", {value: "content"});
  return host;
}

/** Closes the Marionette connection `m` (if open) and ends the browser's process group. */
export function stopBrowser(m, child) {
  try {
    m?.close();
  } catch {
    // already closed
  }
  try {
    process.kill(-child.pid, "SIGTERM");
  } catch {
    // already gone
  }
}

/** Headless Chromium on the profile `work`/profile with the unpacked extension `ext` and the host
 * manifest for `chromiumId`; `options` go to Playwright (viewport, acceptDownloads). */
export async function launchChromium(binary, ext, work, wrapper, chromiumId, options) {
  const udd = join(work, "profile");
  mkdirSync(join(udd, "NativeMessagingHosts"), {recursive: true});
  writeFileSync(join(udd, "NativeMessagingHosts", "org.smimehost.native.json"), JSON.stringify({
    name: "org.smimehost.native", description: "test", path: wrapper, type: "stdio",
    allowed_origins: [`chrome-extension://${chromiumId}/`],
  }));
  return chromium.launchPersistentContext(udd, {
    executablePath: binary,
    headless: false,
    ignoreDefaultArgs: ["--disable-extensions"],
    args: ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--disable-features=DisableLoadExtensionCommandLineSwitch",
      `--disable-extensions-except=${ext}`, `--load-extension=${ext}`],
    ...options,
  });
}

/**
 * The RGBA bytes of the `width` x `height` rectangle at `x`, `y` of the PNG `png`, decoded by the
 * browser in `page`.
 */
export function pixelsOf(page, png, x, y, width = 1, height = 1) {
  return page.evaluate(async ({dataUrl, x, y, width, height}) => {
    const img = new Image();
    img.src = dataUrl;
    await img.decode();
    const canvas = document.createElement("canvas");
    canvas.width = img.width;
    canvas.height = img.height;
    const ctx = canvas.getContext("2d");
    ctx.drawImage(img, 0, 0);
    return Array.from(ctx.getImageData(x, y, width, height).data);
  }, {dataUrl: "data:image/png;base64," + png.toString("base64"), x, y, width, height});
}

/** The colour of the pixel at `x`, `y` of the PNG `png`, decoded by the browser in `page`. */
export async function pixelOf(page, png, x, y) {
  return (await pixelsOf(page, png, x, y)).slice(0, 3);
}
