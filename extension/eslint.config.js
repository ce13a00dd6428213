// SPDX-License-Identifier: MIT
// Lint rules for the extension: typescript-eslint's recommended set plus the rules that keep
// remote code and string evaluation out.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {ignores: ["dist/**", "node_modules/**"]},
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        console: "readonly", chrome: "readonly", browser: "readonly", globalThis: "readonly",
        document: "readonly", window: "readonly", Image: "readonly", navigator: "readonly", performance: "readonly",
        setTimeout: "readonly", clearTimeout: "readonly", atob: "readonly", btoa: "readonly",
        process: "readonly", URL: "readonly", Blob: "readonly", File: "readonly",
        TextEncoder: "readonly", TextDecoder: "readonly", Buffer: "readonly",
      },
    },
    rules: {
      "no-eval": "error",
      "no-implied-eval": "error",
      "no-new-func": "error",
      "no-script-url": "error",
      "@typescript-eslint/no-unused-vars": ["error", {argsIgnorePattern: "^_"}],
    },
  },
);
