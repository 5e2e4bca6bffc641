// Envelope tab: the SMTP side of the message and the session transcript.

import { html, render } from '../html.js';
import { getTranscript } from '../api.js';
import { dateTime } from '../format.js';

/** @param {{Key: string, Value: string}[]|undefined} ps */
const params = (ps) => (ps ?? []).map((p) => (p.Value ? `${p.Key}=${p.Value}` : p.Key)).join(' ');

/** @param {HTMLElement} el @param {import('./tab.js').TabContext} ctx */
export async function renderEnvelope(el, ctx) {
  const e = ctx.msg.Envelope ?? {};
  const tls = e.TLSVersion ? `${e.TLSVersion} ${e.TLSCipher ?? ''}${e.TLSServerName ? ` (SNI ${e.TLSServerName})` : ''}` : 'none';
  /** @type {{Address: string, Params?: {Key: string, Value: string}[]}[]} */
  const rcpts = e.Rcpts ?? [];
  const headerAddrs = new Set([...(ctx.msg.To ?? []), ...(ctx.msg.Cc ?? [])].map((a) => String(a?.Address ?? '').toLowerCase()));
  const rows = [
    ['Source', e.Source], ['Protocol', e.Protocol], ['Remote', e.RemoteAddr], ['Local', e.LocalAddr],
    ['HELO', `${e.Helo ?? ''}${e.ESMTP ? ' (EHLO)' : ''}`], ['TLS', tls], ['Auth user', e.AuthUser],
    ['MAIL FROM', `<${e.MailFrom ?? ''}> ${params(e.MailParams)}`],
    ['RCPT TO', rcpts.length ? html`${rcpts.map((r, i) => html`${i ? ', ' : ''}<span class="rcpt">${`<${r.Address}> ${params(r.Params)}`.trim()}${
      headerAddrs.has(String(r.Address ?? '').toLowerCase()) ? ''
        : html` <span class="badge bcc" title="In the envelope but in no To or Cc header">Bcc</span>`}</span>`)}` : ''],
    ['Body', `${e.Body ?? ''}${e.SMTPUTF8 ? ' SMTPUTF8' : ''}${e.Chunked ? ' (BDAT)' : ''}`],
    ['Received at', dateTime(e.ReceivedAt ?? '')],
  ];
  render(el, html`<dl class="envelope">${rows.filter(([, v]) => v).map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>
<h3>Transcript</h3><div class="transcript"><p class="loading">Loading transcript…</p></div>`);
  const box = /** @type {HTMLElement} */ (el.querySelector('.transcript'));
  let lines;
  try {
    lines = await getTranscript(ctx.id);
  } catch (err) {
    if (ctx.isCurrent()) render(box, html`<p class="error" role="alert">${err.message}</p>`);
    return;
  }
  if (!ctx.isCurrent()) return;
  if (!lines?.length) {
    render(box, html`<p class="empty">No transcript (message not received over SMTP).</p>`);
    return;
  }
  render(box, html`<table class="transcript-lines"><tbody>${lines.map((l) =>
    html`<tr class="dir-${l.Dir === '*' ? 'note' : l.Dir}"><td class="muted">${new Date(l.Time).toLocaleTimeString()}</td><td class="dir">${l.Dir}</td><td><code>${l.Text}</code></td></tr>`)}</tbody></table>`);
}
