// <chaos-panel>: the chaos mode panel at #/chaos. Shows the master and
// magic-address switches, the seed, the rules in order with what they
// match and do and their counters, a per-rule on/off switch, Mailpit's
// triggers and Jim (read-only), the reply-code counters and the recent
// events; edits the rules as JSON; resets the counters or turns all chaos
// off. The skeleton renders once; each part re-renders only when its
// markup changed, so the 2 s refresh neither flickers nor steals focus,
// and the editor keeps what the user typed.

import { html, render } from '../html.js';
import { putChaos, deleteChaos, resetChaosCounters } from '../api.js';
import { ChaosState, actionSummary, matchSummary, whenSummary, mailpitTriggers } from '../chaos.js';

/** How often (ms) the open panel refreshes the counters. */
const REFRESH_EVERY = 2000;
/** How many recent events the panel lists. */
const EVENTS_SHOWN = 20;

const SKELETON = html`<article class="chaos">
<header class="chaos-head">
<a href="#/" class="back" title="Back to the list (Esc)">← Back</a>
<h2>Chaos mode</h2>
<span class="chaos-state" data-part="state"></span>
</header>
<p class="error" role="alert" data-part="load-error" hidden></p>
<div class="chaos-switches">
<label class="switch"><input type="checkbox" role="switch" id="chaos-enabled" data-key="enabled"> Rules enabled</label>
<label class="switch"><input type="checkbox" role="switch" id="chaos-magic" data-key="magic"> Magic addresses <span class="muted">(user+smtp451@…, smtp-550@…, +delay5s, +disconnect)</span></label>
<span>Seed <output id="chaos-seed" data-part="seed"></output></span>
</div>
<p class="error" role="alert" data-part="action-error" hidden></p>
<section aria-labelledby="chaos-rules-h">
<h3 id="chaos-rules-h">Rules <span class="muted">(evaluated in order)</span></h3>
<div class="table-wrap" data-part="rules"></div>
</section>
<section aria-labelledby="chaos-builtin-h">
<h3 id="chaos-builtin-h">Mailpit triggers, Jim and magic addresses <span class="muted">(read-only)</span></h3>
<div data-part="builtin"></div>
</section>
<div class="chaos-counts">
<section aria-labelledby="chaos-codes-h">
<h3 id="chaos-codes-h">Replies sent by chaos</h3>
<div data-part="codes"></div>
</section>
<section aria-labelledby="chaos-events-h" class="chaos-events">
<h3 id="chaos-events-h">Recent events <span class="muted">(newest first)</span></h3>
<div class="table-wrap" data-part="events"></div>
</section>
</div>
<div class="chaos-actions">
<button type="button" data-action="reset-counters">Reset counters</button>
<button type="button" data-action="all-off" class="danger">Turn all chaos off</button>
<span class="muted" role="status" data-part="action-status"></span>
</div>
<section aria-labelledby="chaos-edit-h">
<h3 id="chaos-edit-h">Edit rules</h3>
<form class="chaos-editor">
<label for="chaos-rules-json">Rules as JSON: a list of rule objects or compact strings such as <code>"rcpt:to=*@bounce.test:550 5.1.1 No such user"</code></label>
<textarea id="chaos-rules-json" rows="12" spellcheck="false" autocomplete="off" autocapitalize="off"></textarea>
<p class="error" role="alert" data-part="edit-error" hidden></p>
<div class="chaos-editor-buttons">
<button type="submit">Save</button>
<button type="button" data-action="revert">Discard changes</button>
<span class="muted" role="status" data-part="edit-status"></span>
</div>
</form>
</section>
</article>`;

export class ChaosPanel extends HTMLElement {
  /** @type {ChaosState|null} */
  #state = null;
  #open = false;
  #built = false;
  #timer = 0;
  #dirty = false; // the editor holds changes not saved yet
  #busy = false;
  /** @type {Map<string, string>} the markup each part shows */
  #shown = new Map();

