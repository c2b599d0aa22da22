// Browser scenarios of the service monitors (issue #14): /admin/monitors (table + dialog),
// /service and /network, driven in Chromium as a person would click. Run by
// monitors.test.mjs against the real lotus-dashboard and lotus-agent. backend: {base, user,
// pass, startAgent(secret)}. Every wait is on a condition (reloading where the page itself
// refreshes only every 30-60 s), never a fixed sleep.
import assert from 'node:assert/strict';
import net from 'node:net';
import { addServer, launch, login, newPage, shot, waitFor } from './lib.mjs';

const MON = 'tcp-local';
const SERVER = 'mon-agent-1';

// Reloads page until check() is truthy (the /service and /network pages poll slowly).
async function reloadUntil(page, check, what, timeoutMs = 90000) {
  return waitFor(async () => {
    if (await check()) return true;
    await page.reload();
    await page.locator('main').waitFor();
    return check();
  }, what, timeoutMs, 1000);
}

const svcCard = (page) => page.locator(`article.svc[aria-label="${MON}"]`);
const row = (page) => page.locator('table.monitors tr', { hasText: MON });

// Same-origin JSON GET from inside the page (the admin's session cookie goes along).
const pageGet = (page, p) => page.evaluate(async (u) => (await fetch(u, { headers: { Accept: 'application/json' } })).json(), p);

// No sideways scrolling: the document is no wider than the viewport.
async function noOverflow(page, width, where) {
  const sw = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(sw <= width, `${where}: scrollWidth ${sw} > ${width}`);
}

