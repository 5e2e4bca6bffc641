// <message-list>: the inbox (or the results of a search), newest first,
// with paging, checkboxes for bulk actions, a keyboard cursor and live
// updates. Rendering is coalesced to at most once per animation frame, so
// a burst of "new" events costs one DOM update; the "counts" event to at
// most one per COUNTS_EVERY. New mail pushes the oldest rows out beyond
// what the user loaded, so a burst of any size neither grows the page nor
// slows each frame; "Load more" fetches them again.

import { html, render } from '../html.js';
import { listMessages } from '../api.js';
import { addr, addrShort, relativeTime, dateTime, size } from '../format.js';

const PAGE = 50;
/** Shortest interval (ms) between two "counts" events; each redraws the favicon. */
const COUNTS_EVERY = 100;
/** Shortest interval (ms) between two reloads of a search that new mail may match. */
const RELOAD_EVERY = 250;

/** A paperclip icon (static markup). */
const CLIP = html`<svg viewBox="0 0 16 16" width="12" height="12" aria-hidden="true"><path d="M10.5 4.5 5.6 9.4a1.3 1.3 0 0 0 1.8 1.8l5-5a2.6 2.6 0 0 0-3.7-3.7l-5 5a3.9 3.9 0 0 0 5.5 5.5L13 9.2" fill="none" stroke="currentColor" stroke-width="1.4" stroke-linecap="round"/></svg>`;

/** @typedef {{ID: string, Read: boolean, From: any, To: any[], Subject: string, Snippet: string, Created: string, Size: number, Attachments: number, Tags: string[]}} Summary */

export class MessageList extends HTMLElement {
  /** @type {Summary[]} */
  #messages = [];
  #total = 0; // messages in the store
  #unread = 0; // unread in the store
  #matching = 0; // messages the list or search matches
  #keep = PAGE; // rows kept when new mail arrives: what the user loaded
  #query = '';
  /** @type {string|null} the inbox shown, null for all */
  #inbox = null;
  #cursor = -1;
  #openID = '';
  /** @type {Set<string>} */
  #checked = new Set();
  #error = '';
  #loading = false;
  #loaded = false;
  #frame = 0;
  #reloadPending = false;
  /** @type {Promise<void>} the latest load() */
  #lastLoad = Promise.resolve();
  #countsTimer = 0;
  #countsAt = -Infinity;
  #clock = 0;
  /** @type {HTMLOListElement|null} */
  #ol = null;
  /** @type {HTMLElement|null} */
  #footer = null;

  connectedCallback() {
    if (!this.#ol) {
      render(this, html`<ol class="rows" aria-label="Messages"></ol><div class="list-footer"></div>`);
      this.#ol = this.querySelector('ol');
      this.#footer = this.querySelector('.list-footer');
      this.addEventListener('change', (e) => {
        const box = /** @type {HTMLInputElement} */ (e.target);
        const id = box.closest('li')?.dataset.id;
        if (!id || box.type !== 'checkbox') return;
        if (box.checked) this.#checked.add(id);
        else this.#checked.delete(id);
        this.#emitSelection();
      });
      this.addEventListener('click', (e) => {
        const t = /** @type {Element} */ (e.target);
        if (t.closest('button.more')) this.more();
        if (t.closest('button.retry')) this.load();
      });
    }
    this.#clock = setInterval(() => this.#schedule(), 60000); // relative times
  }

