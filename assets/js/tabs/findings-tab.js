// Findings tab: the problems the server noticed while parsing the message
// (malformed mail is stored anyway), each with a one-line explanation.

import { html, render } from '../html.js';

/** One line per known finding code. */
const EXPLAIN = {
  'line-too-long': 'RFC 5322 limits lines to 998 characters; some servers wrap or reject longer ones.',
  'bare-lf': 'Lines must end in CRLF; a bare LF is a smuggling risk and some servers reject it.',
  'bare-cr': 'A CR not followed by LF is invalid in SMTP and may be treated as a line break or rejected.',
  'nul-byte': 'NUL bytes are not allowed in mail and many clients cut the message there.',
  '8bit-without-8bitmime': '8-bit data was sent without the 8BITMIME (or BINARYMIME) extension being used.',
  'missing-date': 'RFC 5322 requires a Date header field.',
  'missing-message-id': 'Messages should have a Message-ID; threading and de-duplication rely on it.',
  'missing-mime-version': 'A MIME message needs a MIME-Version: 1.0 header field.',
  'unclosed-boundary': 'A multipart body ends without its closing boundary; parts may be missing.',
  'junk-before-header': 'Text before the first header field: the header may not be parsed as intended.',
  'enmime': 'The MIME parser could not parse the message; it is shown as plain text.',
};

/**
 * The explanation of a finding code, or ''.
 * @param {string} code
 * @returns {string}
 */
export function explainFinding(code) {
  if (Object.hasOwn(EXPLAIN, code)) return EXPLAIN[code];
  if (code.startsWith('mime-')) return `MIME parser: ${code.slice(5).replaceAll('-', ' ')}.`;
  return '';
}

/** @param {HTMLElement} el @param {import('./tab.js').TabContext} ctx */
export function renderFindings(el, ctx) {
  const fs = ctx.msg.Findings ?? [];
  if (!fs.length) {
    render(el, html`<p class="empty">No findings: the message looks well-formed.</p>`);
    return;
  }
  render(el, html`<ul class="findings">${fs.map((f) => html`<li class="finding${f.Severe ? ' severe' : ''}" data-code="${f.Code}">
${f.Severe ? html`<span class="sev" title="Severe">severe</span> ` : ''}<code class="code">${f.Code}</code> <span class="ftext">${f.Text}</span>
${explainFinding(f.Code) ? html`<div class="explain muted">${explainFinding(f.Code)}</div>` : ''}</li>`)}</ul>`);
}
