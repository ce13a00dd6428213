// SPDX-License-Identifier: MIT
// The add-on's only Experiment: Thunderbird 128-153 has no MailExtension API that returns the MIME
// a compose window would send, nor one that sends a message someone else built (compose.sendMessage
// and messages.sendMessage build their own). `build` lets Thunderbird's own MimeMessage make the
// plaintext message (so formats, attachments, In-Reply-To/References and From are exactly
// Thunderbird's), `send` hands the host's signed or encrypted bytes to nsIMsgSend.sendMessageFile.
// Everything else in the add-on uses MailExtension APIs; the add-on feature-detects this namespace.
/* global ExtensionCommon, ChromeUtils, Services, Cc, Ci, IOUtils, PathUtils */
"use strict";

const {MailServices} = ChromeUtils.importESModule("resource:///modules/MailServices.sys.mjs");
// Errors of this type reach the add-on with their message; others arrive as "An unexpected error occurred".
const {ExtensionError} = ChromeUtils.importESModule("resource://gre/modules/ExtensionUtils.sys.mjs").ExtensionUtils;

// Messages cross as base64, the form the host takes and gives: no conversion on the add-on's side.
// Uint8Array.prototype.toBase64 / fromBase64 are native from Gecko 133; older ones go through atob/btoa.
function toBase64(bytes) {
  if (typeof bytes.toBase64 === "function") return bytes.toBase64();
  let out = "";
  for (let i = 0; i < bytes.length; i += 0x8000) out += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(out);
}

