// End-to-end: a rehearsal's breaks and a host who runs the room, in Debian's chromium against the
// real jamd binary. The guest's page reaches jamd through a proxy the test can cut, as Wi-Fi
// does: silently (bytes stop, no close) or by closing every connection.
import assert from 'node:assert/strict';
import { createConnection, createServer } from 'node:net';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium } from 'playwright-core';
import { checkChromium, chromiumArgs, chromiumPath, freePort, Jamd, jamdBinary, tempDir, waitFor } from './jamd.mjs';

const GRACE_S = 2;

/** A TCP proxy on 127.0.0.1 whose connections can be cut silently or closed, and that can refuse new ones. */
async function cuttableProxy(targetPort) {
  const conns = new Set();
  let refusing = false;
  const server = createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = createConnection({ host: '127.0.0.1', port: targetPort });
    const c = { client, upstream, silent: false };
    conns.add(c);
    client.on('data', (b) => c.silent || upstream.write(b));
    upstream.on('data', (b) => c.silent || client.write(b));
    const end = () => {
      conns.delete(c);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    port: server.address().port,
    /** Every open connection stops carrying bytes, in both directions, and stays open. */
    cutSilently: () => conns.forEach((c) => (c.silent = true)),
    /** Every open connection is closed, and new ones are refused until `accept()`. */
    goAway: () => {
      refusing = true;
      conns.forEach((c) => c.client.destroy());
    },
    accept: () => (refusing = false),
    close: () => new Promise((ok) => (conns.forEach((c) => c.client.destroy()), server.close(ok))),
  };
}

/** Bo's row in a page's Users tab: {id, presence, text}. */
const row = (page, name) =>
  page.locator('[data-testid=users] li').evaluateAll(
    (els, name) =>
      els
        .map((e) => ({ id: e.dataset.userId, presence: e.dataset.presence, text: e.textContent }))
        .find((r) => r.text.includes(name)) ?? null,
    name,
  );

describe('a rehearsal with breaks', { timeout: 180_000 }, () => {
  let tmp, jamd, proxy, browser, host, guest, code, boId;
  const errors = [];

  before(async () => {
    checkChromium();
    tmp = tempDir('jamd-e2e-rehearsal-');
    jamd = new Jamd(jamdBinary(tmp), await freePort(), join(tmp, 'data'), ['--reconnect-grace', `${GRACE_S}s`]);
    await jamd.start();
    proxy = await cuttableProxy(jamd.port);
    browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, headless: true, timeout: 30_000 });
    const open = async (label) => {
      const page = await (await browser.newContext({ viewport: { width: 390, height: 844 } })).newPage();
      page.setDefaultTimeout(10_000);
      page.on('pageerror', (e) => errors.push(`${label}: ${e.message}`));
      return page;
    };
    host = await open('host');
    guest = await open('guest');
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await proxy?.close();
    await jamd?.stop().catch(() => {});
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test('host and guest (through the proxy) are in one room', async () => {
    await host.goto(`${jamd.base}/jam`);
    await host.getByLabel('Your name').fill('Ana');
    await host.getByRole('button', { name: 'Create session' }).click();
    await host.waitForURL(/\/jam\/[A-Z0-9]{6}$/);
    code = host.url().split('/').pop();
    await guest.goto(`http://127.0.0.1:${proxy.port}/jam/${code}`);
    await guest.getByLabel('Your name').fill('Bo');
    await guest.getByRole('button', { name: 'Join', exact: true }).click();
    await guest.getByTestId('room-code').waitFor();
    await host.getByRole('tab', { name: /Users/ }).click();
    const bo = await waitFor(() => row(host, 'Bo'), 5000, 'Bo listed');
    boId = bo.id;
    assert.equal(bo.presence, 'connected');
  });

  test('a socket cut silently comes back by itself, in the same seat', async () => {
    proxy.cutSilently();
    // The page notices the silence (its pings go unanswered), reconnects through the proxy, and
    // resumes: nobody clicks anything.
    await waitFor(async () => /Reconnecting|Connecting/i.test(await guest.getByTestId('conn-status').innerText()), 10_000, 'the guest noticing');
    await waitFor(async () => /Connected/.test(await guest.getByTestId('conn-status').innerText()), 15_000, 'the guest back');
    const bo = await waitFor(async () => {
      const r = await row(host, 'Bo');
      return r?.presence === 'connected' && r;
    }, 15_000, 'Bo connected again on the host');
    assert.equal(bo.id, boId, 'Bo came back in the same seat');
    assert.equal(await host.locator('[data-testid=users] li').count(), 2);
  });

  test('a locked-screen break longer than the grace resumes the seat', async () => {
    // The screen locks: the phone's socket goes, and nothing gets through until it is unlocked.
    proxy.goAway();
    await waitFor(async () => (await row(host, 'Bo'))?.presence === 'away', 20_000, 'Bo away on the host');
    assert.match((await row(host, 'Bo')).text, /away since/);
    await new Promise((r) => setTimeout(r, 1000));
    // Unlocked: the network is back and the page is shown again (the app listens for that).
    proxy.accept();
    await guest.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
    const bo = await waitFor(async () => {
      const r = await row(host, 'Bo');
      return r?.presence === 'connected' && r;
    }, 20_000, 'Bo back after the break');
    assert.equal(bo.id, boId, 'Bo came back in the same seat');
    await waitFor(async () => /Connected/.test(await guest.getByTestId('conn-status').innerText()), 10_000, 'the guest connected');
  });

  test('a locked room takes whoever has the shared link, not whoever has the code', async () => {
    // The box, not the click, sets the checkbox: click, then wait for the box's answer.
    const lock = host.getByLabel('Lock the room: nobody new can join');
    await lock.click();
    await waitFor(() => lock.isChecked(), 5000, 'the room locked');
    await host.getByRole('tab', { name: 'Share' }).click();
    const link = await host.getByLabel('Join link').inputValue();
    await host.getByRole('tab', { name: /Users/ }).click();
    const open = async (url, name) => {
      const page = await (await browser.newContext()).newPage();
      page.on('pageerror', (e) => errors.push(`${name}: ${e.message}`));
      await page.goto(url);
      await page.getByLabel('Your name').fill(name);
      await page.getByRole('button', { name: 'Join', exact: true }).click();
      return page;
    };
    const stranger = await open(`${jamd.base}/jam/${code}`, 'Stranger');
    await stranger.getByText('This session is locked').waitFor({ timeout: 5000 });
    const friend = await open(link, 'Friend');
    await friend.getByTestId('room-code').waitFor({ timeout: 5000 });
    await waitFor(async () => (await row(host, 'Friend'))?.presence === 'connected', 5000, 'Friend in the list');
    await friend.getByRole('button', { name: 'Leave session' }).click();
    await lock.click();
    await waitFor(async () => !(await lock.isChecked()), 5000, 'the room unlocked');
  });

  test('the host removes the guest, and the guest is told in words', async () => {
    await host.getByRole('button', { name: 'Remove Bo' }).click();
    await host.getByRole('button', { name: 'Yes, remove' }).click();
    await waitFor(async () => (await row(host, 'Bo')) === null, 5000, 'Bo gone from the list');
    await guest.getByTestId('removed').waitFor({ timeout: 5000 });
    assert.match(await guest.getByTestId('removed').innerText(), /host removed you/i);
    // A reload does not quietly join again with the remembered name: it still says why.
    await guest.reload();
    await guest.getByTestId('removed').waitFor({ timeout: 5000 });
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await row(host, 'Bo'), null);
    assert.deepEqual(errors, []);
  });
});
