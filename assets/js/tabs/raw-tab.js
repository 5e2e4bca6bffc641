// Raw tab: the message source as text, with line numbers, a wrap toggle
// and an .eml download link.

import { html, render } from '../html.js';
import { getRaw, downloadURL } from '../api.js';

/** @param {HTMLElement} el @param {import('./tab.js').TabContext} ctx */
export async function renderRaw(el, ctx) {
  render(el, html`<p class="loading">Loading source…</p>`);
  let text;
  try {
    text = await getRaw(ctx.id);
  } catch (err) {
    if (ctx.isCurrent()) render(el, html`<p class="error" role="alert">${err.message}</p>`);
    return;
  }
  if (!ctx.isCurrent()) return;
  const lines = text.split(/\r?\n/);
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  const wrap = ctx.prefs.rawWrap ?? true;
  render(el, html`<div class="raw-bar"><a class="download" href="${downloadURL(ctx.id)}" download="${ctx.id}.eml">Download .eml</a>
<button type="button" class="wrap-toggle" aria-pressed="${wrap}">Wrap lines</button>
<span class="muted">${lines.length} lines</span></div>
<pre class="raw lines${wrap ? ' wrap' : ''}">${lines.map((l, i) => html`<span class="line"><span class="ln" data-n="${i + 1}" aria-hidden="true"></span><span class="lt">${l}</span></span>
`)}</pre>`);
  const pre = /** @type {HTMLElement} */ (el.querySelector('pre'));
  const btn = /** @type {HTMLButtonElement} */ (el.querySelector('.wrap-toggle'));
  btn.addEventListener('click', () => {
    const on = !pre.classList.contains('wrap');
    pre.classList.toggle('wrap', on);
    btn.setAttribute('aria-pressed', String(on));
    ctx.prefs.rawWrap = on;
  });
}