function fromBase64(text) {
  if (typeof Uint8Array.fromBase64 === "function") return Uint8Array.fromBase64(text);
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function listener(done, onFile) {
  return {
    QueryInterface: ChromeUtils.generateQI(["nsIMsgSendListener", "nsIMsgCopyServiceListener"]),
    onStartSending() {},
    onSendProgress() {},
    onProgress() {},
    onStatus() {},
    onGetDraftFolderURI() {},
    onTransportSecurityError(msgId, status, secInfo, location) {
      done.reject(new ExtensionError(`the SMTP server's certificate was refused (${location})`));
    },
    onStartCopy() {},
    setMessageKey() {},
    getMessageId() {
      return null;
    },
    onStopSending(msgId, status, msg, file) {
      if (status) done.reject(new ExtensionError(msg || `sending failed (0x${(status >>> 0).toString(16)})`));
      else if (onFile) onFile(file);
    },
    onSendNotPerformed(msgId, status) {
      done.reject(new ExtensionError(`sending was not performed (0x${(status >>> 0).toString(16)})`));
    },
    onStopCopy(status) {
      if (status) done.reject(new ExtensionError(`the message was sent, but the copy in Sent failed (0x${(status >>> 0).toString(16)})`));
      else done.resolve();
    },
  };
}

/** Protected mail goes out now or not at all (see send). */
function refuseOffline() {
  if (Services.io.offline) throw new ExtensionError("Thunderbird is offline; protected mail is sent only online");
}

/** Thunderbird builds the plaintext message of a compose window into a file, read and removed at once. */
async function buildMessage(win, fields) {
  const format = win.determineSendFormat();
  fields.forcePlainText = format == Ci.nsIMsgCompSendFormat.PlainText;
  fields.useMultipartAlternative = format == Ci.nsIMsgCompSendFormat.Both;
  const done = Promise.withResolvers();
  let file = null;
  const l = listener(done, (f) => {
    file = f;
    done.resolve();
  });
  const send = Cc["@mozilla.org/messengercompose/send;1"].createInstance(Ci.nsIMsgSend);
  const html = win.gMsgCompose.composeHTML;
  const editor = win.GetCurrentEditor();
  const body = html
    ? editor.outputToString("text/html", Ci.nsIDocumentEncoder.OutputFormatted)
    : editor.outputToString("text/plain", Ci.nsIDocumentEncoder.OutputFormatted | Ci.nsIDocumentEncoder.OutputLFLineBreak);
  await send.createAndSendMessage(editor, win.gCurrentIdentity, win.getCurrentAccountKey(), fields, false, true,
    Ci.nsIMsgSend.nsMsgDeliverNow, null, html ? "text/html" : "text/plain", body, null, null, l, null,
    win.gMsgCompose.originalMsgURI, win.gMsgCompose.type);
  await done.promise;
  if (!file) throw new ExtensionError("Thunderbird built no message");
  try {
    return toBase64(await IOUtils.read(file.path));
  } finally {
    await IOUtils.remove(file.path, {ignoreAbsent: true});
  }
}

this.smimeRawSend = class extends ExtensionCommon.ExtensionAPI {
  getAPI(context) {
    const {tabManager, messageManager} = context.extension;
    return {
      smimeRawSend: {
        async build(tabId) {
          const win = tabManager.get(tabId)?.nativeTab;
          if (!win?.gMsgCompose) throw new ExtensionError("not a compose tab");
          refuseOffline();
          // What GenericSendMessage does before sending, minus Thunderbird's own crypto. These are
          // the compose window's live fields: its S/MIME switches are put back after building, so a
          // failed protected send leaves the window as it was.
          const fields = win.GetComposeDetails();
          win.expandRecipients();
          const secure = fields.composeSecure;
          const before = secure ? {requireEncryptMessage: secure.requireEncryptMessage, signMessage: secure.signMessage} : null;
          try {
            if (secure) {
              secure.requireEncryptMessage = false;
              secure.signMessage = false;
            }
            return await buildMessage(win, fields);
          } finally {
            if (secure && before) {
              secure.requireEncryptMessage = before.requireEncryptMessage;
              secure.signMessage = before.signMessage;
            }
          }
        },

        async send(identityId, raw, envelope) {
          refuseOffline();
          const identity = MailServices.accounts.allIdentities.find((i) => i.key == identityId);
          if (!identity) throw new ExtensionError(`no identity ${identityId}`);
          const account = MailServices.accounts.accounts.find((a) => a.identities.includes(identity));
          const path = await IOUtils.createUniqueFile(PathUtils.tempDir, "smime-out.eml", 0o600);
          try {
            await IOUtils.write(path, fromBase64(raw));
            const file = Cc["@mozilla.org/file/local;1"].createInstance(Ci.nsIFile);
            file.initWithPath(path);
            const fields = Cc["@mozilla.org/messengercompose/composefields;1"].createInstance(Ci.nsIMsgCompFields);
            fields.from = MailServices.headerParser.makeMimeAddress(identity.fullName || "", identity.email);
            fields.to = envelope.recipients.join(", ");
            if (!envelope.saveCopy) fields.fcc = "nocopy://";
            const done = Promise.withResolvers();
            const send = Cc["@mozilla.org/messengercompose/send;1"].createInstance(Ci.nsIMsgSend);
            // Always now, never nsMsgQueueForLater: send-later takes the envelope from the queued
            // file's header, not from these fields, so a Bcc copy would reach the To and Cc instead.
            // 11 arguments: Thunderbird 128 has a status feedback before the password, 153 ignores the surplus one.
            await send.sendMessageFile(identity, account?.key ?? null, fields, file, true, false,
              Ci.nsIMsgSend.nsMsgDeliverNow, null, listener(done), null, "");
            await done.promise;
          } finally {
            await IOUtils.remove(path, {ignoreAbsent: true});
          }
          if (envelope.relatedMessageId !== undefined && envelope.disposition) {
            const hdr = messageManager.get(envelope.relatedMessageId);
            hdr?.folder.addMessageDispositionState(hdr, envelope.disposition === "replied"
              ? Ci.nsIMsgFolder.nsMsgDispositionState_Replied : Ci.nsIMsgFolder.nsMsgDispositionState_Forwarded);
          }
        },
      },
    };
  }
};
