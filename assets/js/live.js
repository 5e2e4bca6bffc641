// The live event stream: a websocket on api/events that reconnects with
// exponential backoff and re-dispatches each frame as a CustomEvent named
// after its Type ("new", "update", "delete", "truncate", "stats").
// "reconnect" fires after every successful reconnection, because events
// may have been missed while the socket was down.

/**
 * Live connects to the event stream and keeps it connected until close().
 * Listen with live.addEventListener('new', (e) => e.detail).
 */
export class Live extends EventTarget {
  #url;
  #ws = null;
  #delay;
  #minDelay;
  #maxDelay;
  #timer = 0;
  #opened = false;
  #closed = false;

  /**
   * @param {string} [path] relative to the page
   * @param {{minDelay?: number, maxDelay?: number}} [opts] backoff bounds in ms
   */
  constructor(path = 'api/events', { minDelay = 500, maxDelay = 30000 } = {}) {
    super();
    const u = new URL(path, document.baseURI);
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    this.#url = u.href;
    this.#minDelay = minDelay;
    this.#maxDelay = maxDelay;
    this.#delay = minDelay;
  }

  /** Opens the socket (idempotent while open). */
  connect() {
    if (this.#closed || this.#ws) return;
    const ws = new WebSocket(this.#url);
    this.#ws = ws;
    ws.addEventListener('open', () => {
      this.#delay = this.#minDelay;
      this.dispatchEvent(new CustomEvent('status', { detail: { connected: true } }));
      if (this.#opened) this.dispatchEvent(new CustomEvent('reconnect'));
      this.#opened = true;
    });
    ws.addEventListener('message', (e) => {
      let frame;
      try {
        frame = JSON.parse(e.data);
      } catch {
        return;
      }
      if (frame && typeof frame.Type === 'string') {
        this.dispatchEvent(new CustomEvent(frame.Type, { detail: frame.Data }));
      }
    });
    ws.addEventListener('close', () => {
      this.#ws = null;
      this.dispatchEvent(new CustomEvent('status', { detail: { connected: false } }));
      if (this.#closed) return;
      const wait = this.#delay * (0.75 + Math.random() / 2); // jitter
      this.#delay = Math.min(this.#delay * 2, this.#maxDelay);
      this.#timer = setTimeout(() => this.connect(), wait);
    });
  }

  /** Closes the socket for good. */
  close() {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#ws?.close();
  }
}
