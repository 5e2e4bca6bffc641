// Raw tab: the message source as text, with line numbers, a wrap toggle
// and an .eml download link.

import { html, render } from '../html.js';
import { getRaw, downloadURL } from '../api.js';

// Past this many lines the tab shows the head only: a 7 MB message is ~90k
// line elements, which stalls the browser; the download has it all.
export const RAW_MAX_LINES = 20000;

// The markup goes through the HTML parser, which would drop NULs and turn a
// lone CR into a line break; the Control Pictures keep both visible.
const visible = (/** @type {string} */ l) => l.replace(/\0/g, '\u2400').replace(/\r/g, '\u240d');

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
  const total = lines.length;
  const shown = total > RAW_MAX_LINES ? lines.slice(0, RAW_MAX_LINES) : lines;
  const wrap = ctx.prefs.rawWrap ?? true;
  render(el, html`<div class="raw-bar"><a class="download" href="${downloadURL(ctx.id)}" download="${ctx.id}.eml">Download .eml</a>
<button type="button" class="wrap-toggle" aria-pressed="${wrap}">Wrap lines</button>
<span class="muted">${total} lines</span></div>
${shown.length < total ? html`<p class="muted raw-truncated" role="status">Showing the first ${shown.length} of ${total} lines; download the .eml for the whole source.</p>` : ''}
<pre class="raw lines${wrap ? ' wrap' : ''}">${shown.map((l, i) => html`<span class="line"><span class="ln" data-n="${i + 1}" aria-hidden="true"></span><span class="lt">${visible(l)}</span></span>
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