  /**
   * Binds the panel to the shared chaos state.
   * @param {ChaosState} state
   */
  attach(state) {
    this.#state = state;
    state.addEventListener('change', () => { if (this.#open) this.update(); });
    state.addEventListener('error', (e) => {
      if (this.#open) this.#text('load-error', /** @type {CustomEvent} */ (e).detail.message);
    });
  }

  /** Shows the panel and refreshes it every REFRESH_EVERY while the tab is visible. */
  open() {
    if (!this.#built) this.#build();
    this.#open = true;
    this.update();
    this.#state?.refresh();
    clearInterval(this.#timer);
    this.#timer = setInterval(() => {
      if (document.visibilityState === 'visible') this.#state?.refresh();
    }, REFRESH_EVERY);
  }

  /** Stops refreshing (the panel is hidden). */
  close() {
    this.#open = false;
    clearInterval(this.#timer);
    this.#timer = 0;
  }

  #build() {
    this.#built = true;
    render(this, SKELETON);
    this.addEventListener('change', (e) => {
      const t = /** @type {HTMLInputElement} */ (e.target);
      if (t.type === 'checkbox' && this.#busy) { // one change at a time; disabling would drop the focus
        t.checked = !t.checked;
        return;
      }
      if (t.id === 'chaos-enabled') this.#change(() => putChaos({ Enabled: t.checked }));
      else if (t.id === 'chaos-magic') this.#change(() => putChaos({ Magic: t.checked }));
      else if (t.classList.contains('rule-toggle')) this.#toggleRule(Number(t.dataset.index), t.checked);
    });
    this.addEventListener('click', (e) => {
      const b = /** @type {Element} */ (e.target).closest('button[data-action]');
      switch (/** @type {HTMLElement|null} */ (b)?.dataset.action) {
        case 'reset-counters':
          this.#change(() => resetChaosCounters(), 'Counters reset.');
          break;
        case 'all-off':
          if (window.confirm('Turn all chaos off? This removes every rule, Mailpit trigger, Jim and magic addresses.')) {
            this.#change(() => deleteChaos(), 'All chaos is off.');
          }
          break;
        case 'revert':
          this.#dirty = false;
          this.#text('edit-error', '');
          this.#text('edit-status', '');
          this.update();
          break;
        default:
      }
    });
    this.#editor.addEventListener('input', () => {
      this.#dirty = true;
      this.#text('edit-status', 'Unsaved changes');
    });
    this.querySelector('form.chaos-editor')?.addEventListener('submit', (e) => {
      e.preventDefault();
      this.#save();
    });
  }

  get #editor() { return /** @type {HTMLTextAreaElement} */ (this.querySelector('#chaos-rules-json')); }

  /** Re-renders the parts from the shared state. */
  update() {
    const st = this.#state?.data;
    if (!this.#built) return;
    if (!st) {
      this.#patch('rules', html`<p class="loading">Loading…</p>`);
      return;
    }
    this.#text('load-error', '');
    const stateEl = /** @type {HTMLElement} */ (this.querySelector('[data-part="state"]'));
    stateEl.textContent = st.Active ? 'Chaos is on' : 'Chaos is off';
    stateEl.dataset.active = String(!!st.Active);
    const enabled = /** @type {HTMLInputElement} */ (this.querySelector('#chaos-enabled'));
    const magic = /** @type {HTMLInputElement} */ (this.querySelector('#chaos-magic'));
    enabled.checked = !!st.Enabled;
    magic.checked = !!st.Magic;
    this.#text('seed', String(st.Seed ?? ''));
    this.#patch('rules', this.#rulesMarkup(st));
    this.#patch('builtin', this.#builtinMarkup(st));
    this.#patch('codes', this.#codesMarkup(st));
    this.#patch('events', this.#eventsMarkup(st));
    if (!this.#dirty) {
      const json = JSON.stringify(st.Rules ?? [], null, 2);
      if (this.#editor.value !== json) this.#editor.value = json;
    }
  }

  /** @param {any} st */
  #rulesMarkup(st) {
    const rules = st.Rules ?? [];
    if (!rules.length) return html`<p class="empty">No rules. Add some in the editor below, or start with <code>--chaos-rule</code>.</p>`;
    const stats = (st.Stats?.Rules ?? []).filter((s) => s.Origin === 'rule');
    // The engine lists every configured rule in order while the rules are
    // enabled, and none while they are not.
    const statFor = (r, i) => (stats.length === rules.length ? stats[i] : stats.find((s) => s.Name === r.Name));
    return html`<table class="chaos-rules">
<thead><tr><th scope="col">On</th><th scope="col">Name</th><th scope="col">Stage</th><th scope="col">Match</th><th scope="col">Action</th><th scope="col">When</th><th scope="col" class="num">Matched</th><th scope="col" class="num">Fired</th></tr></thead>
<tbody>${rules.map((r, i) => {
      const s = statFor(r, i);
      const name = r.Name || `rule ${i + 1}`;
      return html`<tr data-rule="${i}"${r.Disabled ? html` class="off"` : ''}>
<td><input type="checkbox" role="switch" class="rule-toggle" data-index="${i}" data-key="toggle-${i}" aria-label="Enabled: ${name}"${r.Disabled ? '' : html` checked`}></td>
<td class="name">${name}${r.Disabled ? html`<span class="off-label">off</span>` : ''}</td><td class="stage" data-label="Stage">${r.Stage}</td><td class="match" data-label="Match">${matchSummary(r)}</td>
<td class="action" data-label="Action">${actionSummary(r)}</td><td class="when" data-label="When">${whenSummary(r)}</td>
<td class="num matched" data-label="Matched">${s ? s.Matched : '—'}</td><td class="num fired" data-label="Fired">${s ? s.Fired : '—'}</td></tr>`;
    })}</tbody></table>${st.Enabled ? '' : html`<p class="muted">Rules are switched off as a whole: none of them fires.</p>`}`;
  }

  /** @param {any} st */
  #builtinMarkup(st) {
    const mp = ['Sender', 'Recipient', 'Authentication'].filter((k) => st[k]);
    const firing = new Set(mailpitTriggers(st).map(([k]) => k));
    const jim = st.Jim;
    const others = (st.Stats?.Rules ?? []).filter((s) => s.Origin !== 'rule');
    const pct = (v) => `${+Number(v).toFixed(2)} %`;
    return html`<dl class="chaos-builtin">
<div><dt>Mailpit triggers</dt><dd>${mp.length ? mp.map((k, i) => html`${i ? ', ' : ''}<span class="${firing.has(k) ? 'hot' : 'muted'}">${k} ${st[k].ErrorCode} at ${pct(st[k].Probability)}</span>`) : 'none'}</dd></div>
<div><dt>Jim (MailHog)</dt><dd>${jim ? html`on: accept ${pct(jim.AcceptChance * 100)}, disconnect ${pct(jim.DisconnectChance * 100)}, reject sender ${pct(jim.RejectSenderChance * 100)}, recipient ${pct(jim.RejectRecipientChance * 100)}, auth ${pct(jim.RejectAuthChance * 100)}; link speed affect ${pct(jim.LinkSpeedAffect * 100)} at ${jim.LinkSpeedMin}–${jim.LinkSpeedMax} B/s` : 'off'}</dd></div>
<div><dt>Magic addresses</dt><dd>${st.Magic ? 'on' : 'off'}</dd></div>
</dl>${others.length ? html`<div class="table-wrap"><table class="chaos-others">
<thead><tr><th scope="col">Name</th><th scope="col">Source</th><th scope="col">Stage</th><th scope="col" class="num">Matched</th><th scope="col" class="num">Fired</th></tr></thead>
<tbody>${others.map((s) => html`<tr data-origin="${s.Origin}"><td class="name">${s.Name}</td><td>${s.Origin}</td><td>${s.Stage}</td><td class="num matched">${s.Matched}</td><td class="num fired">${s.Fired}</td></tr>`)}</tbody></table></div>` : ''}`;
  }

  /** @param {any} st */
  #codesMarkup(st) {
    const codes = Object.entries(st.Stats?.Codes ?? {}).sort(([a], [b]) => Number(a) - Number(b));
    const actions = Object.entries(st.Stats?.Actions ?? {}).filter(([, n]) => n).sort(([a], [b]) => a.localeCompare(b));
    if (!codes.length && !actions.length) return html`<p class="empty">Nothing yet.</p>`;
    return html`${codes.length ? html`<table class="chaos-codes"><thead><tr><th scope="col">Code</th><th scope="col" class="num">Times</th></tr></thead>
<tbody>${codes.map(([c, n]) => html`<tr data-code="${c}"><td>${c}</td><td class="num">${n}</td></tr>`)}</tbody></table>` : ''}
${actions.length ? html`<p class="chaos-action-counts">${actions.map(([a, n]) => html`<span class="tag">${a} ${n}</span>`)}</p>` : ''}`;
  }

  /** @param {any} st */
  #eventsMarkup(st) {
    const events = (st.Stats?.Events ?? []).slice(-EVENTS_SHOWN).reverse();
    if (!events.length) return html`<p class="empty">No chaos events yet.</p>`;
    const time = (t) => {
      const d = new Date(t);
      return Number.isNaN(d.getTime()) ? String(t ?? '') : d.toLocaleTimeString();
    };
    return html`<table class="chaos-events-table"><thead><tr><th scope="col">Time</th><th scope="col">Rule</th><th scope="col">Stage</th><th scope="col">Action</th><th scope="col">Client</th><th scope="col">From</th><th scope="col">To</th></tr></thead>
<tbody>${events.map((e) => html`<tr><td>${time(e.Time)}</td><td>${e.Rule}</td><td>${e.Stage}</td><td>${e.Action}</td><td>${e.Remote}</td><td>${e.From}</td><td>${e.Rcpt}</td></tr>`)}</tbody></table>`;
  }

