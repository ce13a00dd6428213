// SPDX-License-Identifier: MIT
// Makes a received HTML body safe to show: DOMPurify removes scripts, handlers and active
// content; remote references are disabled unless the user allowed them for this message; cid:
// images are resolved to the message's own parts; the result is a document for a sandboxed frame
// (no allow-scripts) whose CSP forbids every load except inline images (and remote images when
// allowed).

import DOMPurify from "dompurify";

export interface FrameOptions {
  allowRemote: boolean;
  /** Content-ID (without <>) -> data: URL of the part. */
  cid: Map<string, string>;
  /** Links lose their target (href) and read as text: for content that may have been altered. */
  inertLinks?: boolean;
}

export interface FrameDocument {
  html: string;
  blockedRemote: number;
}

const URL_ATTRIBUTES = ["src", "srcset", "background", "poster"];

function isRemote(value: string): boolean {
  return /^\s*(https?:)?\/\//i.test(value);
}

export function frameDocument(body: string, options: FrameOptions): FrameDocument {
  let blockedRemote = 0;
  const purify = DOMPurify(window);
  purify.addHook("afterSanitizeAttributes", (node) => {
    if (!(node instanceof Element)) return;
    for (const name of URL_ATTRIBUTES) {
      const value = node.getAttribute(name);
      if (value === null) continue;
      const cid = /^\s*cid:(.+)$/i.exec(value);
      if (cid) {
        const resolved = options.cid.get(decodeURIComponent(cid[1].trim()).replace(/^<|>$/g, ""));
        if (resolved) node.setAttribute(name, resolved);
        else node.removeAttribute(name);
      } else if (isRemote(value) && !options.allowRemote) {
        node.removeAttribute(name);
        blockedRemote++;
      }
    }
    // Remote CSS in style attributes: counted here, blocked by the frame's CSP either way.
    const style = node.getAttribute("style");
    if (style && /url\(\s*['"]?\s*(https?:)?\/\//i.test(style) && !options.allowRemote) {
      node.setAttribute("style", style.replace(/url\([^)]*\)/gi, "none"));
      blockedRemote++;
    }
    if (options.inertLinks && (node.tagName === "A" || node.tagName === "AREA")) {
      node.removeAttribute("href");
      node.removeAttribute("target");
    }
    if (node.tagName === "A" && node.hasAttribute("href")) {
      node.setAttribute("target", "_blank");
      node.setAttribute("rel", "noopener noreferrer");
    }
  });
  const clean = purify.sanitize(body, {
    WHOLE_DOCUMENT: false,
    FORBID_TAGS: ["form", "input", "button", "textarea", "select", "link", "meta", "base"],
    FORBID_ATTR: ["action", "formaction", "ping"],
    ALLOW_DATA_ATTR: false,
  });
  const images = options.allowRemote ? "data: https: http:" : "data:";
  const csp = `default-src 'none'; img-src ${images}; style-src 'unsafe-inline'; font-src data:; media-src data:`;
  const html =
    `<!doctype html><html><head><meta charset="utf-8">` +
    `<meta http-equiv="Content-Security-Policy" content="${csp}">` +
    `<style>body{font-family:system-ui,sans-serif;margin:12px;overflow-wrap:anywhere}img{max-width:100%}</style>` +
    `</head><body>${clean}</body></html>`;
  return {html, blockedRemote};
}
