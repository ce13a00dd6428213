// SPDX-License-Identifier: MIT
// Locale strings (_locales/) for pages: t() for code, and data-i18n attributes for static HTML.

import type {Translate} from "../host/errors.js";
import {api} from "../platform/index.js";

export const t: Translate = (key, substitutions) => api.i18n.getMessage(key, substitutions) || key;

/** Fills text (data-i18n), placeholders (data-i18n-placeholder) and labels (data-i18n-label). */
export function localize(root: ParentNode = document): void {
  for (const el of root.querySelectorAll<HTMLElement>("[data-i18n]")) el.textContent = t(el.dataset.i18n!);
  for (const el of root.querySelectorAll<HTMLInputElement>("[data-i18n-placeholder]")) {
    el.placeholder = t(el.dataset.i18nPlaceholder!);
  }
  for (const el of root.querySelectorAll<HTMLElement>("[data-i18n-label]")) {
    el.setAttribute("aria-label", t(el.dataset.i18nLabel!));
  }
  document.documentElement.lang = api.i18n.getUILanguage().split("-")[0] || "en";
}
