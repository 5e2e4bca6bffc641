// <message-view>: one message with its tabs. The tab is part of the URL
// (#/message/ID/tab); each tab's rendering lives in its own module under
// js/tabs/. Opening a message marks it read (the server does that on GET).

import { html, render } from '../html.js';
import { getMessage, setRead, deleteMessages, rawURL } from '../api.js';
import { addr, dateTime, size } from '../format.js';
import { renderHTML } from '../tabs/html-tab.js';
import { renderText } from '../tabs/text-tab.js';
import { renderHeaders } from '../tabs/headers-tab.js';
import { renderRaw } from '../tabs/raw-tab.js';
import { renderParts } from '../tabs/parts-tab.js';
import { renderAttachments } from '../tabs/attachments-tab.js';
import { renderEnvelope } from '../tabs/envelope-tab.js';
import { renderReceived } from '../tabs/received-tab.js';
import { renderFindings } from '../tabs/findings-tab.js';
import { renderLinks } from '../tabs/links-tab.js';

/** @type {[string, string, (el: HTMLElement, ctx: import('../tabs/tab.js').TabContext) => unknown][]} */
const TABS = [
  ['html', 'HTML', renderHTML],
  ['text', 'Text', renderText],
  ['headers', 'Headers', renderHeaders],
  ['raw', 'Raw', renderRaw],
  ['parts', 'Parts', renderParts],
  ['attachments', 'Attachments', renderAttachments],
  ['envelope', 'Envelope', renderEnvelope],
  ['received', 'Received', renderReceived],
  ['findings', 'Findings', renderFindings],
  ['links', 'Links', renderLinks],
];

/** The tab names, in order. */
export const tabNames = TABS.map(([k]) => k);

export class MessageView extends HTMLElement {
  #id = '';
  #tab = '';
  #msg = null;
  #error = '';
  #gen = 0; // bumps on every show(); stale async work compares against it
  #prefs = {};

  connectedCallback() {
    this.addEventListener('click', (e) => {
      const b = /** @type {Element} */ (e.target).closest('button[data-action]');
      if (b) this.#action(/** @type {HTMLElement} */ (b).dataset.action ?? '');
    });
  }

  /** The message shown, or ''. */
  get messageID() { return this.#id; }

  /** The tab shown. */
  get tab() { return this.#tab; }

  /**
   * Shows message id on tab ('' picks HTML, or Text without an HTML body).
   * @param {string} id @param {string} tab
   */
  async show(id, tab) {
    const gen = ++this.#gen;
    if (id !== this.#id || !this.#msg) {
      this.#id = id;
      this.#tab = tab;
      this.#msg = null;
      this.#error = '';
      this.update();
      try {
        const msg = await getMessage(id);
        if (gen !== this.#gen) return;
        this.#msg = msg;
        this.dispatchEvent(new CustomEvent('opened', { detail: { id }, bubbles: true }));
      } catch (err) {
        if (gen !== this.#gen) return;
        this.#error = String(err.message ?? err);
      }
    }
    this.#tab = tab;
    this.update();
  }

  /** Forgets the message (the list is shown alone). */
  clear() {
    this.#gen++;
    this.#id = '';
    this.#msg = null;
    render(this, html`<p class="placeholder">Select a message: click it, or move with j/k and press Enter.</p>`);
  }

  /** Renders the header, the tab bar and the current tab. */
  update() {
    const m = this.#msg;
    if (!m) {
      render(this, this.#error
        ? html`<p class="error" role="alert">${this.#error}</p><p><a href="#/">Back to the list</a></p>`
        : html`<p class="loading">Loading…</p>`);
      return;
    }
    let tab = tabNames.includes(this.#tab) ? this.#tab : '';
    if (!tab) tab = m.HTML ? 'html' : 'text';
    this.#tab = tab;
    const enc = encodeURIComponent(this.#id);
    const line = (label, list) => (list?.length ? html`<div><dt>${label}</dt><dd>${list.map(addr).join(', ')}</dd></div>` : '');
    const counts = {
      attachments: (m.Attachments?.length ?? 0) + (m.Inline?.length ?? 0),
      findings: m.Findings?.length ?? 0,
      links: m.Links?.length ?? 0,
    };
    render(this, html`<article>
<header class="msg-head">
<div class="msg-actions">
<a href="#/" class="back" title="Back to the list (Esc)">← Back</a>
<button type="button" data-action="unread">Mark unread</button>
<button type="button" data-action="delete" class="danger">Delete</button>
<a href="${rawURL(this.#id)}" download="${this.#id}.eml">Download</a>
</div>
<h2 class="msg-subject">${m.Subject || '(no subject)'}</h2>
<dl class="addrs">
<div><dt>From</dt><dd>${addr(m.From)}</dd></div>
${line('To', m.To)}${line('Cc', m.Cc)}${line('Bcc', m.Bcc)}${line('Reply-To', m.ReplyTo)}
<div><dt>Date</dt><dd>${dateTime(m.Date)} <span class="muted">· ${size(m.Size)}</span></dd></div>
${m.Tags?.length ? html`<div><dt>Tags</dt><dd>${m.Tags.map((t) => html`<span class="tag">${t}</span>`)}</dd></div>` : ''}
</dl>
</header>
<nav class="tabs" aria-label="Message views">${TABS.map(([k, label]) => html`<a href="#/message/${enc}/${k}" data-tab="${k}"${k === tab ? html` aria-current="page"` : ''}>${label}${counts[k] ? html` <span class="badge${k === 'findings' && m.Findings.some((f) => f.Severe) ? ' severe' : ''}">${counts[k]}</span>` : ''}</a>`)}</nav>
<section class="panel" data-tab="${tab}"></section>
</article>`);
    const panel = /** @type {HTMLElement} */ (this.querySelector('section.panel'));
    const gen = this.#gen;
    const [, , fn] = /** @type {typeof TABS[number]} */ (TABS.find(([k]) => k === tab));
    fn(panel, { id: this.#id, msg: m, prefs: this.#prefs, isCurrent: () => gen === this.#gen && this.#tab === tab });
  }

  /** @param {string} action */
  async #action(action) {
    const id = this.#id;
    try {
      if (action === 'unread') {
        await setRead([id], false);
        location.hash = '#/';
      } else if (action === 'delete') {
        await deleteMessages([id]);
        location.hash = '#/';
      }
    } catch (err) {
      this.#error = String(err.message ?? err);
      this.dispatchEvent(new CustomEvent('failure', { detail: { message: this.#error }, bubbles: true }));
    }
  }
}

/** Defines <message-view>. */
export function registerMessageView() {
  if (!customElements.get('message-view')) customElements.define('message-view', MessageView);
}
