// Text tab: the text body with its links made clickable. Links are built
// as <a> elements with textContent; only http(s) URLs become links.

import { html, render } from '../html.js';

const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;

/**
 * Appends text to el, turning URLs into links.
 * @param {HTMLElement} el
 * @param {string} text
 */
export function linkify(el, text) {
  let last = 0;
  for (const m of text.matchAll(URL_RE)) {
    let url = m[0];
    const trail = /[.,;:!?)\]}]+$/.exec(url); // sentence punctuation is not part of the link
    if (trail) url = url.slice(0, -trail[0].length);
    const at = /** @type {number} */ (m.index);
    el.append(text.slice(last, at));
    const a = document.createElement('a');
    a.href = url;
    a.textContent = url;
    a.rel = 'noopener noreferrer';
    a.target = '_blank';
    el.append(a);
    last = at + url.length;
  }
  el.append(text.slice(last));
}

/** @param {HTMLElement} el @param {import('./tab.js').TabContext} ctx */
export function renderText(el, ctx) {
  if (!ctx.msg.Text) {
    render(el, html`<p class="empty">This message has no text body.</p>`);
    return;
  }
  render(el, html`<pre class="text-body"></pre>`);
  linkify(/** @type {HTMLElement} */ (el.querySelector('pre')), ctx.msg.Text);
}
