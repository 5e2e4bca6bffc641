// HTML tab: the message's HTML body in a sandboxed iframe (no scripts, no
// same-origin, no forms, no navigation), with viewport width presets. The
// server's CSP blocks remote images and CSS; the bar above the preview
// counts them and can reload this message's preview with them allowed.

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
  // The server parsed the body and listed its remote images and style
  // sheets (character references and all), which the CSP blocks.
  const remote = (ctx.msg.Remote ?? []).length;
  const allowed = ctx.prefs.remoteFor === ctx.id;
  const bar = () => {
    if (!remote) return '';
    const what = `${remote} remote resource${remote === 1 ? '' : 's'}`;
    return allowed
      ? html`<span class="remote-count">${what} allowed</span>`
      : html`<span class="remote-count">${what} blocked</span> <button type="button" data-remote="allow">Allow remote content</button>`;
  };
  render(el, html`<div class="presets" role="group" aria-label="Preview width">${WIDTHS.map(([k, label]) =>
    html`<button type="button" data-width="${k}" aria-pressed="${String(k === width)}">${label}</button>`)}</div>
${remote ? html`<div class="remote-bar" role="status">${bar()}</div>` : ''}
<div class="frame-wrap w-${width}"><iframe sandbox src="${viewURL(ctx.id)}${allowed ? '?remote=1' : ''}" title="HTML body" referrerpolicy="no-referrer"></iframe></div>`);
  const wrap = /** @type {HTMLElement} */ (el.querySelector('.frame-wrap'));
  const frame = /** @type {HTMLIFrameElement} */ (el.querySelector('iframe'));
  frame.addEventListener('load', () => { frame.dataset.loaded = frame.getAttribute('src') ?? ''; });
  el.querySelector('.presets')?.addEventListener('click', (e) => {
    const b = /** @type {HTMLElement} */ (e.target).closest('button');
    if (!b?.dataset.width) return;
    ctx.prefs.width = b.dataset.width;
    wrap.className = `frame-wrap w-${b.dataset.width}`;
    for (const x of el.querySelectorAll('.presets button')) x.setAttribute('aria-pressed', String(x === b));
  });
  el.querySelector('.remote-bar')?.addEventListener('click', (e) => {
    if (!/** @type {HTMLElement} */ (e.target).closest('button[data-remote="allow"]')) return;
    ctx.prefs.remoteFor = ctx.id;
    renderHTML(el, ctx);
  });
}
