// Entry point: registers the components, starts the live stream, routes
// #/, #/message/ID/tab and #/chaos, wires the toolbar, the chaos banner and
// the keyboard shortcuts.

import { registerMessageList } from './components/message-list.js';
import { registerMessageView } from './components/message-view.js';
import { registerChaosPanel } from './components/chaos-panel.js';
import { ChaosState, chaosSummary } from './chaos.js';
import { html, render } from './html.js';
import { Live } from './live.js';
import { setRead, deleteMessages, deleteAll, listInboxes } from './api.js';
import { drawFavicon } from './favicon.js';
import { Notifier } from './notify.js';

/**
 * Parses the hash route.
 * @param {string} hash
 * @returns {{id: string, tab: string}|null} null for the list
 */
export function parseRoute(hash) {
  const m = /^#\/message\/([^/]+)(?:\/([a-z]*))?$/.exec(hash);
  if (!m) return null;
  try {
    return { id: decodeURIComponent(m[1]), tab: m[2] ?? '' };
  } catch {
    return null;
  }
}

function start() {
  registerMessageList();
  registerMessageView();
  registerChaosPanel();

  const list = /** @type {import('./components/message-list.js').MessageList} */ (document.querySelector('message-list'));
  const view = /** @type {import('./components/message-view.js').MessageView} */ (document.querySelector('message-view'));
  const search = /** @type {HTMLInputElement} */ (document.querySelector('#search'));
  const status = /** @type {HTMLElement} */ (document.querySelector('#live'));
  const counter = /** @type {HTMLElement} */ (document.querySelector('#count'));
  const notice = /** @type {HTMLElement} */ (document.querySelector('#notice'));
  const inboxSel = /** @type {HTMLSelectElement} */ (document.querySelector('#inbox'));
  const favicon = /** @type {HTMLLinkElement} */ (document.querySelector('#favicon'));
  const chaosPanel = /** @type {import('./components/chaos-panel.js').ChaosPanel} */ (document.querySelector('chaos-panel'));
  const chaosBanner = /** @type {HTMLElement} */ (document.querySelector('#chaos-banner'));
  const chaosLink = /** @type {HTMLElement} */ (document.querySelector('#chaos-link'));

  /** @param {string} msg */
  const fail = (msg) => {
    notice.textContent = msg;
    notice.hidden = !msg;
  };

  document.addEventListener('counts', (e) => {
    const { total, unread } = /** @type {CustomEvent} */ (e).detail;
    counter.textContent = `${total} messages, ${unread} unread`;
    document.title = unread ? `(${unread}) mailsink` : 'mailsink';
    if (favicon && favicon.dataset.unread !== String(unread)) {
      favicon.dataset.unread = String(unread);
      favicon.href = drawFavicon(unread);
    }
  });
  document.addEventListener('failure', (e) => fail(/** @type {CustomEvent} */ (e).detail.message));
  document.addEventListener('selection', (e) => {
    const n = /** @type {CustomEvent} */ (e).detail.ids.length;
    for (const b of document.querySelectorAll('[data-needs-selection]')) /** @type {HTMLButtonElement} */ (b).disabled = n === 0;
  });

  // The inbox switcher: option values are '*' (all) or '=' + the name.
  let inboxesPending = false;
  const loadInboxes = async () => {
    try {
      const inboxes = /** @type {{Name: string, Total: number, Unread: number}[]} */ (await listInboxes());
      const cur = inboxSel.value;
      const opts = [new Option('All inboxes', '*')];
      for (const ib of inboxes) {
        opts.push(new Option(`${ib.Name || 'default'} (${ib.Unread}/${ib.Total})`, `=${ib.Name}`));
      }
      if (cur !== '*' && !opts.some((o) => o.value === cur)) { // keep the chosen inbox even when empty
        opts.push(new Option(`${cur.slice(1) || 'default'} (0/0)`, cur));
      }
      inboxSel.replaceChildren(...opts);
      inboxSel.value = cur;
      inboxSel.dataset.loaded = 'true';
    } catch (err) {
      fail(String(err.message ?? err));
    }
  };
  // Coalesces a burst of events into at most two requests a second: each
  // one counts the whole store, and a burst brings hundreds of events.
  const refreshInboxes = () => {
    if (inboxesPending) return;
    inboxesPending = true;
    setTimeout(() => {
      inboxesPending = false;
      loadInboxes();
    }, 500);
  };
  inboxSel.addEventListener('change', () => {
    const v = inboxSel.value;
    list.setInbox(v === '*' ? null : v.slice(1));
  });

  // Chaos: the banner follows the state (fetched now, on every "chaos"
  // event and after a reconnect); the panel at #/chaos shares it.
  const chaos = new ChaosState();
  chaosPanel.attach(chaos);
  chaos.addEventListener('change', (e) => {
    const st = /** @type {CustomEvent} */ (e).detail;
    const active = String(!!st.Active);
    const summary = st.Active ? chaosSummary(st) : '';
    if (chaosBanner.dataset.active === active && chaosBanner.dataset.summary === summary) return; // no flicker on refreshes
    chaosBanner.dataset.active = active;
    chaosBanner.dataset.summary = summary;
    render(chaosBanner, st.Active
      ? html`<a class="chaos-on" href="#/chaos" title="The SMTP server fails on purpose. Open the chaos panel."><strong>Chaos on</strong>${summary ? html` <span class="chaos-summary">${summary}</span>` : ''}</a>`
      : html``);
  });

  const route = () => {
    const onChaos = location.hash === '#/chaos';
    document.body.classList.toggle('chaos', onChaos);
    if (onChaos) chaosLink.setAttribute('aria-current', 'page');
    else chaosLink.removeAttribute('aria-current');
    if (onChaos) {
      document.body.classList.remove('viewing');
      list.openID = '';
      view.clear();
      chaosPanel.open();
      return;
    }
    chaosPanel.close();
    const r = parseRoute(location.hash);
    document.body.classList.toggle('viewing', !!r);
    if (r) {
      list.openID = r.id;
      view.show(r.id, r.tab);
    } else {
      list.openID = '';
      view.clear();
    }
  };
  window.addEventListener('hashchange', route);

  document.querySelector('#search-form')?.addEventListener('submit', (e) => {
    e.preventDefault();
    if (location.hash === '#/chaos') location.hash = '#/';
    list.search(search.value);
  });
  search.addEventListener('search', () => { // the clear (×) button
    if (!search.value && list.query) list.search('');
  });

  /** @param {() => Promise<unknown>} fn */
  const act = async (fn) => {
    try {
      fail('');
      await fn();
    } catch (err) {
      fail(String(err.message ?? err));
    }
  };
  document.querySelector('#toolbar')?.addEventListener('click', (e) => {
    const b = /** @type {HTMLElement} */ (e.target).closest('button');
    const ids = list.checkedIDs;
    switch (b?.dataset.action) {
      case 'read': act(() => setRead(ids, true)); break;
      case 'unread': act(() => setRead(ids, false)); break;
      case 'delete': act(() => deleteMessages(ids)); break;
      case 'delete-all':
        if (window.confirm('Delete every message?')) act(() => deleteAll());
        break;
      case 'refresh': list.load(); break;
      default:
    }
  });

  document.addEventListener('keydown', (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const t = /** @type {HTMLElement} */ (e.target);
    const typing = (t instanceof HTMLInputElement && t.type !== 'checkbox' && t.type !== 'radio') ||
      t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement || t.isContentEditable;
    if (e.key === 'Escape') {
      if (typing) t.blur();
      else if (location.hash.startsWith('#/message/') || location.hash === '#/chaos') location.hash = '#/';
      return;
    }
    if (typing) return;
    if (location.hash === '#/chaos' && e.key !== '/') return; // the list's shortcuts act on a hidden list
    switch (e.key) {
      case 'Delete': {
        let ids = list.checkedIDs;
        if (!ids.length) ids = [view.messageID || list.cursorID].filter(Boolean);
        if (!ids.length) return;
        act(() => deleteMessages(ids));
        break;
      }
      case 'j': list.move(1); break;
      case 'k': list.move(-1); break;
      case 'Enter': {
        const id = list.cursorID;
        if (id && !(t instanceof HTMLAnchorElement || t instanceof HTMLButtonElement)) {
          location.hash = `#/message/${encodeURIComponent(id)}/`;
        } else return;
        break;
      }
      case '/': search.focus(); break;
      default: return;
    }
    e.preventDefault();
  });

  const notifier = new Notifier(/** @type {HTMLButtonElement} */ (document.querySelector('#notify')));
  const live = new Live();
  live.addEventListener('new', (e) => {
    list.onNew(/** @type {CustomEvent} */ (e).detail);
    notifier.onNew(/** @type {CustomEvent} */ (e).detail);
    refreshInboxes();
  });
  live.addEventListener('update', (e) => {
    list.onUpdate(/** @type {CustomEvent} */ (e).detail);
    refreshInboxes();
  });
  live.addEventListener('delete', (e) => {
    refreshInboxes();
    const d = /** @type {CustomEvent} */ (e).detail;
    list.onDelete(d);
    if (view.messageID && d.IDs?.includes(view.messageID)) location.hash = '#/';
  });
  live.addEventListener('truncate', () => {
    refreshInboxes();
    list.onTruncate();
    if (view.messageID) location.hash = '#/';
  });
  live.addEventListener('stats', (e) => list.onStats(/** @type {CustomEvent} */ (e).detail));
  live.addEventListener('reconnect', () => {
    list.load();
    refreshInboxes();
    chaos.refresh();
  });
  live.addEventListener('chaos', () => chaos.refresh());
  live.addEventListener('status', (e) => {
    const { connected: on, failures } = /** @type {CustomEvent} */ (e).detail;
    status.dataset.state = on ? 'on' : 'off';
    status.dataset.failures = String(failures);
    status.title = on ? 'Live: connected' : `Live: reconnecting… (${failures > 1 ? `${failures - 1} failed attempts` : 'connection lost'})`;
  });
  live.connect();

  list.load();
  loadInboxes();
  chaos.refresh();
  route();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
