// The real binaries for the browser tests: a fresh lotus-dashboard (data dir in /tmp, loopback
// ports picked by binding port 0) and real lotus-agents reporting to it. Used by ui.test.mjs and
// monitors.test.mjs; each test file is its own process with its own dashboard.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test, after } from 'node:test';
import { ROOT, browserMissing, freePort, sleep } from './lib.mjs';

export const BUILD = path.resolve(ROOT, process.env.LOTUS_BUILD || 'build');
export const DASH = path.join(BUILD, 'lotus-dashboard');
export const AGENT = path.join(BUILD, 'lotus-agent');
export const PASSWORD = 'browser-test-pw-1';
export const procs = [];
let dataDir = '';

export function stopAll() {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
  procs.length = 0;
  if (dataDir) { fs.rmSync(dataDir, { recursive: true, force: true }); dataDir = ''; }
}
process.on('exit', stopAll);

export function start(bin, args, env, name) {
  const p = spawn(bin, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  p.log = '';
  const keep = (d) => { p.log = (p.log + d).slice(-20000); };
  p.stdout.on('data', keep);
  p.stderr.on('data', keep);
  p.name = name;
  // Settles with [code, signal] once the process has exited and its output is all read.
  p.closed = new Promise((resolve) => p.on('close', (code, sig) => resolve([code, sig])));
  procs.push(p);
  return p;
}

// The same lines as tests/integration/lotus.py SANITIZER_MARKS: any of them fails the run.
const SANITIZER_MARKS = ['ERROR: AddressSanitizer', 'ERROR: LeakSanitizer', 'runtime error:', 'SUMMARY: UndefinedBehaviorSanitizer'];

// SIGTERM, then the exit must be code 0 within 30 s with no sanitizer report in the output.
export async function stopChecked(p) {
  if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
  let timer;
  const late = new Promise((resolve) => { timer = setTimeout(() => resolve(null), 30000); });
  const r = await Promise.race([p.closed, late]);
  clearTimeout(timer);
  const tail = p.log.split('\n').slice(-40).join('\n');
  if (r === null) { p.kill('SIGKILL'); throw new Error(`${p.name} still running 30 s after SIGTERM:\n${tail}`); }
  const [code, sig] = r;
  assert.equal(code, 0, `${p.name} exited ${code ?? sig} after SIGTERM:\n${tail}`);
  const rep = p.log.split('\n').find((l) => SANITIZER_MARKS.some((m) => l.includes(m)));
  assert.equal(rep, undefined, `${p.name}: sanitizer report in its output:\n${tail}`);
}

// Starts the dashboard; returns {base, grpcPort} or {skip: reason}. Throws on a real failure.
export async function startDashboard() {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lotus-ui-'));
  const env = { LOTUS_TEST_FAST_HASH: '1' };
  const add = spawnSync(DASH, ['--data', dataDir, 'user', 'add', 'admin'], { input: PASSWORD + '\n', env: { ...process.env, ...env }, encoding: 'utf8', timeout: 30000 });
  if (add.status !== 0) throw new Error(`"lotus-dashboard user add admin" failed (${add.status}): ${add.stderr}`);
  // A free port can be taken by another process before the dashboard binds it: then the
  // dashboard exits with "address already in use" and is started again on fresh ports.
  for (let attempt = 0; ; attempt++) {
    const http = await freePort();
    let grpc = await freePort();
    while (grpc === http) grpc = await freePort();
    const d = start(DASH, ['--data', dataDir, '--http', `127.0.0.1:${http}`, '--grpc', `127.0.0.1:${grpc}`], env, 'dashboard');
    const base = `http://127.0.0.1:${http}`;
    const end = Date.now() + 15000;
    let exited = false;
    while (Date.now() < end) {
      if (d.exitCode !== null || d.signalCode !== null) { exited = true; break; }
      try {
        const r = await fetch(base + '/api/me');
        if (r.status === 404) throw new Error('the dashboard answers 404 on /api/me: its admin HTTP routes are missing');
        return { base, grpc };
      } catch (e) {
        if (e.message.includes('admin HTTP routes')) throw e;
        await sleep(200);
      }
    }
    if (!exited) throw new Error(`the dashboard serves nothing on its HTTP port ${http}:\n${d.log}`);
    await d.closed; // its output is all read
    if (attempt < 2 && d.log.includes('address already in use')) {
      procs.splice(procs.indexOf(d), 1);
      continue;
    }
    throw new Error(`lotus-dashboard exited (${d.exitCode ?? d.signalCode}):\n${d.log}`);
  }
}

// Why these tests cannot run here ('' when they can).
export function backendMissing() {
  const why = browserMissing();
  if (why) return why;
  if (!fs.existsSync(DASH) || !fs.existsSync(AGENT)) return `binaries missing in ${BUILD} (make all)`;
  return '';
}

// A real lotus-agent reporting every second to the dashboard at grpc with this secret.
export function startAgent(grpc, secret, ip = '203.0.113.7') {
  // An agent that exits early is caught by the last test (its exit code and output).
  return start(AGENT, ['-s', `127.0.0.1:${grpc}`, '-p', secret, '--ip', ip, '--report-delay', '1'],
    { LOTUS_AGENT_RETRY_MS: '500' }, 'agent');
}

// The last test of a file: stop the agents, then the dashboard; each must exit 0 on SIGTERM
// with no sanitizer report.
export async function stopAllChecked() {
  const agents = procs.filter((p) => p.name === 'agent');
  const dash = procs.filter((p) => p.name === 'dashboard');
  assert.equal(dash.length, 1);
  for (const p of [...agents, ...dash]) await stopChecked(p);
}

// node:test's after(): a process that died on its own (a non-zero code or a signal) is named
// with its output; then everything is stopped and the data dir removed.
export function reportAndStop() {
  for (const p of procs) if ((p.exitCode !== null && p.exitCode !== 0) || p.signalCode !== null) console.log(`# ${p.name} exited ${p.exitCode ?? p.signalCode}:\n# ${p.log.split('\n').join('\n# ')}`);
  stopAll();
}

/*
 * The whole run of one browser test file: starts the dashboard (or registers one skipped test
 * named title when the browser, the build or the binaries are missing), registers the scenarios
 * (scenarios(test, ctxFn) returns their close function), and ends with the checked shutdown of
 * every process: each must exit 0 after SIGTERM with no sanitizer report.
 */
export async function runAgainstBackend(title, scenarios) {
  let skip = backendMissing();
  let backend = null;
  if (!skip) {
    const r = await startDashboard();
    if (r.skip) { skip = r.skip; stopAll(); } else backend = r;
  }
  if (skip) {
    test(title, { skip }, () => {});
    return;
  }
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
