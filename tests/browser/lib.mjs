// Shared browser-test helpers and scenarios, run against either the real binaries
// (ui.test.mjs). Each scenario drives the UI in a
// real Chromium through playwright-core, exactly as a person would click.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CHROMIUM = process.env.LOTUS_CHROMIUM || '/usr/bin/chromium';
const CHROME_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run'];
const SHOTS = process.env.LOTUS_SCREENSHOTS ? path.resolve(ROOT, process.env.LOTUS_SCREENSHOTS) : '';

// playwright-core lives in web/node_modules (pinned in web/package-lock.json).
export function loadPlaywright() {
  try {
    return createRequire(path.join(ROOT, 'web/package.json'))('playwright-core');
  } catch (e) {
    return null;
  }
}

// Why the browser cannot run here, or '' when it can.
export function browserMissing() {
  if (!fs.existsSync(CHROMIUM)) return `no browser at ${CHROMIUM} (apt-get install chromium)`;
  if (!loadPlaywright()) return 'playwright-core is not installed (cd web && npm ci)';
  if (!fs.existsSync(path.join(ROOT, 'build/web/index.html'))) return 'web UI not built (make unit-tests or node web/build.mjs)';
  return '';
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function waitFor(fn, what, timeoutMs = 15000, stepMs = 200) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try { last = await fn(); if (last) return last; } catch (e) { last = e; }
    await sleep(stepMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last})`);
}

export async function launch() {
  const { chromium } = loadPlaywright();
  // launch() starts Chromium on a fresh temporary user-data-dir of its own (removed on close;
  // playwright refuses an explicit --user-data-dir here). Each visitor gets its own context.
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROME_ARGS, timeout: 30000 });
  return { browser, close: () => browser.close() };
}

export async function newPage(browser, { locale = 'en-US', viewport = { width: 1280, height: 860 }, colorScheme = 'light' } = {}) {
  const ctx = await browser.newContext({ locale, viewport, colorScheme });
  const page = await ctx.newPage();
  page.setDefaultTimeout(15000);
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.errors = errors;
  return page;
}

export async function shot(page, name) {
  if (!SHOTS) return;
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, name + '.png'), fullPage: false });
}

export async function login(page, base, user, pass) {
  await page.goto(base + '/login');
  const zh = (await page.evaluate(() => document.documentElement.lang)) === 'zh-CN';
  await page.getByLabel(zh ? '用户名' : 'Username').fill(user);
  await page.getByLabel(zh ? '密码' : 'Password', { exact: true }).fill(pass);
  await page.getByRole('button', { name: zh ? '登录' : 'Login', exact: true }).click();
  await page.waitForURL(base + '/admin/servers');
}

export const card = (page, name) => page.locator(`article.card[aria-label="${name}"]`);

// Adds a server through the Servers page; returns {secret, command}.
export async function addServer(page, name, { tag = '', hidden = false } = {}) {
  await page.getByRole('button', { name: 'Add server', exact: true }).click();
  const dlg = page.getByRole('dialog');
  await dlg.getByLabel('Name').fill(name);
  await dlg.getByLabel('Group').fill(tag);
  if (hidden) await dlg.getByLabel('Hide for guests').check();
  await dlg.getByRole('button', { name: 'Save' }).click();
  const code = page.getByTestId('install-command');
  await waitFor(async () => /-p \S+/.test((await code.textContent()) || ''), 'install command');
  const command = (await code.textContent()).trim();
  const secret = command.match(/-p (\S+)/)[1];
  await shot(page, 'install-command');
  await page.getByRole('dialog').getByRole('button', { name: 'Close' }).first().click();
  await page.locator('tr', { hasText: name }).waitFor();
  return { secret, command };
}

async function apiDetails(base, token) {
  const r = await fetch(base + '/api/v1/server/details', { headers: token ? { Authorization: token } : {} });
  return r.json();
}

// The scenarios, as node:test top-level tests. backend: {base, user, pass, startAgent(secret), name}.
export function scenarios(test, getBackend) {
  let b, br, admin;
  const s = {};

  test('login: wrong password is refused, right one opens the servers page', async () => {
    b = await getBackend();
    br = await launch();
    admin = await newPage(br.browser);
    await admin.goto(b.base + '/login');
    await shot(admin, 'login');
    await admin.getByLabel('Username').fill(b.user);
    await admin.getByLabel('Password', { exact: true }).fill('wrong-password');
    await admin.getByRole('button', { name: 'Login', exact: true }).click();
    await admin.getByRole('alert').filter({ hasText: 'Wrong username or password' }).waitFor();
    await admin.getByLabel('Password', { exact: true }).fill(b.pass);
    await admin.getByRole('button', { name: 'Login', exact: true }).click();
    await admin.waitForURL(b.base + '/admin/servers');
    await admin.getByRole('heading', { name: 'Servers' }).waitFor();
  });

  test('servers: add a server and see its one-line install command', async () => {
    const r = await addServer(admin, 'ui-web-1', { tag: 'eu' });
    assert.match(r.command, /install-agent\.sh/);
    assert.match(r.command, new RegExp(`-p ${r.secret}\\b`));
    s.secret = r.secret;
    await shot(admin, 'servers');
  });

  test('live: an agent reporting makes the card go online and its numbers change', async () => {
    await b.startAgent(s.secret);
    await admin.goto(b.base + '/');
    const c = card(admin, 'ui-web-1');
    await c.locator('.badge.on').waitFor({ timeout: 20000 });
    const first = { la: await c.getAttribute('data-last-active'), text: await c.innerText() };
    await waitFor(async () => (await c.getAttribute('data-last-active')) !== first.la, 'a newer report (LastActive)', 20000);
    await waitFor(async () => (await c.innerText()) !== first.text, 'the card numbers to change', 20000);
    assert.match(await admin.getByTestId('online-count').innerText(), /^[1-9]\d* \/ [1-9]/);
  });

  test('tokens: the seed flow (avatar → API Token → 添加 Token → note → 添加), use it, delete it', async () => {
    const zh = await newPage(br.browser, { locale: 'zh-CN' });
    await login(zh, b.base, b.user, b.pass);
    await zh.getByRole('button', { name: '用户菜单' }).click();
    await zh.getByRole('menuitem', { name: 'API Token' }).click();
    await zh.waitForURL(b.base + '/admin/tokens');
    await zh.getByRole('heading', { name: 'API Token' }).waitFor();
    await zh.getByRole('button', { name: '添加 Token', exact: true }).click();
    await zh.getByRole('dialog').getByLabel('备注').fill('browser-test');
    await zh.getByRole('dialog').getByRole('button', { name: '添加', exact: true }).click();
    const token = ((await zh.getByTestId('new-token').textContent()) || '').trim();
    assert.equal(token.length, 32);
    await zh.getByRole('dialog').getByRole('button', { name: '复制' }).waitFor();
    await zh.getByRole('dialog').getByRole('button', { name: '关闭' }).first().click();

    const row = zh.locator('tr', { hasText: 'browser-test' });
    await row.waitFor();
    assert.match(await row.innerText(), new RegExp(token.slice(0, 4)));
    await shot(zh, 'tokens');

    const ok = await apiDetails(b.base, token);
    assert.equal(ok.code, 0);
    assert.ok(ok.result.some((x) => x.name === 'ui-web-1'), 'details lists the server');

    await row.getByRole('button', { name: '删除', exact: true }).click();
    await zh.getByRole('dialog').getByRole('button', { name: '确认' }).click();
    await row.waitFor({ state: 'detached' });
    assert.deepEqual(await apiDetails(b.base, token), { code: 403, message: '访问此接口需要认证' });
    assert.deepEqual(zh.errors, []);
    await zh.context().close();
  });

  test('languages: English labels on the token page; the language switch and theme toggle stick', async () => {
    await admin.goto(b.base + '/admin/tokens');
    await admin.getByRole('button', { name: 'Add Token', exact: true }).click();
    await admin.getByRole('dialog').getByLabel('Note').fill('en-token');
    await admin.getByRole('dialog').getByRole('button', { name: 'Add', exact: true }).click();
    await admin.getByTestId('new-token').waitFor();
    await admin.getByRole('dialog').getByRole('button', { name: 'Close' }).first().click();
    const row = admin.locator('tr', { hasText: 'en-token' });
    await row.getByRole('button', { name: 'Delete', exact: true }).click();
    await admin.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
    await row.waitFor({ state: 'detached' });

    await admin.getByRole('combobox', { name: 'Language' }).selectOption('zh-CN');
    await admin.getByRole('heading', { name: 'API Token' }).waitFor();
    await admin.reload();
    await admin.getByRole('button', { name: '添加 Token', exact: true }).waitFor();
    assert.equal(await admin.evaluate(() => document.documentElement.lang), 'zh-CN');
    await admin.getByRole('combobox', { name: '语言' }).selectOption('en');
    await admin.getByRole('button', { name: 'Add Token', exact: true }).waitFor();

    const theme = () => admin.evaluate(() => document.documentElement.dataset.theme || '');
    await admin.getByRole('button', { name: 'Toggle dark theme' }).click();
    assert.equal(await theme(), 'dark');
    await admin.reload();
    await admin.getByRole('button', { name: 'Add Token', exact: true }).waitFor();
    assert.equal(await theme(), 'dark');
    await admin.getByRole('button', { name: 'Toggle dark theme' }).click();
    assert.equal(await theme(), 'light');
  });

  test('hide for guest: a hidden server is shown to the admin, never to a guest', async () => {
    await admin.goto(b.base + '/admin/servers');
    await addServer(admin, 'ui-hidden-1', { hidden: true });
    await admin.goto(b.base + '/');
    await card(admin, 'ui-hidden-1').waitFor();

    const guest = await newPage(br.browser);
    await guest.goto(b.base + '/');
    const seen = card(guest, 'ui-web-1');
    await seen.waitFor();
    // A few more live frames (each newer report of ui-web-1 changes its LastActive): the
    // hidden server must not come with any of them.
    for (let i = 0; i < 2; i++) {
      const la = await seen.getAttribute('data-last-active');
      await waitFor(async () => (await seen.getAttribute('data-last-active')) !== la, 'a newer live frame', 20000);
    }
    assert.equal(await card(guest, 'ui-hidden-1').count(), 0);
    const html = await guest.content();
    assert.ok(!html.includes('ui-hidden-1'));
    await shot(guest, 'public-desktop');
    await guest.context().close();
  });

  test('phone: the public page is one column with no sideways scrolling at 390x844', async () => {
    const phone = await newPage(br.browser, { viewport: { width: 390, height: 844 } });
    await phone.goto(b.base + '/');
    await card(phone, 'ui-web-1').waitFor();
    const xs = await phone.locator('article.card').evaluateAll((els) => els.map((e) => Math.round(e.getBoundingClientRect().x)));
    assert.ok(xs.length >= 1);
    assert.equal(new Set(xs).size, 1, `cards in one column, x = ${xs}`);
    const sw = await phone.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(sw <= 390, `scrollWidth ${sw}`);
    await shot(phone, 'public-phone');
    await phone.context().close();
  });

  test('view password: guests get the gate, a wrong password is refused, the right one opens the page', async () => {
    await admin.goto(b.base + '/admin/settings');
    await admin.locator('input[name=view_password]').fill('letmein-123');
    await admin.getByRole('button', { name: 'Save' }).click();
    await admin.getByRole('status').filter({ hasText: 'Saved' }).waitFor();

    const guest = await newPage(br.browser);
    await guest.goto(b.base + '/');
    await guest.getByRole('heading', { name: 'Access restricted' }).waitFor();
    await guest.getByLabel('View password').fill('nope');
    await guest.getByRole('button', { name: 'Enter' }).click();
    await guest.getByRole('alert').filter({ hasText: 'Wrong password' }).waitFor();
    await guest.getByLabel('View password').fill('letmein-123');
    await guest.getByRole('button', { name: 'Enter' }).click();
    await card(guest, 'ui-web-1').waitFor();
    await guest.context().close();

    await admin.goto(b.base + '/admin/settings');
    await admin.getByLabel('Remove the view password').check();
    await admin.getByRole('button', { name: 'Save' }).click();
    await admin.getByRole('status').filter({ hasText: 'Saved' }).waitFor();
    const again = await newPage(br.browser);
    await again.goto(b.base + '/');
    await card(again, 'ui-web-1').waitFor();
    await again.context().close();
  });

  test('accessibility: every button, input and select on each page has an accessible name', async () => {
    const unnamed = () => admin.evaluate(() => [...document.querySelectorAll('button, input, select, textarea')]
      .filter((e) => !(e.getAttribute('aria-label') || '').trim() && !(e.labels && e.labels.length) && !(e.textContent || '').trim())
      .map((e) => e.outerHTML.slice(0, 80)));
    // Escape is pressed only once the menu / dialog is ready for it (focus moved inside, which
    // the UI does in the same commit that attaches its Escape handler), and each must be gone
    // afterwards: a lost Escape fails here instead of leaving a menu open for the next step.
    const focusInside = (sel) => admin.waitForFunction((s) => !!(document.activeElement && document.activeElement.closest(s)), sel);
    for (const [p, open] of [['/', null], ['/admin/servers', 'Add server'], ['/admin/tokens', 'Add Token'], ['/admin/settings', null], ['/admin/account', null]]) {
      await admin.goto(b.base + p);
      await admin.locator('main').waitFor();
      await admin.waitForLoadState('networkidle').catch(() => {});
      await admin.getByRole('button', { name: 'User menu' }).click();
      await admin.locator('[role=menu][data-ready=true]').waitFor();
      await focusInside('[role=menu]');
      assert.deepEqual(await unnamed(), [], `unnamed controls on ${p}`);
      await admin.keyboard.press('Escape');
      await admin.getByRole('menu').waitFor({ state: 'detached' });
      assert.equal(await admin.evaluate(() => document.activeElement && document.activeElement.getAttribute('aria-label')), 'User menu', 'Escape gives the focus back to the avatar');
      if (open) {
        await admin.getByRole('button', { name: open, exact: true }).click();
        await admin.getByRole('dialog').waitFor();
        await focusInside('[role=dialog]');
        assert.deepEqual(await unnamed(), [], `unnamed controls in the "${open}" dialog`);
        await admin.keyboard.press('Escape');
        await admin.getByRole('dialog').waitFor({ state: 'detached' });
      }
    }
  });

  test('logout: the avatar menu logs out and the admin pages send you to the login page', async () => {
    await admin.goto(b.base + '/admin/servers');
    await admin.getByRole('button', { name: 'User menu' }).click();
    await admin.getByRole('menuitem', { name: 'Logout' }).click();
    await admin.getByRole('link', { name: 'Login' }).waitFor();
    await admin.goto(b.base + '/admin/tokens');
    await admin.waitForURL(b.base + '/login');
    assert.deepEqual(admin.errors, []);
    await br.close();
    br = null;
  });

  return async () => { if (br) await br.close(); };
}
