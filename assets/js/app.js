// A minimal inbox list over the JSON API. The full UI comes with the web UI
// issue; untrusted text only ever enters the DOM through textContent.

/** @param {{Name: string, Address: string}|null} a */
function addr(a) {
  if (!a) return '';
  return a.Name ? `${a.Name} <${a.Address}>` : a.Address;
}

/** @param {string} text @param {string} [href] */
function cell(text, href) {
  const td = document.createElement('td');
  if (href) {
    const link = document.createElement('a');
    link.href = href;
    link.textContent = text;
    td.append(link);
  } else {
    td.textContent = text;
  }
  return td;
}

async function refresh() {
  const res = await fetch('api/v1/messages?start=0&limit=100');
  if (!res.ok) throw new Error(`list: ${res.status}`);
  const data = await res.json();
  const body = document.querySelector('#list tbody');
  body.replaceChildren(...data.messages.map((m) => {
    const tr = document.createElement('tr');
    if (!m.Read) tr.className = 'unread';
    tr.append(
      cell(addr(m.From)),
      cell(m.To.map(addr).join(', ')),
      cell(m.Subject || '(no subject)', `api/v1/message/${encodeURIComponent(m.ID)}/raw`),
      cell(new Date(m.Created).toLocaleString()),
      cell(`${m.Size} B`),
    );
    tr.lastChild.className = 'size';
    return tr;
  }));
  document.querySelector('#empty').hidden = data.messages.length > 0;
  document.querySelector('#count').textContent = `${data.total} messages, ${data.unread} unread`;
  document.title = data.unread ? `(${data.unread}) mailsink` : 'mailsink';
}

document.addEventListener('DOMContentLoaded', () => {
  document.querySelector('#refresh').addEventListener('click', () => refresh());
  refresh();
});