  disconnectedCallback() {
    clearInterval(this.#clock);
    cancelAnimationFrame(this.#frame);
    this.#frame = 0;
  }

  /** The search query in effect ('' for the plain list). */
  get query() { return this.#query; }

  /** The inbox shown ('' = default), or null for all inboxes. */
  get inbox() { return this.#inbox; }

  /** The query sent to the server: the inbox filter plus the search text. */
  get #effective() {
    if (this.#inbox === null) return this.#query;
    const term = `inbox:"${this.#inbox.replace(/"/g, '')}"`;
    return this.#query ? `${term} ${this.#query}` : term;
  }

  /** IDs whose checkboxes are ticked. */
  get checkedIDs() { return [...this.#checked]; }

  /** The ID under the keyboard cursor, or ''. */
  get cursorID() { return this.#messages[this.#cursor]?.ID ?? ''; }

  /** Highlights the open message and moves the cursor to it. @param {string} id */
  set openID(id) {
    this.#openID = id;
    const i = this.#messages.findIndex((m) => m.ID === id);
    if (i >= 0) this.#cursor = i;
    this.#schedule();
  }

  /** Loads the first page for the current query. */
  load() {
    this.#lastLoad = this.#load();
    return this.#lastLoad;
  }

  async #load() {
    this.#loading = true;
    this.#schedule();
    try {
      const page = await listMessages({ query: this.#effective, start: 0, limit: Math.max(PAGE, this.#messages.length) });
      this.#messages = page.messages;
      this.#keep = Math.max(PAGE, this.#messages.length);
      this.#counts(page);
      this.#error = '';
      const ids = new Set(page.messages.map((m) => m.ID));
      for (const id of this.#checked) if (!ids.has(id)) this.#checked.delete(id);
      if (this.#cursor >= this.#messages.length) this.#cursor = this.#messages.length - 1;
    } catch (err) {
      this.#error = String(err.message ?? err);
    } finally {
      this.#loading = false;
      this.#loaded = true;
      this.#schedule();
    }
  }

  /** Appends the next page. */
  async more() {
    if (this.#loading) return;
    this.#loading = true;
    this.#schedule();
    try {
      const page = await listMessages({ query: this.#effective, start: this.#messages.length, limit: PAGE });
      const have = new Set(this.#messages.map((m) => m.ID));
      this.#messages.push(...page.messages.filter((m) => !have.has(m.ID)));
      this.#keep = Math.max(PAGE, this.#messages.length);
      this.#counts(page);
      this.#error = '';
    } catch (err) {
      this.#error = String(err.message ?? err);
    } finally {
      this.#loading = false;
      this.#schedule();
    }
  }

  /** Shows one inbox ('' = default) or, with null, all. @param {string|null} name */
  setInbox(name) {
    this.#inbox = name;
    return this.search(this.#query);
  }

  /** Runs a search (Mailpit syntax); '' shows every message. @param {string} q */
  search(q) {
    this.#query = q.trim();
    this.#messages = [];
    this.#keep = PAGE;
    this.#matching = 0;
    this.#cursor = -1;
    this.#checked.clear();
    this.#emitSelection();
    return this.load();
  }

  /** A "new" event. @param {Summary} m */
  onNew(m) {
    this.#total++;
    if (!m.Read) this.#unread++;
    this.#emitCounts();
    if (this.#effective) {
      this.#reloadSoon(); // only the server knows whether it matches
      return;
    }
    if (this.#messages.some((x) => x.ID === m.ID)) return;
    this.#messages.unshift(m);
    this.#matching++;
    if (this.#cursor >= 0) this.#cursor++;
    if (this.#messages.length > this.#keep) this.#trim();
    this.#schedule();
  }

  /** An "update" event. @param {{IDs: string[], Read?: boolean, Tags?: string[]}} d */
  onUpdate(d) {
    const ids = new Set(d.IDs ?? []);
    for (const m of this.#messages) {
      if (!ids.has(m.ID)) continue;
      if (typeof d.Read === 'boolean') m.Read = d.Read;
      if (Array.isArray(d.Tags)) m.Tags = d.Tags;
    }
    this.#schedule();
  }

  /** A "delete" event. @param {{IDs: string[]}} d */
  onDelete(d) {
    const ids = new Set(d.IDs ?? []);
    const before = this.#messages.length;
    const cursorID = this.cursorID;
    this.#messages = this.#messages.filter((m) => !ids.has(m.ID));
    this.#matching -= before - this.#messages.length;
    for (const id of ids) this.#checked.delete(id);
    const i = this.#messages.findIndex((m) => m.ID === cursorID);
    this.#cursor = i >= 0 ? i : Math.min(this.#cursor, this.#messages.length - 1);
    this.#emitSelection();
    this.#schedule();
  }

  /** A "truncate" event: every message is gone. */
  onTruncate() {
    this.#messages = [];
    this.#matching = 0;
    this.#cursor = -1;
    this.#checked.clear();
    this.#emitSelection();
    this.#schedule();
  }

  /** A "stats" event. @param {{Total: number, Unread: number}} d */
  onStats(d) {
    this.#total = d.Total;
    this.#unread = d.Unread;
    this.#emitCounts();
  }

  /** Drops the rows beyond #keep, the oldest; "Load more" brings them back. */
  #trim() {
    const gone = this.#messages.splice(this.#keep);
    this.#cursor = Math.min(this.#cursor, this.#messages.length - 1);
    let unchecked = false;
    for (const m of gone) unchecked = this.#checked.delete(m.ID) || unchecked;
    if (unchecked) this.#emitSelection();
  }

  /** Moves the keyboard cursor by delta rows. @param {number} delta */
  move(delta) {
    if (!this.#messages.length) return;
    this.#cursor = Math.max(0, Math.min(this.#messages.length - 1, this.#cursor + delta));
    this.update();
    this.querySelector('li.cursor')?.scrollIntoView({ block: 'nearest' });
  }

  /** Renders the current state now; callers normally go through #schedule. */
  update() {
    this.#frame = 0;
    if (!this.#ol || !this.#footer) return;
    const now = Date.now();
    render(this.#ol, html`${this.#messages.map((m, i) => this.#row(m, i, now))}`);
    let footer;
    if (this.#error) {
      footer = html`<p class="error" role="alert">${this.#error}</p><button type="button" class="retry">Retry</button>`;
    } else if (!this.#messages.length && (this.#loading || !this.#loaded)) {
      footer = html`<p class="loading">Loading…</p>`;
    } else if (!this.#messages.length) {
      footer = this.#effective
        ? html`<p class="empty">No messages match <q>${this.#effective}</q>.</p>`
        : html`<p class="empty">No messages yet. Send one to the SMTP port.</p>`;
    } else {
      footer = html`<p class="count">${this.#messages.length} of ${this.#matching}</p>`;
    }
    const more = this.#messages.length < this.#matching
      ? html`<button type="button" class="more"${this.#loading ? html` disabled` : ''}>Load more</button>` : '';
    render(this.#footer, html`${footer}${more}`);
    this.dataset.state = this.#loading || !this.#loaded ? 'loading' : this.#error ? 'error' : 'ready';
  }

  /** @param {Summary} m @param {number} i @param {number} now */
  #row(m, i, now) {
    const cls = [m.Read ? 'read' : 'unread'];
    if (i === this.#cursor) cls.push('cursor');
    if (m.ID === this.#openID) cls.push('open');
    const to = (m.To ?? []).map(addrShort).join(', ');
    return html`<li data-id="${m.ID}" class="${cls.join(' ')}">
<input type="checkbox" aria-label="Select message"${this.#checked.has(m.ID) ? html` checked` : ''}>
<a class="row" href="#/message/${encodeURIComponent(m.ID)}/">
<span class="from" title="${addr(m.From)}">${addrShort(m.From) || '(no sender)'}</span>
<span class="to" title="${(m.To ?? []).map(addr).join(', ')}">${to ? html`to ${to}` : ''}</span>
<span class="subject">${m.Read ? '' : html`<span class="dot" title="Unread" aria-label="Unread"></span>`}${m.Subject || '(no subject)'}</span>
<span class="snippet">${m.Snippet}</span>
<span class="meta"><time datetime="${m.Created}" title="${dateTime(m.Created)}">${relativeTime(m.Created, now)}</time>
<span class="size">${size(m.Size)}</span>${m.Attachments ? html`<span class="clip" title="${m.Attachments} attachment(s)" aria-label="${m.Attachments} attachment(s)">${CLIP}</span>` : ''}</span>
${m.Tags?.length ? html`<span class="tags">${m.Tags.map((t) => html`<span class="tag">${t}</span>`)}</span>` : ''}
</a></li>`;
  }

  /** @param {{total: number, unread: number, messages_count: number}} page */
  #counts(page) {
    this.#total = page.total;
    this.#unread = page.unread;
    this.#matching = page.messages_count;
    this.#emitCounts();
  }

  /** Sends "counts" now, or at the end of the current COUNTS_EVERY window. */
  #emitCounts() {
    if (this.#countsTimer) return; // already due
    const wait = this.#countsAt + COUNTS_EVERY - performance.now();
    if (wait <= 0) {
      this.#sendCounts();
      return;
    }
    this.#countsTimer = setTimeout(() => {
      this.#countsTimer = 0;
      this.#sendCounts();
    }, wait);
  }

  #sendCounts() {
    this.#countsAt = performance.now();
    this.dispatchEvent(new CustomEvent('counts', { detail: { total: this.#total, unread: this.#unread }, bubbles: true }));
  }

  #emitSelection() {
    this.dispatchEvent(new CustomEvent('selection', { detail: { ids: this.checkedIDs }, bubbles: true }));
  }

  /** Reloads after RELOAD_EVERY and the load in flight: a burst costs a few requests. */
  #reloadSoon() {
    if (this.#reloadPending) return;
    this.#reloadPending = true;
    setTimeout(async () => {
      await this.#lastLoad;
      this.#reloadPending = false;
      this.load();
    }, RELOAD_EVERY);
  }

  #schedule() {
    if (!this.#frame) this.#frame = requestAnimationFrame(() => this.update());
  }
}

/** Defines <message-list>. */
export function registerMessageList() {
  if (!customElements.get('message-list')) customElements.define('message-list', MessageList);
}
