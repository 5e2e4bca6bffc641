// Raw tab: the message source as text.

import { html, render } from '../html.js';
import { getRaw, rawURL } from '../api.js';

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
  render(el, html`<p><a href="${rawURL(ctx.id)}" download="${ctx.id}.eml">Download .eml</a></p><pre class="raw"></pre>`);
  /** @type {HTMLElement} */ (el.querySelector('pre')).textContent = text;
}
