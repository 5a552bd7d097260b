// End-to-end: two (and more) browser contexts in Debian's chromium against the real jamd binary
// on a loopback port. Run with `npm run e2e`; JAMD_BIN reuses a built binary.
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium } from 'playwright-core';
import { checkChromium, chromiumArgs, chromiumPath, freePort, Jamd, jamdBinary, tempDir, waitFor } from './jamd.mjs';

// qrLoaded: run in the page on an <img>: it has loaded (a tab just shown may still be fetching it).
const qrLoaded = (img) => img.complete && img.naturalWidth > 0;

const OUT = resolve(import.meta.dirname, '..', 'e2e-output');
const SYNC_MS = 1000; // "shows in the other within a second"
const PHONE = { width: 390, height: 844 };
const SMALL = { width: 360, height: 640 };

let tmp, jamd, browser;
const pages = new Map(); // label → { page, errors }
/** Messages the browser itself logs while the box is down on purpose (kill -9 scenario). */
let outage = false;
let outageNoise = 0;
const OUTAGE_NOISE = /WebSocket connection to 'ws:\/\/127\.0\.0\.1:\d+\/ws' failed|net::ERR_CONNECTION_REFUSED/;

async function newPage(label, viewport) {
  const ctx = await browser.newContext({ viewport, deviceScaleFactor: 1, hasTouch: true, isMobile: false });
  const page = await ctx.newPage();
  page.setDefaultTimeout(10_000);
  const errors = [];
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    if (outage && OUTAGE_NOISE.test(m.text())) {
      outageNoise++;
      return;
    }
    errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  pages.set(label, { page, errors, ctx });
  return page;
}

function assertNoErrors() {
  for (const [label, { errors }] of pages) assert.deepEqual(errors, [], `${label} logged errors`);
}

async function shot(page, name, { full = false } = {}) {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(OUT, `${name}.png`), fullPage: false });
  if (full) await page.screenshot({ path: join(OUT, `${name}-full.png`), fullPage: true });
}

/** The horizontal scroll a page would have (must be 0: mobile first). */
async function overflowX(page) {
  return page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
}

const users = (page) => page.locator('[data-testid=users] .user-name');
const userIds = (page) => page.locator('[data-testid=users] li').evaluateAll((els) => els.map((e) => e.getAttribute('data-user-id')));
const tab = (page, name) => page.getByRole('tab', { name });
const status = (page) => page.getByTestId('conn-status');

async function expectText(locator, re, timeout = SYNC_MS) {
  await locator.filter({ hasText: re }).first().waitFor({ timeout });
}

