// The Network Health page against a real Prometheus (Debian `prometheus`) evaluating exactly the
// rules the operator renders for the full FlowCollector sample (`examples/health_rules.rs`),
// scraping a target whose DNS counters make namespace `shop` 90 % NXDomain and `web` 20 %:
// the page's cards must be what Prometheus itself answers for the same rules.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { browser, freePort, newPage, RESULTS, ROOT, run, shot, startConsole, TARGET } from './harness.mjs';

const RULES_BIN = process.env.NETOBSERV_HEALTH_RULES_BIN ?? path.join(TARGET, 'debug/examples/health_rules');
const NXDOMAIN_RECORD = 'netobserv:health:dnsnx_domain:namespace:rate2m';
let target;
let prometheus;
let promUrl;
let withProm;
let withoutProm;
let b;

/** DNS responses per scrape, by namespace: [NXDomain, NoError]. */
const RATES = { shop: [9, 1], web: [2, 8], quiet: [0, 10] };

function serveTarget(port) {
  let scrapes = 0;
  const server = http.createServer((req, res) => {
    scrapes += 1;
    const lines = Object.entries(RATES).flatMap(([ns, [nx, ok]]) => [
      `netobserv_namespace_dns_latency_seconds_count{DstK8S_Namespace="${ns}",DnsFlagsResponseCode="NXDomain"} ${nx * scrapes}`,
      `netobserv_namespace_dns_latency_seconds_count{DstK8S_Namespace="${ns}",DnsFlagsResponseCode="NoError"} ${ok * scrapes}`,
    ]);
    res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' });
    res.end(`${lines.join('\n')}\n`);
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

async function promQuery(query) {
  const r = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(query)}`);
  const v = await r.json();
  return v.data?.result ?? [];
}

before(async () => {
  assert.ok(
    existsSync(RULES_BIN),
    `${RULES_BIN} is missing: run \`cargo build -p netobserv-console --example health_rules\` (make test-ui does)`,
  );
  const dir = path.join(RESULTS, 'health-prometheus');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const rules = path.join(dir, 'rules.json');
  writeFileSync(rules, await run(RULES_BIN, [path.join(ROOT, 'config/samples/flows_v1beta2_flowcollector_full.yaml')]));
  const targetPort = await freePort();
  target = await serveTarget(targetPort);
  const config = path.join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    `global: {scrape_interval: 1s, evaluation_interval: 1s}\nrule_files: [${rules}]\nscrape_configs:\n  - job_name: netobserv\n    static_configs: [{targets: ['127.0.0.1:${targetPort}']}]\n`,
  );
  const promPort = await freePort();
  promUrl = `http://127.0.0.1:${promPort}`;
  prometheus = spawn(
    'prometheus',
    [`--config.file=${config}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  prometheus.stderr.on('data', (d) => (log += d));
  // Until the recording rule has a value for both namespaces (two scrapes, then an evaluation).
  for (let i = 0; ; i++) {
    if (prometheus.exitCode !== null) throw new Error(`prometheus exited: ${log}`);
    try {
      if ((await promQuery(NXDOMAIN_RECORD)).length >= 3) break;
    } catch {
      // not listening yet
    }
    if (i > 300) throw new Error(`no ${NXDOMAIN_RECORD} after 30 s: ${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const consoleConfig = path.join(dir, 'console.yaml');
  writeFileSync(consoleConfig, `prometheus:\n  url: ${promUrl}\n  timeout: 10s\n`);
  withProm = await startConsole(['--config', consoleConfig], 'console-health');
  const noProm = path.join(dir, 'console-no-prometheus.yaml');
  writeFileSync(noProm, 'loki:\n  url: http://127.0.0.1:9/\n');
  withoutProm = await startConsole(['--config', noProm], 'console-health-no-prometheus');
  b = await browser();
});

after(async () => {
  await b?.close();
  withProm?.stop();
  withoutProm?.stop();
  prometheus?.kill('SIGTERM');
  target?.close();
});

/** The cards of the tab, once loaded: entity → { severity, violations: {template, value}[] }. */
async function cards(page) {
  await page.locator('[data-test=health-content][data-loading=false]').waitFor();
  return page.locator('[data-test=health-entity]').evaluateAll((els) =>
    Object.fromEntries(
      els.map((e) => [
        e.getAttribute('data-entity'),
        {
          severity: e.getAttribute('data-severity'),
          violations: [...e.querySelectorAll('[data-test=health-violation]')].map((v) => ({
            template: v.getAttribute('data-template'),
            value: Number(v.getAttribute('data-value')),
            text: v.textContent,
          })),
        },
      ]),
    ),
  );
}

describe('Network Health', () => {
  test("namespaces past the operator's thresholds are the ones Prometheus computes, worst first", async () => {
    const page = await newPage(b);
    await page.goto(`${withProm.url}/network-health`);
    await page.locator('[data-test=health-tab-Namespace]').click();
    const shown = await cards(page);
    const expected = Object.fromEntries((await promQuery(NXDOMAIN_RECORD)).map((s) => [s.metric.DstK8S_Namespace, Number(s.value[1])]));
    assert.ok(Math.abs(expected.shop - 90) < 0.5 && Math.abs(expected.web - 20) < 0.5, JSON.stringify(expected));
    // DNSNxDomain thresholds in the sample: info 10, warning 80; `quiet` passes.
    assert.deepEqual(Object.keys(shown).sort(), ['shop', 'web']);
    const nx = (ns) => shown[ns].violations.find((v) => v.template === 'DNSNxDomain');
    assert.ok(Math.abs(nx('shop').value - expected.shop) < 0.5, `${nx('shop').value} vs ${expected.shop}`);
    assert.ok(Math.abs(nx('web').value - expected.web) < 0.5, `${nx('web').value} vs ${expected.web}`);
    assert.match(nx('shop').text, /warning from 80 %/);
    assert.match(nx('web').text, /info from 10 %/);
    assert.equal(shown.shop.severity, 'warning');
    const order = await page.locator('[data-test=health-entity]').evaluateAll((els) => els.map((e) => e.getAttribute('data-entity')));
    assert.deepEqual(order, ['shop', 'web']);
    assert.deepEqual(page.errors, []);
    await shot(page, 'network-health-namespaces');
    await page.context().close();
  });

  test('alerts of the health rules show with their state, as Prometheus reports them', async () => {
    const page = await newPage(b);
    await page.goto(`${withProm.url}/network-health`);
    const shown = await cards(page);
    const rules = await (await fetch(`${promUrl}/api/v1/rules?type=alert`)).json();
    const alerts = rules.data.groups
      .flatMap((g) => g.rules)
      .filter((r) => r.name === 'DNSErrors_Global')
      .flatMap((r) => r.alerts);
    assert.ok(alerts.length > 0, 'Prometheus has the global DNS errors alert active');
    const global = shown[''];
    assert.ok(global, `no cluster card: ${JSON.stringify(shown)}`);
    const dns = global.violations.find((v) => v.template === 'DNSErrors');
    // (9 + 2) NXDomain of 30 responses per scrape: 36.7 %, above the 5 % warning.
    assert.ok(Math.abs(dns.value - 100 * (11 / 30)) < 0.5, String(dns.value));
    assert.match(dns.text, new RegExp(`alert (${alerts.map((a) => a.state).join('|')})`));
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  test('without Prometheus the page says so', async () => {
    const page = await newPage(b);
    await page.goto(`${withoutProm.url}/network-health`);
    const error = page.locator('[data-test=error-state]');
    await error.waitFor();
    assert.match(await error.innerText(), /Prometheus is not configured/);
    await page.context().close();
  });
});
