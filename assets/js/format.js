// Small formatting helpers shared by the components.

/** @param {{Name?: string, Address?: string}|null|undefined} a */
export function addr(a) {
  if (!a) return '';
  if (a.Name && a.Address) return `${a.Name} <${a.Address}>`;
  return a.Name || a.Address || '';
}

/** Short form for lists: the name, else the address. @param {{Name?: string, Address?: string}|null|undefined} a */
export function addrShort(a) {
  if (!a) return '';
  return a.Name || a.Address || '';
}

/** @param {number} n bytes */
export function size(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} kB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/**
 * "just now", "5 min ago", "3 h ago", "2 d ago", then the date.
 * @param {string} iso
 * @param {number} [now] ms since the epoch
 */
export function relativeTime(iso, now = Date.now()) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const s = Math.round((now - t) / 1000);
  if (s < 45) return 'just now';
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  if (s < 7 * 86400) return `${Math.round(s / 86400)} d ago`;
  return new Date(t).toLocaleDateString();
}

/** @param {string} iso */
export function dateTime(iso) {
  const t = Date.parse(iso);
  if (Number.isNaN(t) || t <= 0) return '';
  return new Date(t).toLocaleString();
}

/** @param {number|null|undefined} s seconds */
export function duration(s) {
  if (s === null || s === undefined) return '';
  const neg = s < 0;
  let v = Math.abs(s);
  let out;
  if (v < 1) out = `${Math.round(v * 1000)} ms`;
  else if (v < 120) out = `${v.toFixed(v < 10 ? 1 : 0)} s`;
  else if (v < 7200) out = `${Math.round(v / 60)} min`;
  else out = `${(v / 3600).toFixed(1)} h`;
  return neg ? `−${out}` : out;
}
