// Optional desktop notifications for new mail. Off until the user turns
// them on (the browser asks for permission then); the choice is kept in
// localStorage. Only shown while the page is in the background, and a
// burst of messages becomes one notification, not hundreds.

const KEY = 'mailsink.notify';
// A notification waits until no mail has come for QUIET_MS (at most
// MAX_WAIT_MS after the first): a burst sent message by message by a slow
// client, or delivered while the machine is busy, is still one.
const QUIET_MS = 400;
const MAX_WAIT_MS = 2000;

export class Notifier {
  #enabled = localStorage.getItem(KEY) === '1';
  #focused = document.hasFocus();
  /** @type {{ID: string, From?: {Name?: string, Address?: string}, Subject?: string}[]} */
  #pending = [];
  #timer = 0;
  #since = 0; // when the first pending message came
  /** @type {HTMLButtonElement} */
  #button;

  /** @param {HTMLButtonElement} button the toggle */
  constructor(button) {
    this.#button = button;
    window.addEventListener('focus', () => { this.#focused = true; });
    window.addEventListener('blur', () => { this.#focused = false; });
    if (!('Notification' in window)) {
      button.disabled = true;
      button.title = 'This browser has no notifications';
    }
    button.addEventListener('click', () => this.toggle());
    this.#paint();
  }

  /** Turns notifications on (asking for permission) or off. */
  async toggle() {
    if (this.#enabled) {
      this.#enabled = false;
    } else {
      const p = Notification.permission === 'default' ? await Notification.requestPermission() : Notification.permission;
      this.#enabled = p === 'granted';
      if (p === 'denied') this.#button.title = 'Notifications are blocked in the browser settings';
    }
    localStorage.setItem(KEY, this.#enabled ? '1' : '0');
    this.#paint();
  }

  /** A "new" event's message summary. */
  onNew(m) {
    if (!this.#enabled || Notification.permission !== 'granted') return;
    if (this.#focused && document.visibilityState === 'visible') return;
    this.#pending.push(m);
    const now = performance.now();
    if (this.#pending.length === 1) this.#since = now;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#flush(), Math.max(0, Math.min(QUIET_MS, this.#since + MAX_WAIT_MS - now)));
  }

  #flush() {
    this.#timer = 0;
    const ms = this.#pending;
    this.#pending = [];
    if (!ms.length) return;
    const first = ms[0];
    const title = ms.length === 1
      ? `New mail from ${first.From?.Name || first.From?.Address || 'unknown sender'}`
      : `${ms.length} new messages`;
    const body = ms.length === 1 ? (first.Subject || '(no subject)') : ms.slice(0, 3).map((m) => m.Subject || '(no subject)').join('\n');
    const n = new Notification(title, { body, tag: 'mailsink-new' });
    n.addEventListener('click', () => {
      window.focus();
      location.hash = ms.length === 1 ? `#/message/${encodeURIComponent(first.ID)}/` : '#/';
      n.close();
    });
  }

  #paint() {
    this.#button.setAttribute('aria-pressed', String(this.#enabled));
    this.#button.textContent = this.#enabled ? 'Notifications on' : 'Notifications off';
  }
}
