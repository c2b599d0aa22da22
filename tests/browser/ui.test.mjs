// Browser test of the web UI against the REAL binaries: a fresh lotus-dashboard (data dir in
// /tmp, loopback ports picked by binding port 0) and a real lotus-agent reporting to it,
// driven through Debian's Chromium with playwright-core. Scenarios: tests/browser/lib.mjs.
//   node --test --test-reporter=tap tests/browser/ui.test.mjs      (env LOTUS_BUILD, default build)
// Skips (one "# SKIP" line, exit 0) when the browser, playwright-core, the web build or the
// binaries are missing: scripts/run-tests.sh counts that as a skip, and as a failure in strict
// mode (make test, CI), since deps.sh and make provide all of them. The last test stops the
// agent and the dashboard with SIGTERM: each must exit 0 with no sanitizer report.
import { test, after } from 'node:test';
import { scenarios } from './lib.mjs';
import { backendMissing, reportAndStop, startAgent, startDashboard, stopAll, stopAllChecked, PASSWORD } from './backend.mjs';

let skip = backendMissing();
let backend = null;
if (!skip) {
  const r = await startDashboard();
  if (r.skip) { skip = r.skip; stopAll(); } else backend = r;
}

if (skip) {
  test('browser UI against the real lotus-dashboard and lotus-agent', { skip }, () => {});
} else {
  const close = scenarios(test, async () => ({
    base: backend.base, user: 'admin', pass: PASSWORD,
    async startAgent(secret) { startAgent(backend.grpc, secret); },
  }));
  test('shutdown: lotus-agent and lotus-dashboard exit 0 on SIGTERM, with no sanitizer report', async () => {
    await close();
    await stopAllChecked();
  });
  after(async () => {
    await close();
    reportAndStop();
  });
}
