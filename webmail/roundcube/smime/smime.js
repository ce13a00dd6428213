// SPDX-License-Identifier: MIT
// S/MIME in Roundcube's compose and message views through the smime-host extension's page API
// (window.SmimeWebmail): sign and encrypt toggles, who can receive encrypted mail, sending the
// bytes the extension protected, and S/MIME messages opened in the extension's own viewer.
(function () {
  'use strict';

  var api = null;

  function connect() {
    if (!api) {
      api = window.SmimeWebmail
        ? window.SmimeWebmail.connect({timeoutMs: 3000})
        : Promise.reject(Object.assign(new Error('no client library'), {code: 'ERR_NOT_GRANTED'}));
    }
    return api;
  }

  function label(name, vars) {
    var text = rcmail.gettext('smime.' + name);
    for (var key in vars || {}) text = text.replace('$' + key, vars[key]);
    return text;
  }

  /** Words for an error of the page API or the host, by its stable code. */
  function error_text(e) {
    var code = (e && e.code) || 'ERR_INTERNAL';
    var text = rcmail.gettext('smime.' + code);
    return text && text.indexOf('smime.') !== 0 ? text : label('failed', {code: code});
  }

  function element(tag, attrs, text) {
    var el = document.createElement(tag);
    for (var key in attrs || {}) el.setAttribute(key, attrs[key]);
    if (text) el.textContent = text;
    return el;
  }

  function address_of(text) {
    var m = /<([^<>@\s]+@[^<>\s]+)>/.exec(text || '') || /([^<>\s,;"]+@[^<>\s,;"]+)/.exec(text || '');
    return m ? m[1].toLowerCase() : null;
  }

  // ---------------------------------------------------------------- compose

  var compose = {status: null, can: {}, sign: null, encrypt: null, busy: false, plain_once: false};

  function sender() {
    var from = document.getElementById('_from');
    if (!from) return null;
    if (from.tagName === 'SELECT') {
      var option = from.options[from.selectedIndex];
      return address_of(option ? option.text : '');
    }
    return address_of(from.value);
  }

  /** [{li, address, field}] for every recipient in To, Cc and Bcc. */
  function recipients() {
    var list = [];
    ['to', 'cc', 'bcc'].forEach(function (field) {
      var input = document.getElementById('_' + field);
      var widget = input && input.parentNode.querySelector('ul.recipient-input');
      if (widget) {
        widget.querySelectorAll('li.recipient').forEach(function (li) {
          var name = li.querySelector('.name');
          var address = address_of(li.getAttribute('title')) || address_of(name ? name.textContent : '');
          if (address) list.push({li: li, address: address, field: field});
        });
      } else if (input) {
        (input.value || '').split(/[,;]/).forEach(function (part) {
          var address = address_of(part);
          if (address) list.push({li: null, address: address, field: field});
        });
      }
    });
    return list;
  }

  function update_from_icon() {
    var icon = document.getElementById('smime-from-icon');
    if (!icon) return;
    var ok = compose.sign.checked && compose.status && compose.status.senders.indexOf(sender()) >= 0;
    icon.hidden = !ok;
    document.body.dataset.smimeSigning = ok ? 'yes' : 'no';
  }

  var refresh_timer = null;
  function refresh_recipients() {
    clearTimeout(refresh_timer);
    refresh_timer = setTimeout(function () {
      var list = recipients();
      var unknown = list.map(function (r) { return r.address; })
        .filter(function (a, i, all) { return !(a in compose.can) && all.indexOf(a) === i; });
      var done = unknown.length
        ? connect().then(function (a) { return a.recipients(unknown.slice(0, 100)); }).then(function (reply) {
          reply.recipients.forEach(function (r) { compose.can[r.address.toLowerCase()] = !!r.can_encrypt; });
        })
        : Promise.resolve();
      done.then(function () { draw_recipients(recipients()); }, function (e) {
        rcmail.display_message(error_text(e), 'warning');
      });
    }, 200);
  }

  function draw_recipients(list) {
    list.forEach(function (r) {
      if (!r.li) return;
      var can = compose.can[r.address];
      var icon = r.li.querySelector('.smime-lock');
      r.li.classList.toggle('smime-can-encrypt', can === true);
      r.li.classList.toggle('smime-cannot-encrypt', can === false);
      if (can && !icon) {
        icon = element('span', {'class': 'smime-icon smime-lock', title: label('canencrypt'), role: 'img',
          'aria-label': label('canencrypt')});
        r.li.insertBefore(icon, r.li.firstChild);
      } else if (!can && icon) {
        icon.remove();
      }
    });
    document.body.dataset.smimeRecipients = list.map(function (r) {
      return r.address + '=' + (compose.can[r.address] === undefined ? '?' : compose.can[r.address]);
    }).join(',');
  }

  function compose_ui() {
    var env = rcmail.env.smime_compose || {};
    var row = element('div', {id: 'smime-compose', 'class': 'form-group row'});
    row.appendChild(element('label', {'class': 'col-2 col-form-label'}, 'S/MIME'));
    var cell = element('div', {'class': 'col-10 smime-toggles'});
    [['sign', 'smime-sign', env.sign], ['encrypt', 'smime-encrypt', env.encrypt]].forEach(function (t) {
      var box = element('input', {type: 'checkbox', id: t[1], name: '_' + t[1].replace('-', '_'), value: '1'});
      box.checked = !!t[2];
      box.disabled = true;
      var wrap = element('label', {'class': 'smime-toggle', 'for': t[1]});
      wrap.appendChild(box);
      wrap.appendChild(document.createTextNode(' ' + label(t[0])));
      cell.appendChild(wrap);
      compose[t[0]] = box;
    });
    cell.appendChild(element('span', {id: 'smime-compose-state', 'class': 'smime-state'}, label('connecting')));
    row.appendChild(cell);

    var from = document.getElementById('_from');
    var from_row = from && from.closest('.form-group');
    if (from_row) {
      from_row.parentNode.insertBefore(row, from_row.nextSibling);
      var icon = element('span', {id: 'smime-from-icon', 'class': 'smime-icon smime-seal', title: label('willsign'),
        role: 'img', 'aria-label': label('willsign')});
      icon.hidden = true;
      from.parentNode.insertBefore(icon, from.nextSibling);
      from.addEventListener('change', update_from_icon);
    } else {
      rcmail.gui_objects.messageform.insertBefore(row, rcmail.gui_objects.messageform.firstChild);
    }
    compose.sign.addEventListener('change', update_from_icon);

    document.querySelectorAll('ul.recipient-input').forEach(function (ul) {
      new MutationObserver(refresh_recipients).observe(ul, {childList: true, subtree: true, attributes: true, attributeFilter: ['title']});
    });
  }

  function compose_init() {
    compose_ui();
    connect().then(function (a) { return a.status(); }).then(function (status) {
      compose.status = status;
      var state = document.getElementById('smime-compose-state');
      if (!status.enabled) {
        compose.sign.checked = compose.encrypt.checked = false;
        state.textContent = label('disabled');
        return;
      }
      compose.sign.disabled = compose.encrypt.disabled = false;
      state.textContent = status.locked ? label('locked') : '';
      document.getElementById('smime-compose').dataset.state = 'ready';
      update_from_icon();
      refresh_recipients();
    }, function (e) {
      compose.sign.checked = compose.encrypt.checked = false;
      document.getElementById('smime-compose-state').textContent =
        e && e.code === 'ERR_NOT_GRANTED' ? label('noextension') : error_text(e);
      document.getElementById('smime-compose').dataset.state = 'unavailable';
    });

    rcmail.addEventListener('beforesend', function (props) {
      if (compose.plain_once) {
        compose.plain_once = false;
        return;
      }
      var want = {sign: compose.sign.checked, encrypt: compose.encrypt.checked};
      if (!want.sign && !want.encrypt) return;
      if (!(props && props.nocheck) && !rcmail.check_compose_input('send')) return false;
      if (!compose.busy) protect_and_send(want);
      return false;
    });
    rcmail.addEventListener('plugin.smime_built', function (built) {
      if (compose.built) compose.built(built);
    });
  }

  /** Asks what to do when some recipients cannot receive encrypted mail: cancel or send unencrypted. */
  function warn_cannot_encrypt(missing) {
    return new Promise(function (resolve) {
      var body = element('div', {id: 'smime-warning'});
      body.appendChild(element('p', null, label('cannotencrypt')));
      var ul = element('ul');
      missing.forEach(function (a) { ul.appendChild(element('li', null, a)); });
      body.appendChild(ul);
      var answered = false;
      var answer = function (value) {
        return function (e, ui, dialog) {
          answered = true;
          (dialog || this).jqref ? (dialog || this).jqref(dialog || this).dialog('close') : $(this).dialog('close');
          resolve(value);
        };
      };
      rcmail.show_popup_dialog(body, label('cannotencrypttitle'), [
        {text: label('sendunencrypted'), 'class': 'smime-send-plain', click: answer('plain')},
        {text: rcmail.gettext('cancel'), 'class': 'cancel mainaction smime-cancel', click: answer('cancel')},
      ], {close: function () { if (!answered) resolve('cancel'); }});
    });
  }

  function set_field(name, value) {
    var form = rcmail.gui_objects.messageform;
    var input = form.querySelector('input[name="' + name + '"]');
    if (!input) {
      input = element('input', {type: 'hidden', name: name});
      form.appendChild(input);
    }
    input.value = value;
  }

  function page_request(url, options) {
    options = options || {};
    options.credentials = 'same-origin';
    options.headers = Object.assign({'X-Roundcube-Request': rcmail.env.request_token}, options.headers || {});
    return fetch(url, options).then(function (r) {
      if (!r.ok) throw Object.assign(new Error('HTTP ' + r.status), {code: 'ERR_SERVER'});
      return r;
    });
  }

  async function protect_and_send(want) {
    compose.busy = true;
    var progress = null;
    try {
      var a = await connect();
      var from = sender();
      var status = await a.status();
      compose.status = status;
      if (status.senders.indexOf(from) < 0) {
        throw Object.assign(new Error('no identity'), {code: 'ERR_NO_IDENTITY'});
      }
      if (want.encrypt) {
        var all = recipients().map(function (r) { return r.address; });
        var reply = await a.recipients(all.slice(0, 100));
        var missing = reply.recipients.filter(function (r) { return !r.can_encrypt; }).map(function (r) { return r.address; });
        if (missing.length) {
          var choice = await warn_cannot_encrypt(missing);
          if (choice === 'cancel') return;
          want.encrypt = false;
          if (!want.sign) {
            compose.plain_once = true;
            rcmail.command('send', {nocheck: true});
            return;
          }
        }
      }
      document.body.dataset.smimeSend = 'building';
      progress = rcmail.display_message(label(want.encrypt ? 'encrypting' : 'signing'), 'loading');
      // Pass 1: Roundcube builds the message and keeps it for us.
      set_field('_smime_phase', 'build');
      set_field('_smime_sign', want.sign ? '1' : '');
      set_field('_smime_encrypt', want.encrypt ? '1' : '');
      // A refusal (an invalid address, a lost session) comes back as Roundcube's own message
      // instead of the event; give up after Roundcube's request timeout then.
      var built = await new Promise(function (resolve, reject) {
        compose.built = resolve;
        setTimeout(function () {
          reject(Object.assign(new Error('no built message'), {code: 'ERR_SERVER'}));
        }, (rcmail.env.request_timeout || 180) * 1000);
        rcmail.submit_messageform();
      });
      compose.built = null;
      var response = await page_request(rcmail.url('plugin.smime-built', {_id: built.id}));
      var mime = new Uint8Array(await response.arrayBuffer());
      document.body.dataset.smimeSend = 'protecting';
      var out = await a.protect(mime, {sign: want.sign, encrypt: want.encrypt});
      document.body.dataset.smimeSend = 'uploading';
      await page_request(rcmail.url('plugin.smime-upload', {_id: built.id, _kind: 'main'}),
        {method: 'POST', body: out.message, headers: {'Content-Type': 'application/octet-stream'}});
      for (var i = 0; i < out.bcc.length; i++) {
        await page_request(rcmail.url('plugin.smime-upload', {_id: built.id, _kind: 'bcc', _address: out.bcc[i].address}),
          {method: 'POST', body: out.bcc[i].message, headers: {'Content-Type': 'application/octet-stream'}});
      }
      rcmail.hide_message(progress);
      progress = null;
      // Pass 2: Roundcube checks the protected bytes against what it built, then sends and files them.
      document.body.dataset.smimeSend = 'sending';
      set_field('_smime_phase', 'send');
      rcmail.submit_messageform();
    } catch (e) {
      document.body.dataset.smimeSend = 'error';
      document.body.dataset.smimeError = (e && e.code) || 'ERR_INTERNAL';
      rcmail.display_message(error_text(e), 'error');
    } finally {
      if (progress) rcmail.hide_message(progress);
      set_field('_smime_phase', '');
      compose.busy = false;
    }
  }

  // ---------------------------------------------------------------- reading

  async function read_init() {
    var body = document.getElementById('messagebody');
    if (!body) return;
    var container = element('div', {id: 'smime-viewer', 'data-state': 'loading'});
    var summary = element('div', {id: 'smime-summary', 'class': 'smime-summary'});
    body.parentNode.insertBefore(summary, body);
    body.parentNode.insertBefore(container, body);
    if (rcmail.env.action === 'preview' || window !== window.top) {
      preview_notice(container, summary);
      return;
    }
    var a;
    try {
      a = await connect();
    } catch (e) {
      container.dataset.state = 'unavailable';
      summary.textContent = label('noextension');
      summary.classList.add('smime-neutral');
      return;
    }
    // Roundcube's own rendering of an S/MIME message is an attachment or the unchecked content.
    body.hidden = true;
    var started = performance.now();
    try {
      var url = rcmail.url('viewsource', {_uid: rcmail.env.uid, _mbox: rcmail.env.mailbox, _save: 1,
        _token: rcmail.env.request_token});
      var raw = new Uint8Array(await (await page_request(url)).arrayBuffer());
      var result = await a.open(raw, container);
      container.dataset.state = 'shown';
      container.dataset.level = result.level;
      container.dataset.verdict = result.verdict || '';
      container.dataset.ms = String(Math.round(performance.now() - started));
      draw_summary(summary, result);
    } catch (e) {
      container.dataset.state = 'error';
      container.dataset.code = (e && e.code) || 'ERR_INTERNAL';
      summary.textContent = error_text(e);
      summary.classList.add('smime-bad');
    }
  }

  /** The preview pane is a frame the extension does not enter (it serves the top page only):
   * offer the full view of the message, where the extension's viewer opens it. */
  function preview_notice(container, summary) {
    container.dataset.state = 'preview';
    summary.classList.add('smime-neutral');
    summary.appendChild(element('span', {'class': 'smime-preview-text'}, label('previewnotice')));
    var button = element('button', {type: 'button', id: 'smime-open-full', 'class': 'button btn btn-primary'}, label('openfull'));
    button.addEventListener('click', function () {
      var url = rcmail.url('show', {_uid: rcmail.env.uid, _mbox: rcmail.env.mailbox});
      window.top.location.href = new URL(url, window.location.href).href;
    });
    summary.appendChild(document.createTextNode(' '));
    summary.appendChild(button);
  }

  function draw_summary(summary, result) {
    summary.textContent = '';
    var encrypted = result.level.indexOf('encrypted') >= 0;
    var signed = result.level.indexOf('signed') >= 0;
    if (encrypted) {
      summary.appendChild(element('span', {'class': 'smime-icon smime-lock', role: 'img', 'aria-label': label('encrypted')}));
      summary.appendChild(element('span', {'class': 'smime-level'}, label('encrypted')));
    }
    if (signed) {
      var good = result.verdict === 'good';
      summary.appendChild(element('span', {'class': 'smime-icon ' + (good ? 'smime-seal' : 'smime-warn'), role: 'img',
        'aria-label': label(good ? 'signedgood' : 'signedbad')}));
      var who = result.signer ? (result.signer.name ? result.signer.name + ' <' + result.signer.email + '>' : result.signer.email) : '';
      summary.appendChild(element('span', {'class': 'smime-signer'}, label(good ? 'signedby' : 'signedbad', {who: who})));
      summary.classList.toggle('smime-bad', !good);
    }
    if (!encrypted && !signed) summary.appendChild(element('span', null, label('notprotected')));
  }

  if (window.rcmail) {
    rcmail.addEventListener('init', function () {
      if (rcmail.env.action === 'compose') compose_init();
      else if (rcmail.env.smime_message) read_init();
    });
  }
})();
