// Browser test of the service monitors (issue #14) against the REAL binaries: a fresh
// lotus-dashboard and a real lotus-agent that probes a TCP listener this test opens on
// 127.0.0.1, driven through Debian's Chromium with playwright-core. Scenarios:
// tests/browser/monitors.mjs; processes: tests/browser/backend.mjs.
//   node --test --test-reporter=tap tests/browser/monitors.test.mjs   (env LOTUS_BUILD, default build)
// Skips (one "# SKIP" line, exit 0) when the browser, playwright-core, the web build or the
// binaries are missing, as ui.test.mjs does. The i18n check needs none of them and always runs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { monitorScenarios } from './monitors.mjs';
import { runAgainstBackend } from './backend.mjs';
import { LANGS } from '../../web/src/i18n.js';

test('i18n: every string has a zh-CN and an en text', () => {
  const zh = Object.keys(LANGS['zh-CN']).sort(), en = Object.keys(LANGS.en).sort();
  assert.deepEqual(zh.filter((k) => !LANGS.en[k]), [], 'keys only in zh-CN');
  assert.deepEqual(en.filter((k) => !LANGS['zh-CN'][k]), [], 'keys only in en');
});

await runAgainstBackend('service monitor pages against the real lotus-dashboard and lotus-agent', monitorScenarios);