export function monitorScenarios(test, getBackend) {
  let b, br, admin, listener, port, serverId;
  const s = {};

  test('monitors: the page is in the user menu, lists nothing yet, and the dialog shows each type\'s Lotus extras', async () => {
    b = await getBackend();
    br = await launch();
    admin = await newPage(br.browser);
    await login(admin, b.base, b.user, b.pass);
    await admin.getByRole('button', { name: 'User menu' }).click();
    await admin.getByRole('menuitem', { name: 'Service monitors' }).click();
    await admin.waitForURL(b.base + '/admin/monitors');
    await admin.getByRole('heading', { name: 'Service monitors' }).waitFor();
    await admin.getByText('No monitors yet.').waitFor();

    await admin.getByRole('button', { name: 'Add monitor', exact: true }).click();
    const dlg = admin.getByRole('dialog');
    const type = dlg.getByLabel('Type', { exact: true });
    assert.deepEqual(await type.locator('option').allInnerTexts(), ['HTTP GET', 'ICMP Ping', 'TCPing', 'DNS (Lotus)']);
    assert.equal(await type.inputValue(), '1');
    await dlg.getByLabel('Expected status (min-max, empty = 200-399)').waitFor();
    await dlg.getByLabel('Body keyword').waitFor();
    await dlg.getByText('Lotus agents only', { exact: false }).waitFor();
    assert.equal(await dlg.getByLabel('Record type').count(), 0);
    await type.selectOption('102');
    await dlg.getByLabel('Record type').waitFor();
    await dlg.getByLabel('Expected address (optional)').waitFor();
    await dlg.getByText('DNS monitors run on Lotus agents only', { exact: false }).waitFor();
    assert.equal(await dlg.getByLabel('Body keyword').count(), 0);
    await type.selectOption('3');
    await dlg.locator('fieldset.extras').waitFor({ state: 'detached' });
    await type.selectOption('2');
    assert.equal(await dlg.locator('fieldset.extras').count(), 0);

    // The API's validation error is shown in the dialog, which stays open.
    await type.selectOption('1');
    await dlg.getByLabel('Name', { exact: true }).fill('bad-status');
    await dlg.getByLabel('Target', { exact: true }).fill('http://127.0.0.1:9/');
    await dlg.getByLabel('Expected status (min-max, empty = 200-399)').fill('700-800');
    await dlg.getByRole('button', { name: 'Save' }).click();
    const alert = dlg.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /请求错误/);
    await shot(admin, 'monitor-dialog-error');
    await dlg.getByRole('button', { name: 'Cancel' }).click();
    await dlg.waitFor({ state: 'detached' });
    assert.equal(await row(admin).count(), 0);
    assert.deepEqual((await pageGet(admin, '/api/monitor')).result, []);
  });

  test('monitors: a TCP monitor made in the dialog is in the table with no data yet', async () => {
    listener = net.createServer((c) => c.destroy());
    await new Promise((r) => listener.listen(0, '127.0.0.1', r));
    port = listener.address().port;

    await admin.goto(b.base + '/admin/servers');
    s.server = await addServer(admin, SERVER);
    const servers = await pageGet(admin, '/api/server');
    serverId = servers.result.find((x) => x.name === SERVER).id;

    await admin.goto(b.base + '/admin/monitors');
    await admin.getByRole('button', { name: 'Add monitor', exact: true }).click();
    const dlg = admin.getByRole('dialog');
    await dlg.getByLabel('Name', { exact: true }).fill(MON);
    await dlg.getByLabel('Type', { exact: true }).selectOption('3');
    await dlg.getByLabel('Target', { exact: true }).fill(`127.0.0.1:${port}`);
    await dlg.getByLabel('Duration (s)').fill('3');
    assert.equal(await dlg.getByLabel('Coverage').inputValue(), '0');
    const pick = dlg.locator('fieldset.servers-pick');
    assert.match(await pick.locator('legend').innerText(), /Servers left out/);
    await pick.getByLabel(SERVER).waitFor();
    assert.equal(await pick.getByLabel(SERVER).isChecked(), false);
    assert.equal(await dlg.getByLabel('Show on the services page').isChecked(), true);
    await dlg.getByRole('button', { name: 'Save' }).click();
    await dlg.waitFor({ state: 'detached' });

    const r = row(admin);
    await r.waitFor();
    const cells = await r.locator('td').allInnerTexts();
    assert.equal(cells[1], MON);
    assert.equal(cells[2], 'TCPing');
    assert.equal(cells[3], `127.0.0.1:${port}`);
    assert.equal(cells[4], '3');
    assert.equal(cells[6], 'yes');
    assert.equal(await r.locator('.badge').getAttribute('data-status'), 'nodata');
    assert.equal(await r.locator('.badge').innerText(), 'No data');
    const m = (await pageGet(admin, '/api/monitor')).result.find((x) => x.Name === MON);
    assert.equal(m.Type, 3);
    assert.equal(m.Cover, 0);
    assert.equal(m.SkipServersRaw, '[]');
    assert.equal(m.EnableShowInService, true);
    s.id = m.ID;

    // Edit opens the dialog filled in; cancel leaves the monitor as it was.
    await r.getByRole('button', { name: `Edit ${MON}` }).click();
    assert.equal(await dlg.getByLabel('Name', { exact: true }).inputValue(), MON);
    assert.equal(await dlg.getByLabel('Type', { exact: true }).inputValue(), '3');
    assert.equal(await dlg.getByLabel('Target', { exact: true }).inputValue(), `127.0.0.1:${port}`);
    await dlg.getByRole('button', { name: 'Cancel' }).click();
    await dlg.waitFor({ state: 'detached' });
    await shot(admin, 'monitors');
  });

  test('service and network before any result: the name, 30 grey days, uptime "—", and "no data"', async () => {
    const guest = await newPage(br.browser);
    await guest.goto(b.base + '/');
    await guest.getByRole('link', { name: 'Services' }).click();
    await guest.waitForURL(b.base + '/service');
    await guest.getByRole('heading', { name: 'Services' }).waitFor();
    const c = svcCard(guest);
    await c.waitFor();
    assert.equal(await c.locator('.day').count(), 30);
    assert.equal(await c.locator('.day.lvl-none').count(), 30);
    assert.equal(await c.getByTestId('uptime').innerText(), '—');
    assert.equal(await c.locator('.badge').getAttribute('data-status'), 'nodata');
    assert.match(await c.locator('.day').last().getAttribute('title'), /^\d{4}-\d\d-\d\d · no data$/);

    await guest.getByRole('link', { name: 'Network' }).click();
    await guest.waitForURL(b.base + '/network');
    await guest.getByText('No server has monitor data from the last 24 hours yet.').waitFor();
    await guest.goto(b.base + `/network/${serverId}`);
    await guest.getByTestId('no-data').waitFor();
    assert.equal(await guest.locator('.uplot').count(), 0);
    assert.deepEqual(guest.errors, []);
    await guest.context().close();
  });

  test('results: the agent probes the listener; Good in the table and on /service, a chart on /network/<id>', async () => {
    await b.startAgent(s.server.secret);
    await reloadUntil(admin, async () => (await row(admin).locator('.badge').getAttribute('data-status')) === 'good', 'the monitor to be Good');
    assert.match(await row(admin).locator('.current').innerText(), /^↑[1-9]\d* ↓0 · \d+\.\d ms$/);

    const guest = await newPage(br.browser);
    await guest.goto(b.base + '/service');
    const c = svcCard(guest);
    await c.waitFor();
    // The current status comes from every result; the day cells and the 30-day uptime from the
    // aggregate rows (v0 writes one per 30 samples), so today's cell may still be grey here: it
    // must then say "no data" and the uptime "—", else be green with 100 % (every probe succeeds).
    await reloadUntil(guest, async () => (await c.locator('.badge').getAttribute('data-status')) === 'good', 'Good on /service');
    assert.match(await c.locator('.current').innerText(), /^↑[1-9]\d* ↓0 · \d+\.\d ms$/);
    const today = c.locator('.day').last();
    const cls = await today.getAttribute('class'), tip = await today.getAttribute('title');
    if (cls.includes('lvl-none')) {
      assert.match(tip, /^\d{4}-\d\d-\d\d · no data$/);
      assert.equal(await c.getByTestId('uptime').innerText(), '—');
    } else {
      assert.ok(cls.includes('lvl-good'), `today's cell: ${cls}`);
      assert.match(tip, /^\d{4}-\d\d-\d\d · availability 100\.00% · average latency \d+\.\d ms$/);
      assert.equal(await c.getByTestId('uptime').innerText(), '100.000%');
    }
    await c.locator('.day').first().hover();
    assert.equal(await c.locator('.day-detail').innerText(), await c.locator('.day').first().getAttribute('title'));
    await shot(guest, 'service');

    // /network picks the first server with rows and draws one line per monitor.
    await reloadUntil(guest, async () => {
      if (!guest.url().includes('/network')) await guest.goto(b.base + '/network');
      return (await guest.locator('.chart .uplot canvas').count()) > 0;
    }, 'a drawn latency chart');
    await guest.waitForURL(b.base + `/network/${serverId}`);
    assert.equal(await guest.getByRole('link', { name: SERVER }).getAttribute('aria-current'), 'page');
    assert.match(await guest.locator('.chart .u-legend').innerText(), new RegExp(MON));
    // One point (the agent has reported for seconds) is drawn in an hour around it, not over years.
    const span = Number(await waitFor(() => guest.getByTestId('chart').getAttribute('data-x-span'), 'the chart drawn'));
    assert.ok(span > 0 && span <= 86400, `x axis spans ${span} s`);
    const w = await guest.locator('.chart canvas').first().evaluate((e) => e.width);
    assert.ok(w > 0, `canvas width ${w}`);
    const rows = await pageGet(guest, `/api/v1/monitor/${serverId}`);
    assert.equal(rows.result[0].monitor_name, MON);
    await shot(guest, 'network');
    assert.deepEqual(guest.errors, []);
    await guest.context().close();
  });

  test('zh-CN: the monitor page, its dialog, /service and /network in Chinese', async () => {
    const zh = await newPage(br.browser, { locale: 'zh-CN' });
    await login(zh, b.base, b.user, b.pass);
    await zh.getByRole('button', { name: '用户菜单' }).click();
    await zh.getByRole('menuitem', { name: '服务监控' }).click();
    await zh.getByRole('heading', { name: '服务监控' }).waitFor();
    await row(zh).waitFor();
    assert.deepEqual(await zh.locator('table.monitors th').allInnerTexts(), ['ID', '名称', '类型', '目标', '请求间隔（秒）', '状态', '服务页显示', '操作']);
    await zh.getByRole('button', { name: '添加监控', exact: true }).click();
    const dlg = zh.getByRole('dialog');
    await dlg.getByRole('heading', { name: '添加监控' }).waitFor();
    await dlg.getByLabel('期望状态码（最小-最大，留空 = 200-399）').waitFor();
    await dlg.getByLabel('覆盖范围').waitFor();
    await dlg.getByLabel('在服务页显示').waitFor();
    await dlg.getByRole('button', { name: '取消' }).click();
    await dlg.waitFor({ state: 'detached' });

    await zh.getByRole('link', { name: '服务', exact: true }).click();
    await zh.getByRole('heading', { name: '服务', exact: true }).waitFor();
    await svcCard(zh).getByText('30 天在线率').waitFor();
    assert.equal(await svcCard(zh).locator('.badge').innerText(), '良好');
    assert.match(await svcCard(zh).locator('.day').last().getAttribute('title'), /^\d{4}-\d\d-\d\d · (无数据|可用率 100\.00% · 平均延迟 \d+\.\d ms)$/);
    await zh.getByRole('link', { name: '网络', exact: true }).click();
    await zh.getByRole('heading', { name: '网络', exact: true }).waitFor();
    await zh.locator('.chart .uplot canvas').first().waitFor();
    await zh.getByRole('heading', { name: `${SERVER} 最近 24 小时测得的延迟` }).waitFor();
    assert.deepEqual(zh.errors, []);
    await zh.context().close();
  });

  test('dark mode and phone: /service, /network/<id> and /admin/monitors at 390x844, dark, without sideways scrolling', async () => {
    const ph = await newPage(br.browser, { viewport: { width: 390, height: 844 }, colorScheme: 'dark' });
    await ph.goto(b.base + '/service');
    await svcCard(ph).waitFor();
    assert.equal(await ph.evaluate(() => getComputedStyle(document.body).backgroundColor), 'rgb(17, 21, 28)');
    const cw = await svcCard(ph).evaluate((e) => e.getBoundingClientRect().right);
    assert.ok(cw <= 390, `service card right edge ${cw}`);
    await noOverflow(ph, 390, '/service');
    await shot(ph, 'service-phone-dark');

    await ph.goto(b.base + `/network/${serverId}`);
    const canvas = ph.locator('.chart .uplot canvas').first();
    await canvas.waitFor();
    await noOverflow(ph, 390, '/network');
    const narrow = await ph.locator('.chart .uplot').evaluate((e) => e.getBoundingClientRect().width);
    assert.ok(narrow <= 390 && narrow > 200, `chart width ${narrow} at 390 px`);
    // The axis labels are drawn in the dark theme's muted colour (read when the chart is made).
    assert.equal(await ph.evaluate(() => getComputedStyle(document.documentElement).getPropertyValue('--muted').trim()), '#98a2b3');
    await shot(ph, 'network-phone-dark');
    // The chart follows its container's width.
    await ph.setViewportSize({ width: 900, height: 844 });
    await waitFor(async () => (await ph.locator('.chart .uplot').evaluate((e) => e.getBoundingClientRect().width)) > narrow + 200, 'the chart to widen with the window');

    await ph.setViewportSize({ width: 390, height: 844 });
    await login(ph, b.base, b.user, b.pass);
    await ph.goto(b.base + '/admin/monitors');
    await row(ph).waitFor();
    await noOverflow(ph, 390, '/admin/monitors');
    await ph.getByRole('button', { name: 'Add monitor', exact: true }).click();
    await ph.getByRole('dialog').waitFor();
    await noOverflow(ph, 390, 'the monitor dialog');
    assert.deepEqual(ph.errors, []);
    await ph.context().close();
  });

  test('accessibility: every control on the monitor page, its dialog, /service and /network has a name', async () => {
    const unnamed = () => admin.evaluate(() => [...document.querySelectorAll('button, input, select, textarea')]
      .filter((e) => !(e.getAttribute('aria-label') || '').trim() && !(e.labels && e.labels.length) && !(e.textContent || '').trim())
      .map((e) => e.outerHTML.slice(0, 80)));
    await admin.goto(b.base + '/admin/monitors');
    await row(admin).waitFor();
    assert.deepEqual(await unnamed(), [], 'unnamed controls on /admin/monitors');
    await row(admin).getByRole('button', { name: `Edit ${MON}` }).click();
    await admin.getByRole('dialog').waitFor();
    await admin.getByRole('dialog').getByLabel('Run trigger tasks').check();
    await admin.getByRole('dialog').getByLabel('Tasks on failure (JSON array of task IDs)').waitFor();
    assert.deepEqual(await unnamed(), [], 'unnamed controls in the monitor dialog');
    await admin.keyboard.press('Escape');
    await admin.getByRole('dialog').waitFor({ state: 'detached' });
    for (const p of ['/service', `/network/${serverId}`]) {
      await admin.goto(b.base + p);
      await admin.locator('main h1').waitFor();
      assert.deepEqual(await unnamed(), [], `unnamed controls on ${p}`);
    }
  });

  test('delete: the monitor leaves the table and /service', async () => {
    await admin.goto(b.base + '/admin/monitors');
    await row(admin).getByRole('button', { name: `Delete ${MON}` }).click();
    await admin.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
    await row(admin).waitFor({ state: 'detached' });
    await admin.getByText('No monitors yet.').waitFor();
    await admin.goto(b.base + '/service');
    await admin.getByText('No monitor is shown on this page yet.').waitFor();
    assert.deepEqual(admin.errors, []);
    await br.close();
    br = null;
    await new Promise((r) => listener.close(r));
  });

  return async () => {
    if (br) await br.close();
    if (listener && listener.listening) listener.close();
  };
}
