// Fast UI-only browser test: the same scenarios as ui.test.mjs, against the development
// mock of the HTTP contract (mock-server.mjs) instead of the real dashboard. It checks the
// UI itself; the real binaries are covered by ui.test.mjs.
//   node --test --test-reporter=tap tests/browser/ui-mock.test.mjs
// LOTUS_SCREENSHOTS=docs/screenshots saves the screenshots of the main pages.
import { test, after } from 'node:test';
import path from 'node:path';
import { ROOT, browserMissing, scenarios } from './lib.mjs';
import { createMock } from './mock-server.mjs';

const missing = browserMissing();
if (missing) {
  test('browser UI against the mock backend', { skip: missing }, () => {});
} else {
  let mock;
  const close = scenarios(test, async () => {
    mock = createMock({ webDir: path.join(ROOT, 'build/web'), password: 'mock-pass-1' });
    const port = await mock.listen(0);
    const base = `http://127.0.0.1:${port}`;
    return {
      base, user: 'admin', pass: 'mock-pass-1',
      async startAgent(secret) {
        const r = await fetch(base + '/__mock/agent', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ secret }) });
        if ((await r.json()).code !== 200) throw new Error('mock agent refused');
      },
    };
  });
  after(async () => { await close(); if (mock) await mock.close(); });
}
