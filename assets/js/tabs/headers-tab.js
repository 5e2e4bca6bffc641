// Headers tab: every header field in message order, with a filter box that
// matches names and values.

import { html, render } from '../html.js';

/** @param {HTMLElement} el @param {import('./tab.js').TabContext} ctx */
export function renderHeaders(el, ctx) {
  const headers = ctx.msg.Headers ?? [];
  render(el, html`<input type="search" class="filter" placeholder="Filter headers" aria-label="Filter headers">
<table class="headers"><tbody>${headers.map((h) =>
    html`<tr><th scope="row">${h.Name}</th><td>${h.Value}</td></tr>`)}</tbody></table>`);
  const rows = [...el.querySelectorAll('tbody tr')];
  el.querySelector('input.filter')?.addEventListener('input', (e) => {
    const q = /** @type {HTMLInputElement} */ (e.target).value.toLowerCase();
    rows.forEach((tr, i) => {
      const h = headers[i];
      tr.hidden = q !== '' && !`${h.Name}: ${h.Value}`.toLowerCase().includes(q);
    });
  });
}
