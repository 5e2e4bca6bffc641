// Links tab: every http(s) and mailto URL found in the bodies, with its
// anchor text and where it was found. Only http(s) and mailto URLs become
// links; anything else is shown as text.

import { html, render } from '../html.js';

/**
 * Whether url may be an href: http(s) or mailto only.
 * @param {string} url
 */
export function safeHref(url) {
  return /^(?:https?:\/\/|mailto:)/i.test(url ?? '');
}

/** @param {HTMLElement} el @param {import('./tab.js').TabContext} ctx */
export function renderLinks(el, ctx) {
  const links = ctx.msg.Links ?? [];
  if (!links.length) {
    render(el, html`<p class="empty">No links.</p>`);
    return;
  }
  render(el, html`<table class="links"><thead><tr><th>Text</th><th>URL</th><th>Source</th></tr></thead>
<tbody>${links.map((l) => html`<tr><td>${l.Text}</td><td class="url">${safeHref(l.URL)
    ? html`<a href="${l.URL}" rel="noopener noreferrer" target="_blank">${l.URL}</a>`
    : l.URL}</td><td>${l.Source}</td></tr>`)}</tbody></table>`);
}
