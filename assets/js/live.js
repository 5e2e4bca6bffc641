// The live event stream: a websocket on api/events that reconnects with
// exponential backoff and re-dispatches each frame as a CustomEvent named
// after its Type ("new", "update", "delete", "truncate", "stats").
// "reconnect" fires after every successful reconnection, because events
// may have been missed while the socket was down. Frames are dispatched
// in order, in batches: once no frame came for QUIET ms, or BATCH_EVERY ms
// after the first of the batch. Frames that come together are dispatched
// together, and in a burst of thousands a second what listeners coalesce
// per animation frame (a render, a request) runs some ten times a second
// rather than every frame.

/** Longest (ms) a frame waits for more before a batch is dispatched. */
const QUIET = 16;
/** Longest (ms) the first frame of a batch waits. */
const BATCH_EVERY = 100;

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
  /** @type {string[]} frames received and not yet dispatched */
  #queue = [];
  #batchTimer = 0;
  #batchStart = 0; // when the first queued frame came
  #failures = 0;

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
      this.#failures = 0;
      this.dispatchEvent(new CustomEvent('status', { detail: { connected: true, failures: 0 } }));
      if (this.#opened) this.dispatchEvent(new CustomEvent('reconnect'));
      this.#opened = true;
    });
    ws.addEventListener('message', (e) => {
      const now = performance.now();
      if (!this.#queue.length) this.#batchStart = now;
      this.#queue.push(e.data);
      clearTimeout(this.#batchTimer);
      const wait = Math.min(QUIET, this.#batchStart + BATCH_EVERY - now);
      this.#batchTimer = setTimeout(() => this.#flush(), Math.max(0, wait));
    });
    ws.addEventListener('close', () => {
      this.#ws = null;
      this.#flush(); // what arrived before the close comes first
      // failures counts the closes since the last open: 1 when a live
      // socket drops, then one more per refused reconnection.
      this.#failures++;
      this.dispatchEvent(new CustomEvent('status', { detail: { connected: false, failures: this.#failures } }));
      if (this.#closed) return;
      const wait = this.#delay * (0.75 + Math.random() / 2); // jitter
      this.#delay = Math.min(this.#delay * 2, this.#maxDelay);
      this.#timer = setTimeout(() => this.connect(), wait);
    });
  }

  /** Dispatches the queued frames, in order. */
  #flush() {
    clearTimeout(this.#batchTimer);
    this.#batchTimer = 0;
    const queue = this.#queue;
    this.#queue = [];
    for (const data of queue) {
      let frame;
      try {
        frame = JSON.parse(data);
      } catch {
        continue;
      }
      if (frame && typeof frame.Type === 'string') {
        this.dispatchEvent(new CustomEvent(frame.Type, { detail: frame.Data }));
      }
    }
  }

  /** Closes the socket for good. */
  close() {
    this.#closed = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#batchTimer);
    this.#batchTimer = 0;
    this.#queue = [];
    this.#ws?.close();
  }
}
