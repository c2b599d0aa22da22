// Browser test of the web UI against the REAL binaries: a fresh lotus-dashboard (data dir in
// /tmp, loopback ports picked by binding port 0) and a real lotus-agent reporting to it,
// driven through Debian's Chromium with playwright-core. Scenarios: tests/browser/lib.mjs.
//   node --test --test-reporter=tap tests/browser/ui.test.mjs      (env LOTUS_BUILD, default build)
// Skips (one "# SKIP" line, exit 0) when the browser, playwright-core, the web build or the
// binaries are missing: scripts/run-tests.sh counts that as a skip, and as a failure in strict
// mode (make test, CI), since deps.sh and make provide all of them. The last test stops the
// agent and the dashboard with SIGTERM: each must exit 0 with no sanitizer report.
import { scenarios } from './lib.mjs';
import { runAgainstBackend } from './backend.mjs';

await runAgainstBackend('browser UI against the real lotus-dashboard and lotus-agent', scenarios);
