// Drives the real mailpit-api client (npm, pinned in package-lock.json)
// against a running mailsink. client_test.go in the repository root starts
// the server and sets MAILSINK_HTTP, MAILSINK_SMTP_HOST and MAILSINK_SMTP_PORT.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MailpitClient } from 'mailpit-api';
import nodemailer from 'nodemailer';

const http = process.env.MAILSINK_HTTP;
const mailpit = new MailpitClient(http);
const smtp = nodemailer.createTransport({
  host: process.env.MAILSINK_SMTP_HOST,
  port: Number(process.env.MAILSINK_SMTP_PORT),
  secure: false,
  ignoreTLS: true,
});

const png = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP4z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==',
  'base64');

test('mailpit-api against mailsink', async (t) => {
  await mailpit.deleteMessages();
  let list = await mailpit.listMessages();
  assert.equal(list.total, 0);
  assert.deepEqual(list.messages, []);

  await t.test('SMTP delivery with nodemailer, then list/search/get', async () => {
    await smtp.sendMail({
      from: 'Ann Sender <ann@app.test>',
      to: 'Bob <bob@example.test>',
      cc: 'carol@example.test',
      bcc: 'dave@example.test',
      subject: 'Welcome to Grüße',
      text: 'Your code is 493817. Visit https://app.test/confirm?t=abc',
      html: '<p>Your code is <b>493817</b>. <a href="https://app.test/confirm?t=abc">Confirm</a><img src="cid:logo@app"></p>',
      attachments: [
        { filename: 'notes.txt', content: 'attached text\n' },
        { filename: 'logo.png', content: png, cid: 'logo@app' },
      ],
    });
    list = await mailpit.listMessages(0, 10);
    assert.equal(list.total, 1);
    assert.equal(list.messages_count, 1);
    const s = list.messages[0];
    assert.equal(s.Subject, 'Welcome to Grüße');
    assert.equal(s.From.Address, 'ann@app.test');
    assert.equal(s.From.Name, 'Ann Sender');
    assert.equal(s.To[0].Address, 'bob@example.test');
    assert.equal(s.Read, false);

    const found = await mailpit.searchMessages({ query: 'subject:Welcome' });
    assert.equal(found.messages_count, 1);
    assert.equal(found.messages[0].ID, s.ID);

    const m = await mailpit.getMessageSummary(s.ID);
    assert.equal(m.ID, s.ID);
    assert.equal(m.ReturnPath, 'ann@app.test');
    assert.equal(m.Cc[0].Address, 'carol@example.test');
    assert.deepEqual(m.Bcc.map((a) => a.Address), ['dave@example.test']);
    assert.match(m.Text, /493817/);
    assert.match(m.HTML, /Confirm/);
    assert.equal(m.Attachments.length, 1);
    assert.equal(m.Attachments[0].FileName, 'notes.txt');
    assert.equal(m.Inline.length, 1);
    assert.equal(m.Inline[0].ContentID, 'logo@app');

    const latest = await mailpit.getMessageSummary();
    assert.equal(latest.ID, s.ID, 'latest is the newest message');

    const headers = await mailpit.getMessageHeaders(s.ID);
    assert.ok(Array.isArray(headers.Subject));
    assert.ok(headers.Received.length >= 1, 'our Received header is listed');

    const source = await mailpit.getMessageSource(s.ID);
    assert.match(source, /^Return-Path: <ann@app.test>\r\nReceived: from /);
    assert.equal(Buffer.byteLength(source), m.Size);

    const att = await mailpit.getMessageAttachment(s.ID, m.Attachments[0].PartID);
    assert.equal(await att.text(), 'attached text\n');
    assert.match(att.type, /^text\/plain/);

    const thumb = await mailpit.getAttachmentThumbnail(s.ID, m.Inline[0].PartID);
    assert.equal(thumb.type, 'image/jpeg');
    assert.ok(thumb.size > 100);

    const html = await mailpit.renderMessageHTML(s.ID);
    assert.match(html, /Confirm/);
    assert.match(html, new RegExp(`/api/v1/message/${s.ID}/part/`), 'cid: rewritten');
    const text = await mailpit.renderMessageText(s.ID);
    assert.match(text, /493817/);
  });

  await t.test('read status', async () => {
    await mailpit.setReadStatus({ IDs: [], Read: true });
    list = await mailpit.listMessages();
    assert.equal(list.unread, 0);
    await mailpit.setReadStatus({ Search: 'subject:Welcome', Read: false });
    list = await mailpit.listMessages();
    assert.equal(list.unread, 1);
  });

  await t.test('send API, tags', async () => {
    const sent = await mailpit.sendMessage({
      From: { Email: 'api@app.test', Name: 'API' },
      To: [{ Email: 'eve@example.test' }],
      Subject: 'Injected',
      Text: 'from the API',
      Tags: ['alpha'],
      Attachments: [{ Filename: 'a.txt', Content: Buffer.from('AAA').toString('base64') }],
    });
    assert.equal(typeof sent.ID, 'string');
    const m = await mailpit.getMessageSummary(sent.ID);
    assert.equal(m.Subject, 'Injected');
    assert.deepEqual(m.Tags, ['alpha']);

    await mailpit.setTags({ IDs: [sent.ID], Tags: ['beta', 'gamma'] });
    assert.deepEqual((await mailpit.getTags()).sort(), ['beta', 'gamma']);
    await mailpit.renameTag('beta', 'delta');
    assert.deepEqual((await mailpit.getTags()).sort(), ['delta', 'gamma']);
    await mailpit.deleteTag('gamma');
    assert.deepEqual(await mailpit.getTags(), ['delta']);
    const tagged = await mailpit.searchMessages({ query: 'tag:delta' });
    assert.equal(tagged.messages_count, 1);
  });

  await t.test('wait helpers, info, configuration', async () => {
    const pending = mailpit.waitForMessage({ query: 'subject:Later' }, { timeout: 5000, interval: 100 });
    await smtp.sendMail({ from: 'x@app.test', to: 'y@example.test', subject: 'Later', text: 'x' });
    const later = await pending;
    assert.equal(later.Subject, 'Later');
    const all = await mailpit.waitForMessages({ count: 3 }, { timeout: 2000 });
    assert.equal(all.messages_count, 3);

    const info = await mailpit.getInfo();
    assert.equal(info.Messages, 3);
    assert.equal(typeof info.Version, 'string');
    const cfg = await mailpit.getConfiguration();
    assert.equal(typeof cfg.MessageRelay.Enabled, 'boolean');
  });

  await t.test('link check, release and SpamAssassin as Mailpit has them with relay and SpamAssassin off', async () => {
    const sent = await mailpit.sendMessage({
      From: { Email: 'links@app.test' }, To: [{ Email: 'z@example.test' }], Subject: 'Links',
      HTML: `<a href="${http}/livez">alive</a> <a href="http://127.0.0.1:1/">dead</a>`,
    });
    const check = await mailpit.linkCheck(sent.ID);
    assert.equal(check.Links.length, 2);
    assert.equal(check.Links.find((l) => l.URL.endsWith('/livez')).StatusCode, 200);
    assert.equal(check.Errors, 1);
    await assert.rejects(mailpit.releaseMessage(sent.ID, { To: ['x@example.test'] }));
    await assert.rejects(mailpit.spamAssassinCheck(sent.ID));
    await mailpit.deleteMessages({ IDs: [sent.ID] });
  });

  await t.test('htmlCheck', async () => {
    const sent = await mailpit.sendMessage({
      From: { Email: 'html@app.test' }, To: [{ Email: 'z@example.test' }], Subject: 'HTML check',
      HTML: '<style>a:hover { color: red }</style><div style="display:flex"><video src="v.mp4"></video></div>',
    });
    const check = await mailpit.htmlCheck(sent.ID);
    assert.ok(check.Platforms.windows.includes('Outlook'));
    for (const k of ['Nodes', 'Tests', 'Supported', 'Partial', 'Unsupported']) {
      assert.equal(typeof check.Total[k], 'number', `Total.${k}`);
    }
    // div and video; a leading <style> goes to <head>, which Mailpit does not count.
    assert.equal(check.Total.Nodes, 2);
    assert.ok(check.Total.Unsupported > 0);
    const slugs = check.Warnings.map((w) => w.Slug);
    for (const slug of ['css-display-flex', 'html-video', 'css-pseudo-class-hover']) {
      assert.ok(slugs.includes(slug), `${slug} in ${slugs}`);
    }
    const flex = check.Warnings.find((w) => w.Slug === 'css-display-flex');
    assert.equal(flex.Category, 'css');
    assert.equal(flex.Score.Found, 1);
    assert.equal(flex.Results.find((r) => r.Family === 'outlook' && r.Platform === 'windows').Support, 'no');
    for (const w of check.Warnings) {
      assert.ok(['css', 'html'].includes(w.Category));
      assert.ok(Array.isArray(w.Tags) && typeof w.NotesByNumber === 'object');
      for (const r of w.Results) assert.ok(['yes', 'no', 'partial'].includes(r.Support));
    }
    const latest = await mailpit.htmlCheck();
    assert.deepEqual(latest.Warnings.map((w) => w.Slug), slugs);
    await mailpit.deleteMessages({ IDs: [sent.ID] });
    await assert.rejects(mailpit.htmlCheck(sent.ID));
  });

  await t.test('chaos triggers make SMTP fail, and reset', async () => {
    let triggers = await mailpit.getChaosTriggers();
    assert.deepEqual(triggers.Sender, { ErrorCode: 451, Probability: 0 });
    assert.deepEqual(triggers.Authentication, { ErrorCode: 535, Probability: 0 });
    triggers = await mailpit.setChaosTriggers({ Recipient: { ErrorCode: 550, Probability: 100 } });
    assert.deepEqual(triggers.Recipient, { ErrorCode: 550, Probability: 100 });
    assert.deepEqual(triggers.Sender, { ErrorCode: 451, Probability: 0 });
    const before = (await mailpit.listMessages()).total;
    await assert.rejects(
      smtp.sendMail({ from: 'ann@app.test', to: 'bob@example.test', subject: 'Chaos', text: 'x' }),
      (err) => err.responseCode === 550);
    assert.equal((await mailpit.listMessages()).total, before);
    // Omitted triggers reset: an empty request turns everything off.
    triggers = await mailpit.setChaosTriggers();
    assert.equal(triggers.Recipient.Probability, 0);
    await smtp.sendMail({ from: 'ann@app.test', to: 'bob@example.test', subject: 'After chaos', text: 'x' });
    assert.equal((await mailpit.listMessages()).total, before + 1);
    assert.equal((await mailpit.getConfiguration()).ChaosEnabled, true); // the chaos API is available
    await mailpit.deleteMessagesBySearch({ query: 'subject:"After chaos"' });
    assert.equal((await mailpit.listMessages()).total, before);
  });

  await t.test('delete by search, by IDs, all', async () => {
    await mailpit.deleteMessagesBySearch({ query: 'subject:Later' });
    list = await mailpit.listMessages();
    assert.equal(list.total, 2);
    await mailpit.deleteMessages({ IDs: [list.messages[0].ID] });
    assert.equal((await mailpit.listMessages()).total, 1);
    await mailpit.deleteMessages();
    assert.equal((await mailpit.listMessages()).total, 0);
  });
});
