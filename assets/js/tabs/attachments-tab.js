// Attachments tab: attachments and inline parts, with thumbnails for images.

import { html, render } from '../html.js';
import { partURL, thumbURL } from '../api.js';
import { size } from '../format.js';

/** The file name's extension, for the placeholder tile. @param {string} name */
function ext(name) {
  const m = /\.([a-z0-9]{1,5})$/i.exec(name ?? '');
  return m ? m[1].toUpperCase() : 'FILE';
}

/** @param {string} id @param {any} a @param {string} kind */
function card(id, a, kind) {
  const img = /^image\//i.test(a.ContentType ?? '');
  return html`<li class="attachment">
${img ? html`<img src="${thumbURL(id, a.PartID)}" alt="" width="180" height="120" loading="lazy">` : html`<span class="icon" aria-hidden="true">${ext(a.FileName)}</span>`}
<a href="${partURL(id, a.PartID)}" download="${a.FileName || ''}" class="fname">${a.FileName || `part ${a.PartID}`}</a>
<span class="muted">${a.ContentType} · ${size(a.Size ?? 0)} · ${kind}${a.ContentID ? html` · cid:${a.ContentID}` : ''}</span>
</li>`;
}

/** @param {HTMLElement} el @param {import('./tab.js').TabContext} ctx */
export function renderAttachments(el, ctx) {
  const att = ctx.msg.Attachments ?? [];
  const inl = ctx.msg.Inline ?? [];
  if (!att.length && !inl.length) {
    render(el, html`<p class="empty">No attachments.</p>`);
    return;
  }
  render(el, html`<ul class="attachments">${att.map((a) => card(ctx.id, a, 'attachment'))}${inl.map((a) => card(ctx.id, a, 'inline'))}</ul>`);
}
