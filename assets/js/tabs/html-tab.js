// HTML tab: the message's HTML body in a sandboxed iframe (no scripts, no
// same-origin, no forms, no navigation), with viewport width presets.

import { html, render } from '../html.js';
import { viewURL } from '../api.js';

const WIDTHS = [['phone', 'Phone 375'], ['tablet', 'Tablet 768'], ['desktop', 'Desktop']];

/** @param {HTMLElement} el @param {import('./tab.js').TabContext} ctx */
export function renderHTML(el, ctx) {
  if (!ctx.msg.HTML) {
    render(el, html`<p class="empty">This message has no HTML body.</p>`);
    return;
  }
  const width = ctx.prefs.width || 'desktop';
  render(el, html`<div class="presets" role="group" aria-label="Preview width">${WIDTHS.map(([k, label]) =>
    html`<button type="button" data-width="${k}" aria-pressed="${String(k === width)}">${label}</button>`)}</div>
<div class="frame-wrap w-${width}"><iframe sandbox src="${viewURL(ctx.id)}" title="HTML body" referrerpolicy="no-referrer"></iframe></div>`);
  const wrap = /** @type {HTMLElement} */ (el.querySelector('.frame-wrap'));
  el.querySelector('.presets')?.addEventListener('click', (e) => {
    const b = /** @type {HTMLElement} */ (e.target).closest('button');
    if (!b?.dataset.width) return;
    ctx.prefs.width = b.dataset.width;
    wrap.className = `frame-wrap w-${b.dataset.width}`;
    for (const x of el.querySelectorAll('.presets button')) x.setAttribute('aria-pressed', String(x === b));
  });
}
