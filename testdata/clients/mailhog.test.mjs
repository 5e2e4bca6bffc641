// Drives the real mailhog npm client against a running mailsink (see
// mailpit.test.mjs for how the server is found).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import mailhogClient from 'mailhog';
import nodemailer from 'nodemailer';

const url = new URL(process.env.MAILSINK_HTTP);
const mailhog = mailhogClient({ host: url.hostname, port: Number(url.port) });
const smtp = nodemailer.createTransport({
  host: process.env.MAILSINK_SMTP_HOST,
  port: Number(process.env.MAILSINK_SMTP_PORT),
  secure: false,
  ignoreTLS: true,
});

test('mailhog client against mailsink', async () => {
  const cleared = await mailhog.deleteAll();
  assert.equal(cleared.statusCode, 200);

  await smtp.sendMail({ from: 'hog@app.test', to: 'pig@example.test', subject: 'Oink', text: 'muddy' });
  await smtp.sendMail({
    from: 'Grüße <other@app.test>', to: 'cow@example.test', subject: 'Grüße', text: 'plain body',
    html: '<p>html body</p>', attachments: [{ filename: 'farm.txt', content: 'hay' }],
  });

  const all = await mailhog.messages();
  assert.equal(all.total, 2);
  assert.equal(all.count, 2);
  assert.equal(all.items[0].subject, 'Grüße', 'newest first, subject decoded by the client');
  assert.equal(all.items[1].subject, 'Oink');
  assert.equal(all.items[1].text.trim(), 'muddy');
  assert.equal(all.items[1].from, 'hog@app.test');
  assert.equal(all.items[1].to, 'pig@example.test');
  assert.ok(all.items[1].deliveryDate instanceof Date && !isNaN(all.items[1].deliveryDate));

  const limited = await mailhog.messages(0, 1);
  assert.equal(limited.count, 1);
  assert.equal(limited.total, 2);

  const byFrom = await mailhog.search('hog@app.test', 'from');
  assert.equal(byFrom.total, 1);
  assert.equal(byFrom.items[0].subject, 'Oink');
  const byTo = await mailhog.search('cow@example.test', 'to');
  assert.equal(byTo.total, 1);
  const containing = await mailhog.search('muddy');
  assert.equal(containing.total, 1);

  assert.equal((await mailhog.latestFrom('hog@app.test')).subject, 'Oink');
  assert.equal((await mailhog.latestTo('cow@example.test')).subject, 'Grüße');
  assert.equal((await mailhog.latestContaining('muddy')).subject, 'Oink');
  assert.equal(await mailhog.latestContaining('nothing-matches-this'), 0);

  assert.equal(mailhog.decode(mailhog.encode('Grüße', 'quoted-printable'), 'quoted-printable'), 'Grüße');

  const gone = await mailhog.deleteMessage(byFrom.items[0].ID);
  assert.equal(gone.statusCode, 200);
  assert.equal((await mailhog.messages()).total, 1);
  await mailhog.deleteAll();
  assert.equal((await mailhog.messages()).total, 0);
});
