// Local mode in headless chromium: the real `netobserv-local` (crates/local) observes one end of a
// veth pair between two network namespaces this test creates (never the host's interfaces), ping
// and TCP go across, and its console shows the flows in the table and the two hosts in the
// topology (Resource scope: one node per address) and the TCP client's process (Process scope).
// The screenshots are docs/local-mode{,-topology,-process}.png, shown in the README. Root only (namespaces, eBPF); fails otherwise. `make test-ui` runs it.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { apiRecords, browser, newPage, RESULTS, ROOT, shot, TARGET, topologyLabels } from './harness.mjs';

const LOCAL = process.env.NETOBSERV_LOCAL_BIN ?? path.join(TARGET, 'debug/netobserv-local');
const ID = `${process.pid % 100000}`;
const NS_A = `nlocala${ID}`;
const NS_B = `nlocalb${ID}`;
const VETH_A = `vla${ID}`;
const VETH_B = `vlb${ID}`;
const A = '10.198.0.1';
const B = '10.198.0.2';

const sh = (cmd, args) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
const inNs = (ns, args) => sh('ip', ['netns', 'exec', ns, ...args]);

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

function cleanupNs() {
  for (const ns of [NS_A, NS_B]) {
    try {
      sh('ip', ['netns', 'del', ns]);
    } catch {
      // not there
    }
  }
}

let local;
let log = '';
let url;
let b;
const store = path.join(RESULTS, 'local-mode.db');

before(async () => {
  assert.equal(process.getuid(), 0, 'local mode loads eBPF programs and creates network namespaces: run as root (make test-ui)');
  assert.ok(existsSync(LOCAL), `${LOCAL} is missing: cargo build -p netobserv-local (make test-ui does)`);
  cleanupNs();
  sh('ip', ['netns', 'add', NS_A]);
  sh('ip', ['netns', 'add', NS_B]);
  sh('ip', ['link', 'add', VETH_A, 'netns', NS_A, 'type', 'veth', 'peer', 'name', VETH_B, 'netns', NS_B]);
  for (const [ns, dev, ip] of [
    [NS_A, VETH_A, A],
    [NS_B, VETH_B, B],
  ]) {
    inNs(ns, ['sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1']);
    inNs(ns, ['ip', 'addr', 'add', `${ip}/24`, 'dev', dev]);
    inNs(ns, ['ip', 'link', 'set', dev, 'up']);
    inNs(ns, ['ip', 'link', 'set', 'lo', 'up']);
  }
  mkdirSync(RESULTS, { recursive: true });
  rmSync(store, { force: true });
  local = spawn(
    LOCAL,
    [
      '--netns',
      `/run/netns/${NS_A}`,
      '--interfaces',
      VETH_A,
      '--cache-active-timeout',
      '300ms',
      '--store',
      store,
      '--console-address',
      '127.0.0.1:0',
      '--metrics-address',
      `127.0.0.1:${await freePort()}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  local.stdout.on('data', (d) => (log += d));
  local.stderr.on('data', (d) => (log += d));
  for (let i = 0; i < 300 && !url; i++) {
    if (local.exitCode !== null) throw new Error(`netobserv-local exited ${local.exitCode}: ${log}`);
    url = /console at (http:\/\/[0-9.:]+)/.exec(log)?.[1];
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(url, `no console line: ${log}`);
  // Traffic until the console answers with it (the hooks attach while the console starts).
  const server = spawn('ip', ['netns', 'exec', NS_B, 'sh', '-c', 'while true; do nc -l 8080 >/dev/null; done'], { stdio: 'ignore' });
  try {
    for (let i = 0; i < 40; i++) {
      inNs(NS_A, ['ping', '-c', '2', '-i', '0.2', B]);
      try {
        // The client stays a second after sending, so that local mode's socket scan names it.
        execFileSync('sh', ['-c', `(head -c 20000 /dev/zero; sleep 1) | ip netns exec ${NS_A} nc -N -w 2 ${B} 8080`], { stdio: 'ignore' });
      } catch {
        // the listener may be between two connections
      }
      const now = Math.floor(Date.now() / 1000);
      const tcp = await apiRecords(
        url,
        `filters=${encodeURIComponent(`SrcAddr=${A}&DstPort=8080`)}&startTime=${now - 300}&endTime=${now + 60}&limit=10`,
      );
      if (tcp.some((r) => r.SrcProcessName)) break;
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    server.kill('SIGKILL');
  }
  b = await browser();
});

after(async () => {
  await b?.close();
  if (local && local.exitCode === null) {
    local.kill('SIGINT');
    await new Promise((r) => local.once('exit', r));
  }
  cleanupNs();
});

describe('local mode console', () => {
  test('the table shows the flows of the run', async () => {
    const page = await newPage(b);
    await page.goto(`${url}/netflow-traffic?tab=table&quick=none`);
    await page.locator('[data-test=flow-row]').first().waitFor({ timeout: 20000 });
    await page.locator('[data-test=flows-count][data-loading=false]').waitFor();
    const src = await page.locator('[data-test=flow-row] td[data-col="Src"]').allInnerTexts();
    const dst = await page.locator('[data-test=flow-row] td[data-col="Dst"]').allInnerTexts();
    assert.ok(src.some((s) => s.includes(A)) && dst.some((d) => d.includes(B)), `rows: ${src} -> ${dst}`);
    assert.ok(
      dst.some((d) => d.includes(B) && d.includes('8080')),
      `a TCP flow to ${B}:8080 in ${dst}`,
    );
    assert.deepEqual(page.errors, []);
    await shot(page, 'local-mode-table');
    copyFileSync(path.join(RESULTS, 'local-mode-table.png'), path.join(ROOT, 'docs/local-mode.png'));
  });

  test('the topology shows the two hosts', async () => {
    const page = await newPage(b);
    await page.goto(`${url}/netflow-traffic?tab=topology&scope=resource&quick=none`);
    await page.waitForFunction(() => performance.getEntriesByName('netobserv:topology').length > 0, null, { timeout: 20000 });
    const labels = await topologyLabels(page, (l) => l.includes(A) && l.includes(B));
    assert.ok(labels.includes(A) && labels.includes(B), `nodes: ${labels}`);
    assert.ok((await page.locator('[data-kind=edge]').count()) >= 1);
    assert.deepEqual(page.errors, []);
    await shot(page, 'local-mode-topology');
    copyFileSync(path.join(RESULTS, 'local-mode-topology.png'), path.join(ROOT, 'docs/local-mode-topology.png'));
  });

  test('the process scope names the TCP client', async () => {
    const page = await newPage(b);
    await page.goto(`${url}/netflow-traffic?tab=topology&scope=process&quick=none`);
    await page.waitForFunction(() => performance.getEntriesByName('netobserv:topology').length > 0, null, { timeout: 20000 });
    const client = (l) => /^nc\S* @ 10\.198\.0\.1$/.test(l);
    const labels = await topologyLabels(page, (l) => l.some(client));
    assert.ok(labels.some(client), `nodes: ${labels}`);
    assert.deepEqual(page.errors, []);
    await shot(page, 'local-mode-process');
    copyFileSync(path.join(RESULTS, 'local-mode-process.png'), path.join(ROOT, 'docs/local-mode-process.png'));
  });

  test('SIGINT stops local mode cleanly', async () => {
    local.kill('SIGINT');
    const code = await new Promise((r) => local.once('exit', r));
    assert.equal(code, 0, log);
    assert.match(log, /stopped: every hook detached/);
  });
});
