// html`` is a tagged template that entity-encodes every interpolation, so
// attacker-controlled text (subjects, addresses, headers) cannot become
// markup. Nested html`` results and arrays of them are inserted as-is.

/** Markup that has already been encoded. */
class Safe {
  /** @param {string} s */
  constructor(s) { this.s = s; }
  toString() { return this.s; }
}

const entities = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * Encodes one interpolated value: Safe passes through, arrays are joined,
 * null and undefined become ''.
 * @param {unknown} v
 * @returns {string}
 */
export function htmlEncode(v) {
  if (v instanceof Safe) return v.s;
  if (Array.isArray(v)) return v.map(htmlEncode).join('');
  if (v === null || v === undefined || v === false) return '';
  return String(v).replace(/[&<>"']/g, (c) => entities[c]);
}

/**
 * The tagged template.
 * @param {TemplateStringsArray} strings
 * @param {...unknown} values
 * @returns {Safe}
 */
export function html(strings, ...values) {
  return new Safe(String.raw({ raw: strings }, ...values.map(htmlEncode)));
}

/**
 * Replaces el's children with the markup of an html`` result. This is the
 * only place the UI assigns innerHTML.
 * @param {Element} el
 * @param {Safe} markup
 */
export function render(el, markup) {
  if (!(markup instanceof Safe)) throw new TypeError('render wants an html`` result');
  el.innerHTML = markup.s;
}
