// Fetch wrappers for the JSON API. Every function throws on a non-2xx
// reply, with the server's Error text when it sent one. Paths are relative
// so the UI also works behind a reverse proxy under a prefix.

/**
 * @param {string} path
 * @param {RequestInit} [init]
 * @returns {Promise<Response>}
 */
async function request(path, init) {
  const res = await fetch(path, init);
  if (!res.ok) {
    let msg = `${res.status} ${res.statusText}`;
    try {
      const body = await res.json();
      if (body && body.Error) msg = body.Error;
    } catch { /* not JSON */ }
    throw new APIError(`${init?.method ?? 'GET'} ${path}: ${msg}`, res.status, msg);
  }
  return res;
}

/** A non-2xx reply: status is the HTTP status, detail the server's Error text (or the status line). */
export class APIError extends Error {
  /** @param {string} message @param {number} status @param {string} detail */
  constructor(message, status, detail) {
    super(message);
    this.name = 'APIError';
    this.status = status;
    this.detail = detail;
  }
}

/** @param {string} path @returns {Promise<any>} */
async function getJSON(path) {
  return (await request(path)).json();
}

/** @param {string} method @param {string} path @param {unknown} [body] */
async function send(method, path, body) {
  await request(path, jsonInit(method, body));
}

/** @param {string} method @param {unknown} [body] @returns {RequestInit} */
function jsonInit(method, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  return init;
}

const enc = encodeURIComponent;

/**
 * One page of messages, newest first; with a non-blank query, one page of
 * the search results (Mailpit search syntax).
 * @param {{query?: string, start?: number, limit?: number}} opts
 */
export function listMessages({ query = '', start = 0, limit = 50 } = {}) {
  const q = `start=${start}&limit=${limit}`;
  if (query.trim()) return getJSON(`api/v1/search?query=${enc(query)}&${q}`);
  return getJSON(`api/v1/messages?${q}`);
}

/** The whole message (GET marks it read). @param {string} id */
export function getMessage(id) { return getJSON(`api/v1/message/${enc(id)}`); }

/** The raw source as text. @param {string} id @returns {Promise<string>} */
export async function getRaw(id) { return (await request(`api/v1/message/${enc(id)}/raw`)).text(); }

/** The SMTP transcript lines. @param {string} id */
export function getTranscript(id) { return getJSON(`api/v1/message/${enc(id)}/transcript`); }

/** The Received hops, oldest first. @param {string} id */
export function getReceived(id) { return getJSON(`api/v1/message/${enc(id)}/received`); }

/** @param {string[]} ids @param {boolean} read */
export function setRead(ids, read) { return send('PUT', 'api/v1/messages', { IDs: ids, Read: read }); }

/** @param {string[]} ids must not be empty (an empty list deletes everything) */
export function deleteMessages(ids) {
  if (!ids.length) return Promise.resolve();
  return send('DELETE', 'api/v1/messages', { IDs: ids });
}

/** Deletes every message. */
export function deleteAll() { return send('DELETE', 'api/v1/messages'); }

/** URL of the sandboxed HTML view. @param {string} id */
export const viewURL = (id) => `view/${enc(id)}.html`;

/** URL of a decoded part. @param {string} id @param {string} part */
export const partURL = (id, part) => `api/v1/message/${enc(id)}/part/${enc(part)}`;

/**
 * A part's decoded content as text, in the charset its Content-Type names
 * (else fallback, else UTF-8).
 * @param {string} id @param {string} part @param {string} [fallback]
 */
export async function getPartText(id, part, fallback) {
  const res = await request(partURL(id, part));
  const m = /charset="?([^";\s]+)/i.exec(res.headers.get('Content-Type') ?? '');
  const buf = await res.arrayBuffer();
  for (const label of [m?.[1], fallback, 'utf-8']) {
    if (!label) continue;
    try {
      return new TextDecoder(label).decode(buf);
    } catch { /* unknown charset label: try the next */ }
  }
  return new TextDecoder().decode(buf);
}

/** URL of an image part's thumbnail. @param {string} id @param {string} part */
export const thumbURL = (id, part) => `${partURL(id, part)}/thumb`;

/** The inboxes that hold mail ([{Name, Total, Unread}], Name '' = default). */
export function listInboxes() { return getJSON('api/v1/inboxes'); }

/** URL of the source as an .eml attachment. @param {string} id */
export const downloadURL = (id) => `api/v1/messages/${enc(id)}/download`;

/** URL of the raw source. @param {string} id */
export const rawURL = (id) => `api/v1/message/${enc(id)}/raw`;

/**
 * The chaos configuration, counters and recent events (see GET
 * /api/v1/chaos): {Enabled, Seed, Magic, Rules, Active, Jim, Stats, and
 * Mailpit's Sender/Recipient/Authentication triggers}.
 */
export function getChaos() { return getJSON('api/v1/chaos'); }

/**
 * Changes the chaos configuration; body holds any of Enabled, Seed, Magic
 * and Rules (objects or compact strings). Resolves to the new state (the
 * GET shape, or null without a body); a rejected rule throws an APIError
 * with status 400 and nothing changes.
 * @param {{Enabled?: boolean, Seed?: number, Magic?: boolean, Rules?: unknown[]}} body
 */
export async function putChaos(body) { return bodyOrNull(await request('api/v1/chaos', jsonInit('PUT', body))); }

/** Turns all chaos off (rules, Mailpit's triggers, Jim, magic addresses); resolves to the new state, or null. */
export async function deleteChaos() { return bodyOrNull(await request('api/v1/chaos', jsonInit('DELETE'))); }

/** Zeroes the chaos counters and forgets the events; resolves to the new state, or null. */
export async function resetChaosCounters() { return bodyOrNull(await request('api/v1/chaos/counters', jsonInit('DELETE'))); }

/** The JSON object a reply carries, or null (no body, not JSON). @param {Response} res */
async function bodyOrNull(res) {
  try {
    const v = JSON.parse(await res.text());
    return v && typeof v === 'object' ? v : null;
  } catch {
    return null;
  }
}
