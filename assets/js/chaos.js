// Chaos mode in the UI: the shared chaos state (one GET /api/v1/chaos,
// re-fetched on the live "chaos" event, on reconnect and by the panel
// while it is open) and the plain-text summaries of rules that the banner
// and the panel show.

import { getChaos } from './api.js';

/**
 * ChaosState holds the latest GET /api/v1/chaos reply and fires "change"
 * (detail: the state) when it is replaced, and "error" (detail: {message})
 * when a fetch fails. Replies apply in the order their requests started,
 * so a slow GET never overwrites the reply of a later PUT.
 */
export class ChaosState extends EventTarget {
  /** @type {any} */
  #data = null;
  #issued = 0; // tickets handed to requests
  #applied = 0; // the ticket of the reply in force
  /** @type {Promise<void>|null} */
  #inflight = null;
  #again = false;

  /** The latest state, or null before the first reply. */
  get data() { return this.#data; }

  /**
   * Fetches the state. Calls while a fetch is in flight coalesce into one
   * more fetch after it.
   * @returns {Promise<void>}
   */
  refresh() {
    if (this.#inflight) {
      this.#again = true;
      return this.#inflight;
    }
    this.#inflight = (async () => {
      do {
        this.#again = false;
        const ticket = ++this.#issued;
        try {
          this.#apply(ticket, await getChaos());
        } catch (err) {
          this.dispatchEvent(new CustomEvent('error', { detail: { message: String(err.message ?? err) } }));
        }
      } while (this.#again);
      this.#inflight = null;
    })();
    return this.#inflight;
  }

  /**
   * Runs a request that changes chaos and puts its reply (the GET shape)
   * in force; a reply without a body triggers a refresh instead.
   * @param {() => Promise<any>} fn
   */
  async change(fn) {
    const ticket = ++this.#issued;
    const data = await fn();
    if (data && typeof data === 'object' && 'Rules' in data) this.#apply(ticket, data);
    else await this.refresh();
  }

  /** @param {number} ticket @param {any} data */
  #apply(ticket, data) {
    if (ticket < this.#applied) return; // a later request already answered
    this.#applied = ticket;
    this.#data = data;
    this.dispatchEvent(new CustomEvent('change', { detail: data }));
  }
}

/**
 * The Mailpit triggers that can fire ([name, {ErrorCode, Probability}]).
 * @param {any} st
 * @returns {[string, {ErrorCode: number, Probability: number}][]}
 */
export function mailpitTriggers(st) {
  return /** @type {[string, any][]} */ (['Sender', 'Recipient', 'Authentication'].map((k) => [k, st?.[k]]))
    .filter(([, t]) => t && t.Probability > 0);
}

/**
 * What is on, for the banner: e.g. "3 rules · magic addresses · Jim".
 * @param {any} st the GET /api/v1/chaos reply
 * @returns {string}
 */
export function chaosSummary(st) {
  const parts = [];
  const on = st.Enabled ? (st.Rules ?? []).filter((r) => !r.Disabled).length : 0;
  if (on) parts.push(`${on} ${on === 1 ? 'rule' : 'rules'}`);
  if (st.Magic) parts.push('magic addresses');
  const mp = mailpitTriggers(st).length;
  if (mp) parts.push(`${mp} Mailpit ${mp === 1 ? 'trigger' : 'triggers'}`);
  if (st.Jim) parts.push('Jim');
  return parts.join(' · ');
}

/**
 * A Go duration string made shorter: "1m0s" → "1m", "1h0m0s" → "1h".
 * Numbers are milliseconds.
 * @param {unknown} d
 * @returns {string}
 */
export function duration(d) {
  if (typeof d === 'number') return `${d}ms`;
  const s = String(d ?? '');
  return s.replace(/(\d[a-zµ]+)0s$/, '$1').replace(/(\d[a-z]+)0m$/, '$1');
}

/**
 * The match conditions of a rule, e.g. "to=*@bounce.test, helo=x"; "any".
 * @param {any} r a rule
 * @returns {string}
 */
export function matchSummary(r) {
  const m = r.Match ?? {};
  const parts = [];
  for (const k of ['From', 'To', 'IP', 'Helo', 'Auth', 'Inbox']) {
    if (m[k]) parts.push(`${k.toLowerCase()}=${m[k]}`);
  }
  if (m.Header?.Name) parts.push(m.Header.Value ? `header ${m.Header.Name}=${m.Header.Value}` : `header ${m.Header.Name} present`);
  if (m.MinSize || m.MaxSize) parts.push(`size ${m.MinSize ? bytes(m.MinSize) : '0'}–${m.MaxSize ? bytes(m.MaxSize) : '∞'}`);
  return parts.length ? parts.join(', ') : 'any';
}

/**
 * What a rule does, e.g. "delay 2s ±500ms, reply 550 5.1.1 No such user".
 * @param {any} r a rule
 * @returns {string}
 */
export function actionSummary(r) {
  const parts = [];
  if (r.Delay) parts.push(`delay ${duration(r.Delay)}${r.Jitter ? ` ±${duration(r.Jitter)}` : ''}`);
  if (r.Throttle) parts.push(`throttle ${r.Throttle} B/s`);
  if (r.Disconnect) parts.push(r.AfterBytes ? `disconnect after ${bytes(r.AfterBytes)}` : 'disconnect');
  if (r.Code) {
    const text = String(r.Text ?? '').replaceAll('\n', ' / ');
    parts.push(['reply', r.Code, r.Enhanced, text].filter(Boolean).join(' '));
  } else if (r.Greylist || r.RateLimit) {
    parts.push('reply 4xx (default)');
  }
  return parts.join(', ') || '—';
}

/**
 * When a rule fires: "always", "p=25%", "every 3", "first 2",
 * "greylist 30s", "rate 10 per 1m".
 * @param {any} r a rule
 * @returns {string}
 */
export function whenSummary(r) {
  if (r.Probability !== undefined && r.Probability !== null) return `p=${+(r.Probability * 100).toFixed(2)}%`;
  if (r.Every) return `every ${r.Every}`;
  if (r.First) return `first ${r.First}`;
  if (r.Greylist) return `greylist ${duration(r.Greylist.Retry ?? '0s')}`;
  if (r.RateLimit) return `rate ${r.RateLimit.Max} per ${duration(r.RateLimit.Window)}`;
  return 'always';
}

/** @param {number} n octets @returns {string} */
function bytes(n) {
  return `${n} B`;
}
