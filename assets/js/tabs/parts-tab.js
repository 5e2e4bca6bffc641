// Parts tab: the MIME tree. Multipart nodes collapse (<details>, open by
// default); every leaf links to its decoded content, and text/* leaves can
// be viewed in place.

import { html, render } from '../html.js';
import { partURL, getPartText } from '../api.js';
import { size } from '../format.js';

/** @param {any} p */
function isText(p) {
  return (p.ContentType || 'text/plain').toLowerCase().startsWith('text/');
}

/** @param {string} id @param {any} p */
function node(id, p) {
  const kids = p.Children ?? [];
  const bits = [p.Charset && `charset=${p.Charset}`, p.Encoding, p.Disposition, p.ContentID && `cid:${p.ContentID}`]
    .filter(Boolean).join(' · ');
  const label = html`<span class="ctype">${p.ContentType || 'text/plain'}</span>
${p.FileName ? html` <span class="fname">${p.FileName}</span>` : ''}
<span class="muted"> ${[bits, kids.length ? '' : size(p.Size ?? 0)].filter(Boolean).join(' · ')}</span>`;
  const pid = html`<span class="pid">${p.PartID}</span> `;
  if (kids.length) {
    return html`<li data-part="${p.PartID}"><details open><summary>${pid}${label}</summary><ul>${kids.map((c) => node(id, c))}</ul></details></li>`;
  }
  const view = isText(p)
    ? html` <button type="button" class="view-part" data-part="${p.PartID}" aria-expanded="false">View</button><pre class="part-text" hidden></pre>`
    : '';
  return html`<li data-part="${p.PartID}">${pid}<a href="${partURL(id, p.PartID)}" download="${p.FileName || ''}" title="Download part ${p.PartID}">${label}</a>${view}</li>`;
}

/** @param {any[]} roots @returns {Map<string, any>} */
function byPartID(roots) {
  const m = new Map();
  const walk = (/** @type {any} */ p) => {
    m.set(String(p.PartID), p);
    (p.Children ?? []).forEach(walk);
  };
  roots.forEach(walk);
  return m;
}

/** @param {HTMLElement} el @param {import('./tab.js').TabContext} ctx */
export function renderParts(el, ctx) {
  const root = ctx.msg.Parts;
  if (!root) {
    render(el, html`<p class="empty">No MIME structure.</p>`);
    return;
  }
  const roots = Array.isArray(root) ? root : [root];
  const parts = byPartID(roots);
  render(el, html`<ul class="tree">${roots.map((p) => node(ctx.id, p))}</ul>`);
  el.querySelector('ul.tree')?.addEventListener('click', async (e) => {
    const btn = /** @type {HTMLElement} */ (e.target).closest?.('button.view-part');
    if (!(btn instanceof HTMLButtonElement)) return;
    const pre = /** @type {HTMLElement} */ (btn.nextElementSibling);
    if (btn.getAttribute('aria-expanded') === 'true') {
      pre.hidden = true;
      btn.setAttribute('aria-expanded', 'false');
      btn.textContent = 'View';
      return;
    }
    btn.disabled = true;
    pre.classList.remove('error');
    pre.hidden = false;
    pre.textContent = 'Loading…';
    const part = btn.dataset.part ?? '';
    try {
      pre.textContent = await getPartText(ctx.id, part, parts.get(part)?.Charset);
    } catch (err) {
      pre.classList.add('error');
      pre.textContent = err instanceof Error ? err.message : String(err);
    }
    btn.disabled = false;
    btn.setAttribute('aria-expanded', 'true');
    btn.textContent = 'Hide';
  });
}