  /**
   * Turns rule i on or off: PUTs the whole rule list with that one changed.
   * @param {number} i @param {boolean} on
   */
  #toggleRule(i, on) {
    const st = this.#state?.data;
    const rules = st?.Rules ?? [];
    if (!rules[i]) return;
    // PUT Rules switches the rules on as a whole unless Enabled says
    // otherwise: keep the master switch where it is.
    this.#change(() => putChaos({ Enabled: !!st.Enabled, Rules: rules.map((r, j) => (j === i ? { ...r, Disabled: !on } : r)) }));
  }

  /** Saves the editor's rules; on failure shows why and keeps the edit. */
  async #save() {
    let rules;
    try {
      rules = JSON.parse(this.#editor.value);
    } catch (err) {
      this.#text('edit-error', `Not valid JSON: ${err.message}`);
      return;
    }
    if (!Array.isArray(rules) && !(rules && typeof rules === 'object' && Array.isArray(rules.Rules))) {
      this.#text('edit-error', 'Want a JSON list of rules, or an object with a Rules list.');
      return;
    }
    // As with the toggles, the master switch stays where it is unless the
    // object says otherwise.
    const body = Array.isArray(rules) ? { Rules: rules } : { ...rules };
    if (!('Enabled' in body) && this.#state?.data) body.Enabled = !!this.#state.data.Enabled;
    this.#text('edit-error', '');
    this.#text('edit-status', 'Saving…');
    try {
      await this.#request(() => putChaos(body));
      this.#dirty = false;
      this.#text('edit-status', 'Saved.');
      this.update();
    } catch (err) {
      this.#text('edit-status', 'Not saved.');
      this.#text('edit-error', String(err.detail ?? err.message ?? err));
    }
  }

  /**
   * Runs a change from the switches or the buttons, showing failures in
   * the panel.
   * @param {() => Promise<any>} fn @param {string} [done] said when it worked
   */
  async #change(fn, done = '') {
    this.#text('action-status', '');
    this.#text('action-error', '');
    try {
      await this.#request(fn);
      this.#text('action-status', done);
    } catch (err) {
      this.#text('action-error', String(err.detail ?? err.message ?? err));
      this.#shown.delete('rules'); // redraw the toggles from the server's state
    }
    this.update(); // a failed toggle shows the server's state again
  }

  /** @param {() => Promise<any>} fn */
  async #request(fn) {
    if (!this.#state) throw new Error('no chaos state');
    this.#busy = true;
    try {
      await this.#state.change(fn);
    } finally {
      this.#busy = false;
    }
  }

  /**
   * Sets a part's text; an empty text hides a part that can be hidden.
   * @param {string} part @param {string} s
   */
  #text(part, s) {
    const el = /** @type {HTMLElement|null} */ (this.querySelector(`[data-part="${part}"]`));
    if (!el) return;
    el.textContent = s;
    if (el.classList.contains('error')) el.hidden = !s;
  }

  /**
   * Renders markup into a part unless it shows that already; keeps the
   * focus on the control with the same data-key.
   * @param {string} part @param {ReturnType<typeof html>} markup
   */
  #patch(part, markup) {
    const s = String(markup);
    if (this.#shown.get(part) === s) return;
    const el = /** @type {HTMLElement|null} */ (this.querySelector(`[data-part="${part}"]`));
    if (!el) return;
    this.#shown.set(part, s);
    const active = document.activeElement;
    const key = active && el.contains(active) ? /** @type {HTMLElement} */ (active).dataset.key : undefined;
    render(el, markup);
    if (key) /** @type {HTMLElement|null} */ (el.querySelector(`[data-key="${CSS.escape(key)}"]`))?.focus();
  }
}

/** Defines <chaos-panel>. */
export function registerChaosPanel() {
  if (!customElements.get('chaos-panel')) customElements.define('chaos-panel', ChaosPanel);
}