describe('jamd web app', { timeout: 240_000 }, () => {
  let host, guest, url, code;

  before(async () => {
    checkChromium();
    rmSync(OUT, { recursive: true, force: true });
    mkdirSync(OUT, { recursive: true });
    tmp = tempDir('jamd-e2e-');
    const bin = jamdBinary(tmp);
    jamd = new Jamd(bin, await freePort(), join(tmp, 'data'));
    await jamd.start();
    browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, headless: true, timeout: 30_000 });
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await jamd?.stop().catch(() => {});
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test('lobby renders at phone sizes without horizontal scroll', async () => {
    for (const [vp, name] of [
      [SMALL, 'lobby-360x640'],
      [PHONE, 'lobby-390x844'],
    ]) {
      const p = await newPage(name, vp);
      await p.goto(`${jamd.base}/jam`);
      await p.getByRole('button', { name: 'Create session' }).waitFor();
      await p.getByLabel('Your name').waitFor();
      await p.getByLabel('Room code').waitFor();
      await p.getByRole('button', { name: 'Join', exact: true }).waitFor();
      assert.equal(await overflowX(p), 0, `${name} scrolls sideways`);
      await shot(p, name);
      await pages.get(name).ctx.close();
    }
    assertNoErrors();
  });

  test('create: the room code shows', async () => {
    host = await newPage('host', PHONE);
    await host.goto(`${jamd.base}/`);
    await host.waitForURL(/\/jam$/);
    await host.getByLabel('Your name').fill('Ana');
    await host.getByRole('button', { name: 'Create session' }).click();
    await host.waitForURL(/\/jam\/[A-Z0-9]{6}$/, { timeout: 5000 });
    code = host.url().split('/').pop();
    assert.equal(await host.getByTestId('room-code').innerText(), code);
    await expectText(status(host), /Connected/, 5000);
    url = `${jamd.base}/jam/${code}`;
    // The name is remembered on this device.
    assert.equal(await host.evaluate(() => localStorage.getItem('jamd.name')), 'Ana');
    assertNoErrors();
  });

  test('a second browser opens the share link, names itself and joins', async () => {
    guest = await newPage('guest', SMALL);
    await guest.goto(url);
    await guest.getByLabel('Your name').waitFor();
    await shot(guest, 'join-360x640');
    await guest.getByLabel('Your name').fill('Bo');
    await guest.getByRole('button', { name: 'Join', exact: true }).click();
    await guest.getByTestId('room-code').waitFor({ timeout: 5000 });
    assert.equal(await guest.getByTestId('room-code').innerText(), code);

    for (const p of [host, guest]) {
      await tab(p, /Users/).click();
      await waitFor(async () => (await users(p).allInnerTexts()).join(',') === 'Ana,Bo', 3000, 'both users listed');
    }
    await expectText(host.locator('.user'), /Ana.*Host/s);
    await expectText(guest.locator('.user'), /Bo\s*\(you\)/);
    await expectText(guest.locator('.user-meta'), /joined just now/);

    // Share tab: link, QR, copy.
    await tab(host, 'Share').click();
    // The link carries the room's join key after the #, for locked rooms.
    assert.match(await host.getByLabel('Join link').inputValue(), new RegExp(`^${url}#[A-Za-z0-9_-]{20,}$`));
    await waitFor(() => host.locator('img.qr').evaluate(qrLoaded), 5000, 'QR image loads');
    await host.getByRole('button', { name: 'Copy link' }).click();
    await expectText(host.locator('.share .hint'), /copied|selected/i, 2000);
    assert.equal(await host.getByTestId('wifi').count(), 0, 'no Wi-Fi code while jamd has no hotspot of its own');

    await shot(host, 'session-share-390x844');
    await tab(guest, 'Users').click();
    await shot(guest, 'session-users-360x640');
    for (const p of [host, guest]) await tab(p, 'Beat').click();
    for (const p of [host, guest]) assert.equal(await overflowX(p), 0, 'session scrolls sideways');
    assertNoErrors();
  });

  test("with jamd's own hotspot up, the Share tab shows its Wi-Fi code first, then the jam's", async () => {
    // What `jamd hotspot up` writes: the state file (the box's address on the hotspot; this
    // jamd listens on 127.0.0.1, which is on lo) and the password. serve looks every 2 s.
    const ssid = 'Jam; on "stage"';
    const password = 'k7m2-qx4p-9tbd';
    writeFileSync(join(jamd.dataDir, 'hotspot-password'), `${password}\n`, { mode: 0o600 });
    writeFileSync(join(jamd.dataDir, 'hotspot.json'), JSON.stringify({ ssid, interface: 'wlan0', address: '127.0.0.1', onBoot: false }), { mode: 0o600 });
    await waitFor(async () => (await (await fetch(`${jamd.base}/api/hotspot`)).json()).up === true, 5000, 'jamd sees its hotspot');
    await tab(guest, 'Beat').click();
    await tab(guest, 'Share').click();
    const wifi = guest.getByTestId('wifi');
    await wifi.waitFor({ timeout: 3000 });
    await expectText(wifi, new RegExp(`Network ${ssid.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}, password ${password}`));
    const [wifiBox, jamBox] = await Promise.all([wifi.locator('img.qr').boundingBox(), guest.locator('.share > img.qr').boundingBox()]);
    assert.ok(wifiBox && jamBox && wifiBox.y < jamBox.y, 'the Wi-Fi code comes before the jam code');
    await waitFor(() => wifi.locator('img.qr').evaluate(qrLoaded), 5000, 'Wi-Fi QR image loads');
    await expectText(guest.locator('.share .hint'), /Or type http:\/\/jam\/ in the browser/);
    await shot(guest, 'session-share-hotspot-360x640', { full: true });
    assert.equal(await overflowX(guest), 0, 'share tab scrolls sideways');

    // Down again (jamd hotspot down removes the state file): the code is gone.
    rmSync(join(jamd.dataDir, 'hotspot.json'));
    await waitFor(async () => (await (await fetch(`${jamd.base}/api/hotspot`)).json()).up === false, 5000, 'jamd sees its hotspot down');
    await tab(guest, 'Beat').click();
    await tab(guest, 'Share').click();
    await guest.locator('.share').waitFor();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await guest.getByTestId('wifi').count(), 0, 'no Wi-Fi code once the hotspot is down');
    await tab(guest, 'Beat').click();
    assertNoErrors();
  });

  test('tempo, key and step changes show in the other browser within a second', async () => {
    await host.getByLabel('Tempo (BPM)').fill('96');
    await host.getByLabel('Tempo (BPM)').press('Enter');
    await waitFor(async () => (await guest.getByLabel('Tempo (BPM)').inputValue()) === '96', SYNC_MS, 'tempo 96 on guest');

    await guest.getByRole('button', { name: /Faster/ }).click();
    await waitFor(async () => (await host.getByLabel('Tempo (BPM)').inputValue()) === '97', SYNC_MS, 'tempo 97 on host');

    await guest.getByLabel('Key').selectOption('F#');
    await waitFor(async () => (await host.getByLabel('Key').inputValue()) === 'F#', SYNC_MS, 'key F# on host');
    await host.getByLabel('Scale').selectOption('dorian');
    await waitFor(async () => (await guest.getByLabel('Scale').inputValue()) === 'dorian', SYNC_MS, 'dorian on guest');

    await guest.getByRole('button', { name: 'Kick step 1', exact: true }).click();
    await waitFor(
      async () => (await host.getByRole('button', { name: 'Kick step 1', exact: true }).getAttribute('aria-pressed')) === 'true',
      SYNC_MS,
      'kick 1 on host',
    );
    for (const name of ['Snare step 5', 'Hi-hat step 3', 'Clap step 13', 'Snare step 13']) {
      await host.getByRole('button', { name, exact: true }).click();
    }
    await waitFor(
      async () => (await guest.getByRole('button', { name: 'Clap step 13', exact: true }).getAttribute('aria-pressed')) === 'true',
      SYNC_MS,
      'clap 13 on guest',
    );
    assert.equal(await guest.getByRole('button', { name: 'Snare step 5', exact: true }).getAttribute('aria-pressed'), 'true');
    // Toggle off again.
    await guest.getByRole('button', { name: 'Snare step 13', exact: true }).click();
    await waitFor(
      async () => (await host.getByRole('button', { name: 'Snare step 13', exact: true }).getAttribute('aria-pressed')) === 'false',
      SYNC_MS,
      'snare 13 off on host',
    );
    assertNoErrors();
  });

  test("play/stop: the host's shows on the guest; the guest's Play is disabled with a reason", async () => {
    const guestPlay = guest.getByRole('button', { name: 'Play', exact: true });
    assert.equal(await guestPlay.isDisabled(), true);
    await expectText(guest.locator('.why'), /Only the host, Ana, can start and stop/);
    // The reason is on screen and is the button's description; pressing it anyway starts nothing.
    assert.equal(await guest.locator('.why').isVisible(), true);
    const why = await guestPlay.getAttribute('aria-describedby');
    assert.match(await guest.locator(`[id="${why}"]`).innerText(), /Only the host/);
    await guestPlay.click({ force: true });
    await new Promise((r) => setTimeout(r, 300));
    for (const p of [host, guest]) assert.equal(await p.locator('.playing-flag').innerText(), 'Stopped');

    await host.getByRole('button', { name: 'Play', exact: true }).click();
    await guest.getByRole('button', { name: 'Stop', exact: true }).waitFor({ timeout: SYNC_MS });
    assert.equal(await guest.getByRole('button', { name: 'Stop', exact: true }).isDisabled(), true);
    // The playing step is highlighted on both devices, and moves.
    for (const p of [host, guest]) await p.locator('.grid-row[data-playing]').waitFor({ timeout: 2000 });
    const a = await guest.locator('.grid-row[data-playing]').getAttribute('aria-label');
    await waitFor(async () => (await guest.locator('.grid-row[data-playing]').getAttribute('aria-label')) !== a, 2000, 'step moves');
    // …and it is the same step on both at the same moment (±1 at a step boundary).
    const playingStep = (p) =>
      p.evaluate(() => Number(document.querySelector('.grid-row[data-playing]')?.getAttribute('aria-label')?.replace('Step ', '')));
    const seen = [];
    for (let i = 0; i < 6; i++) {
      const [h, g] = await Promise.all([playingStep(host), playingStep(guest)]);
      seen.push(`${h}/${g}`);
      const apart = (((h - g) % 16) + 16) % 16;
      assert.ok(apart <= 1 || apart === 15, `host highlights step ${h}, guest step ${g} (samples: ${seen.join(' ')})`);
      await new Promise((r) => setTimeout(r, 230));
    }
    assert.ok(new Set(seen).size > 1, `the highlight moves while sampled: ${seen.join(' ')}`);
    // Mute is per device, named by what it does.
    await guest.getByRole('button', { name: 'Mute', exact: true }).click();
    await guest.getByRole('button', { name: 'Unmute', exact: true }).click();
    await guest.getByRole('button', { name: 'Mute', exact: true }).waitFor();
    await shot(host, 'session-playing-390x844', { full: true });
    await shot(guest, 'session-playing-360x640', { full: true });

    await host.getByRole('button', { name: 'Stop', exact: true }).click();
    await guest.getByRole('button', { name: 'Play', exact: true }).waitFor({ timeout: SYNC_MS });
    await guest.locator('.grid-row[data-playing]').waitFor({ state: 'detached', timeout: SYNC_MS });
    assertNoErrors();
  });

  test('reload resumes the same seat', async () => {
    await tab(host, /Users/).click();
    const before = await userIds(host);
    assert.equal(before.length, 2);
    await guest.reload();
    await guest.getByTestId('room-code').waitFor({ timeout: 5000 });
    await expectText(status(guest), /Connected/, 5000);
    await tab(guest, /Users/).click();
    await waitFor(async () => (await users(guest).allInnerTexts()).join(',') === 'Ana,Bo', 3000, 'guest list after reload');
    await expectText(guest.locator('.user'), /Bo\s*\(you\)/);
    // Same participant ids, no duplicate, and Bo is back to connected.
    await waitFor(async () => JSON.stringify(await userIds(host)) === JSON.stringify(before), 3000, 'same ids on host');
    assert.deepEqual(await userIds(guest), before);
    await waitFor(async () => (await host.locator('.user').nth(1).locator('.dot.connected').count()) === 1, 3000, 'Bo connected');
    // History: the host came from the lobby; back keeps the seat, forward returns to the room.
    await host.goBack({ waitUntil: 'commit' });
    await host.waitForURL(/\/jam$/, { waitUntil: 'commit' });
    await expectText(host.locator('.banner'), new RegExp(`You are in room\\s*${code}`), 2000);
    await host.goForward({ waitUntil: 'commit' });
    await host.getByTestId('room-code').waitFor({ timeout: 2000 });
    await expectText(status(host), /Connected/, 2000);
    assertNoErrors();
  });

  test('kill -9 and restart jamd: both reconnect by themselves, state intact', async () => {
    await tab(host, 'Beat').click();
    await tab(guest, 'Beat').click();
    outage = true;
    await jamd.kill9();
    for (const p of [host, guest]) await expectText(status(p), /Reconnecting|Offline/, 5000);
    await shot(guest, 'session-reconnecting-360x640');
    // A change made while the box is down is queued, visibly.
    await guest.getByRole('button', { name: 'Hi-hat step 16', exact: true }).click();
    await expectText(guest.locator('.queued'), /1 change waiting/, 2000);
    // A change waiting shows as made, marked pending; a second tap on it takes it back.
    const clap16 = guest.getByRole('button', { name: 'Clap step 16', exact: true });
    await clap16.click();
    assert.equal(await clap16.getAttribute('aria-pressed'), 'true');
    assert.equal(await clap16.getAttribute('data-pending'), 'true');
    await clap16.click();
    assert.equal(await clap16.getAttribute('aria-pressed'), 'false');
    await expectText(guest.locator('.queued'), /2 changes waiting/, 2000);

    await jamd.start();
    for (const p of [host, guest]) await expectText(status(p), /Connected/, 15_000);
    outage = false;
    // Chromium itself logs each refused WebSocket connection; nothing else may be logged.
    console.log(`# browser-logged refused WebSocket connections while jamd was down: ${outageNoise}`);
    for (const p of [host, guest]) {
      await waitFor(async () => (await p.getByLabel('Tempo (BPM)').inputValue()) === '97', 3000, 'tempo kept');
      assert.equal(await p.getByLabel('Key').inputValue(), 'F#');
      assert.equal(await p.getByLabel('Scale').inputValue(), 'dorian');
      for (const [name, on] of [
        ['Kick step 1', 'true'],
        ['Snare step 5', 'true'],
        ['Clap step 13', 'true'],
        ['Snare step 13', 'false'],
        ['Hi-hat step 16', 'true'], // the queued change arrived
        ['Clap step 16', 'false'], // tapped on and off while offline: off
      ]) {
        await waitFor(
          async () => (await p.getByRole('button', { name, exact: true }).getAttribute('aria-pressed')) === on,
          3000,
          `${name} ${on}`,
        );
      }
    }
    await tab(host, /Users/).click();
    await waitFor(async () => (await users(host).allInnerTexts()).join(',') === 'Ana,Bo', 3000, 'both seats back');
    await waitFor(async () => (await host.locator('.user .dot.connected').count()) === 2, 5000, 'both connected again');
    assertNoErrors();
  });

  test('Leave updates the other list', async () => {
    await guest.getByRole('button', { name: 'Leave session' }).click();
    await guest.waitForURL(/\/jam$/, { timeout: 2000 });
    await guest.getByRole('button', { name: 'Create session' }).waitFor();
    await waitFor(async () => (await users(host).allInnerTexts()).join(',') === 'Ana', SYNC_MS, 'Bo gone from host list');
    assert.equal(await guest.evaluate(() => sessionStorage.getItem('jamd.seat')), null);
    assertNoErrors();
  });

  test('a bad or unknown code shows a plain message and a way back', async () => {
    const p = await newPage('bad-code', SMALL);
    await p.goto(`${jamd.base}/jam/ZZZZZZ`);
    await p.getByLabel('Your name').fill('Cy');
    await p.getByRole('button', { name: 'Join', exact: true }).click();
    await p.getByRole('heading', { name: 'No such session' }).waitFor({ timeout: 3000 });
    await p.getByRole('link', { name: 'Back to the lobby' }).click();
    await p.waitForURL(/\/jam$/);
    // The name is remembered now: a malformed code is refused without asking again.
    await p.goto(`${jamd.base}/jam/nope!`);
    await p.getByRole('heading', { name: 'That is not a room code' }).waitFor({ timeout: 3000 });
    await shot(p, 'bad-code-360x640');
    // The guest, who has a name on this device, gets the message at once.
    await guest.goto(`${jamd.base}/jam/AAAAAA`);
    await guest.getByRole('heading', { name: 'No such session' }).waitFor({ timeout: 3000 });
    assertNoErrors();
  });

  test('a full room says so', async () => {
    // A second box with two seats: the third person to come is told the room is full.
    const small = new Jamd(jamd.bin, await freePort(), join(tmp, 'data-small'), ['--max-participants', '2']);
    await small.start();
    try {
      const a = await newPage('full-host', SMALL);
      await a.addInitScript(() => localStorage.setItem('jamd.name', 'Ana'));
      await a.goto(`${small.base}/jam`);
      await a.getByRole('button', { name: 'Create session' }).click();
      await a.getByTestId('room-code').waitFor({ timeout: 5000 });
      const smallURL = a.url();
      const [b, c] = await Promise.all(
        ['Bo', 'Cy'].map(async (n) => {
          const p = await newPage(`full-${n}`, SMALL);
          await p.addInitScript((v) => localStorage.setItem('jamd.name', v), n);
          return p;
        }),
      );
      await b.goto(smallURL);
      await b.getByTestId('room-code').waitFor({ timeout: 5000 });
      await c.goto(smallURL);
      await c.getByRole('heading', { name: 'This session is full' }).waitFor({ timeout: 3000 });
      await c.getByRole('link', { name: 'Back to the lobby' }).waitFor();
      await shot(c, 'room-full-360x640');
      for (const p of [a, b, c]) await p.context().close();
    } finally {
      await small.stop();
    }
    assertNoErrors();
  });
});
