// Headers tab: every header field in message order, RFC 2047 words decoded
// (by the server) with the raw value beside it where the two differ, and a
// filter box that matches names, decoded and raw values.

import { html, render } from '../html.js';

/** @param {HTMLElement} el @param {import('./tab.js').TabContext} ctx */
export function renderHeaders(el, ctx) {
  const headers = ctx.msg.Headers ?? [];
  const encoded = headers.filter((h) => h.Decoded !== h.Value).length;
  render(el, html`<div class="tab-tools"><input type="search" class="filter" placeholder="Filter headers" aria-label="Filter headers">
<span class="muted">${headers.length} fields${encoded ? `, ${encoded} with encoded words (raw value shown below the decoded one)` : ''}</span></div>
<table class="headers"><thead><tr><th scope="col">Name</th><th scope="col">Value</th></tr></thead><tbody>${headers.map((h) =>
    html`<tr><th scope="row">${h.Name}</th><td><div class="decoded">${h.Decoded}</div>${h.Decoded !== h.Value
      ? html`<div class="raw"><span class="raw-label">raw</span> <code>${h.Value}</code></div>` : ''}</td></tr>`)}</tbody></table>`);
  const rows = [...el.querySelectorAll('tbody tr')];
  el.querySelector('input.filter')?.addEventListener('input', (e) => {
    const q = /** @type {HTMLInputElement} */ (e.target).value.toLowerCase();
    rows.forEach((tr, i) => {
      const h = headers[i];
      tr.hidden = q !== '' && !`${h.Name}: ${h.Decoded}\n${h.Name}: ${h.Value}`.toLowerCase().includes(q);
    });
  });
}
