// Received tab: the Received chain, oldest hop first, with the delay since
// the previous hop and the server's warnings (e.g. clocks going backwards).

import { html, render } from '../html.js';
import { getReceived } from '../api.js';
import { dateTime, duration } from '../format.js';

/** @param {HTMLElement} el @param {import('./tab.js').TabContext} ctx */
export async function renderReceived(el, ctx) {
  render(el, html`<p class="loading">Loading Received chain…</p>`);
  let hops;
  try {
    hops = await getReceived(ctx.id);
  } catch (err) {
    if (ctx.isCurrent()) render(el, html`<p class="error" role="alert">${err.message}</p>`);
    return;
  }
  if (!ctx.isCurrent()) return;
  if (!hops?.length) {
    render(el, html`<p class="empty">No Received header fields.</p>`);
    return;
  }
  render(el, html`<table class="hops"><thead><tr><th>#</th><th>From</th><th>By</th><th>With</th><th>TLS</th><th>Time</th><th>Delay</th></tr></thead>
<tbody>${hops.map((h, i) => html`<tr class="hop" title="${h.Raw}"><td>${i + 1}</td><td>${h.FromHost || h.From}${h.FromIP ? html` <span class="muted">[${h.FromIP}]</span>` : ''}</td>
<td>${h.By}</td><td>${h.With}</td><td>${h.Secure ? html`<span class="ok">${h.TLS || 'yes'}</span>` : 'no'}</td>
<td>${dateTime(h.Time)}</td><td>${duration(h.Delay)}</td></tr>
${h.Warning ? html`<tr class="warning"><td></td><td colspan="6" role="note">⚠ ${h.Warning}</td></tr>` : ''}`)}</tbody></table>`);
}
