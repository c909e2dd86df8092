// Shared by the UI tests: the real `netobserv-console` binary serving the fixture store (written
// by the pipeline's sqlite writer, `cargo run --example ui_fixture`), and headless Debian chromium
// driven by playwright-core.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const WEB = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT = path.resolve(WEB, '../../..');
export const TARGET = process.env.CARGO_TARGET_DIR ? path.resolve(process.env.CARGO_TARGET_DIR) : path.join(ROOT, 'target');
export const BIN = process.env.NETOBSERV_CONSOLE_BIN ?? path.join(TARGET, 'debug/netobserv-console');
export const FIXTURE_BIN = process.env.NETOBSERV_UI_FIXTURE_BIN ?? path.join(TARGET, 'debug/examples/ui_fixture');
export const RESULTS = path.join(WEB, 'test-results');
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** The fixture's time span: flows from START_MS over 240 s. */
export const START_MS = 1_700_000_000_000;
export const RANGE = `startTime=${START_MS / 1000}&endTime=${START_MS / 1000 + 300}`;

function need(file, how) {
  if (!existsSync(file)) throw new Error(`${file} is missing: ${how}`);
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${out}`))));
  });
}

/** Writes the fixture store with the pipeline's sqlite writer. */
export async function makeFixture(file, count = 2000, extra = []) {
  need(FIXTURE_BIN, 'run `cargo build -p netobserv-console --example ui_fixture` (make test-ui does)');
  mkdirSync(path.dirname(file), { recursive: true });
  await run(FIXTURE_BIN, [file, String(START_MS), String(count), ...extra]);
  return file;
}

/** Starts the console backend with `args`; resolves once it answers. */
export async function startConsole(args, name, { embedded = false } = {}) {
  need(BIN, 'run `cargo build -p netobserv-console` (make test-ui does)');
  need(path.join(WEB, 'build/standalone/index.html'), 'run `npm run build` in crates/console/web (make ui does)');
  const port = await freePort();
  const metrics = await freePort();
  const web = embedded ? [] : ['--web-dir', path.join(WEB, 'build')];
  const proc = spawn(BIN, [...args, '--port', String(port), '--metrics-port', String(metrics), '--address', '127.0.0.1', ...web], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  proc.stderr.on('data', (d) => (log += d));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (proc.exitCode !== null) throw new Error(`${name}: netobserv-console exited ${proc.exitCode}: ${log}`);
    try {
      const r = await fetch(`${url}/api/status`);
      if (r.ok) break;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    log: () => log,
    stop: () => {
      proc.kill('SIGTERM');
      mkdirSync(RESULTS, { recursive: true });
      writeFileSync(path.join(RESULTS, `${name}.log`), log);
    },
  };
}

/** Headless chromium. */
export async function browser() {
  need(CHROMIUM, 'install Debian chromium (scripts/prerequisites.sh does)');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/** A page that fails the test on uncaught page errors (collected in `errors`). */
export async function newPage(b, opts = {}) {
  const context = await b.newContext({ viewport: { width: 1600, height: 1000 }, ...opts });
  const page = await context.newPage();
  page.setDefaultTimeout(10000);
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  return page;
}

/** Saves a screenshot under test-results/. */
export async function shot(page, name) {
  mkdirSync(RESULTS, { recursive: true });
  await page.screenshot({ path: path.join(RESULTS, `${name}.png`) });
}

/** The records the backend answers for `query` (to compare the page with). */
export async function apiRecords(base, query) {
  const r = await fetch(`${base}/api/loki/flow/records?${query}`);
  if (!r.ok) throw new Error(`records: ${r.status} ${await r.text()}`);
  const v = await r.json();
  return v.result.flatMap((s) => s.values.map(([, line]) => ({ ...s.stream, ...JSON.parse(line) })));
}

/**
 * The topology's node labels once `ready(labels)` holds, or as they are after `timeout` ms.
 * The page marks `netobserv:topology` when the layout of a non-empty graph ends, which can be
 * before React has put the nodes in the DOM; reading them at once sometimes found none.
 */
export async function topologyLabels(page, ready = (labels) => labels.length > 0, timeout = 10000) {
  const read = () => page.locator('[data-test=topology-node]').evaluateAll((els) => els.map((e) => e.getAttribute('data-label')));
  const deadline = Date.now() + timeout;
  let labels = await read();
  while (!ready(labels) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    labels = await read();
  }
  return labels;
}
