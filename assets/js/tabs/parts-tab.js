// Parts tab: the MIME tree; every leaf links to its decoded content.

import { html, render } from '../html.js';
import { partURL } from '../api.js';
import { size } from '../format.js';

/** @param {string} id @param {any} p */
function node(id, p) {
  const kids = p.Children ?? [];
  const bits = [p.Charset && `charset=${p.Charset}`, p.Encoding, p.Disposition, p.ContentID && `cid:${p.ContentID}`]
    .filter(Boolean).join(' · ');
  const label = html`<span class="ctype">${p.ContentType || 'text/plain'}</span>
${p.FileName ? html` <span class="fname">${p.FileName}</span>` : ''}
<span class="muted"> ${[bits, kids.length ? '' : size(p.Size ?? 0)].filter(Boolean).join(' · ')}</span>`;
  const head = kids.length
    ? label
    : html`<a href="${partURL(id, p.PartID)}" download="${p.FileName || ''}" title="Download part ${p.PartID}">${label}</a>`;
  return html`<li data-part="${p.PartID}"><span class="pid">${p.PartID}</span> ${head}${kids.length
    ? html`<ul>${kids.map((c) => node(id, c))}</ul>` : ''}</li>`;
}

/** @param {HTMLElement} el @param {import('./tab.js').TabContext} ctx */
export function renderParts(el, ctx) {
  const root = ctx.msg.Parts;
  if (!root) {
    render(el, html`<p class="empty">No MIME structure.</p>`);
    return;
  }
  const roots = Array.isArray(root) ? root : [root];
  render(el, html`<ul class="tree">${roots.map((p) => node(ctx.id, p))}</ul>`);
}
