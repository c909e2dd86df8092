// UI tests: the Network Traffic page in headless chromium against the real console backend
// serving a store written by the pipeline's sqlite writer. Each check compares the page with
// what the backend's API answers for the same query, so they fail when either side is wrong.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  apiRecords,
  browser,
  makeFixture,
  newPage,
  RANGE,
  RESULTS,
  shot,
  START_MS,
  startConsole,
  topologyLabels,
  WEB,
} from './harness.mjs';

let store;
let broken;
let b;
let fixture;
const timings = {};

before(async () => {
  fixture = await makeFixture(path.join(RESULTS, 'fixture.db'));
  store = await startConsole(['--store', fixture], 'console-store');
  // A backend whose only source, Loki, is not there: every query fails on the server side.
  const config = path.join(RESULTS, 'broken-loki.yaml');
  writeFileSync(config, 'loki:\n  url: http://127.0.0.1:9/\n  timeout: 2s\n');
  broken = await startConsole(['--config', config], 'console-broken');
  b = await browser();
});

after(async () => {
  await b?.close();
  store?.stop();
  broken?.stop();
  writeFileSync(path.join(RESULTS, 'timings.json'), `${JSON.stringify(timings, null, 2)}\n`);
});

/** The page at `query` (quick filters off unless given, the fixture's time range). */
async function open(page, query, base = store.url) {
  const q = query.includes('quick=') ? query : `${query}&quick=none`;
  await page.goto(`${base}/netflow-traffic?${RANGE}&${q}`);
}

const cells = (page, col) => page.locator(`[data-test=flow-row] td[data-col="${col}"]`).allInnerTexts();

describe('Network Traffic page', () => {
  test('the three tabs render from the backend, each timed from navigation start', async () => {
    const page = await newPage(b);
    for (const tab of ['overview', 'table', 'topology']) {
      await open(page, `tab=${tab}`);
      await page.waitForFunction((n) => performance.getEntriesByName(n).length > 0, `netobserv:${tab}`, { timeout: 20000 });
      timings[tab] = await page.evaluate((n) => {
        const nav = performance.getEntriesByType('navigation')[0];
        const fcp = performance.getEntriesByName('first-contentful-paint')[0];
        return {
          dataRenderedMs: Math.round(performance.getEntriesByName(n)[0].startTime),
          firstContentfulPaintMs: fcp ? Math.round(fcp.startTime) : null,
          domContentLoadedMs: Math.round(nav.domContentLoadedEventEnd),
        };
      }, `netobserv:${tab}`);
      await page.waitForTimeout(tab === 'topology' ? 1200 : 300);
      await shot(page, `tab-${tab}`);
    }
    // Overview: drops by cause and DNS response codes carry the fixture's values.
    await open(page, 'tab=overview');
    const cause = page.locator('[data-test=panel-cause_dropped_packet_rates] [data-test=panel-values]');
    await cause.waitFor();
    assert.match(await cause.innerText(), /SKB_DROP_REASON_NETFILTER_DROP/);
    const rcodes = await page.locator('[data-test=panel-rcode_dns_latency_flows] [data-test=panel-values]').innerText();
    assert.match(rcodes, /NoError/);
    assert.match(rcodes, /NXDomain/);
    const top = await page.locator('[data-test=panel-top_avg_byte_rates] [data-test=panel-values] li').count();
    assert.ok(top >= 3, `top byte rates shows ${top} series`);
    // The panel picker removes a panel and says so in the URL.
    await page.click('[data-test=panel-picker]');
    assert.equal(await page.locator('[data-test=panel-top_avg_rtt]').count(), 1);
    await page.getByRole('checkbox', { name: 'Top average TCP smoothed RTT' }).click();
    await page.waitForFunction(() => new URL(location.href).searchParams.get('panels') !== null);
    assert.equal(await page.locator('[data-test=panel-top_avg_rtt]').count(), 0);
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  test('a filter picked from the autocompletion narrows the table and goes in the URL', async () => {
    const page = await newPage(b);
    await open(page, 'tab=table&limit=5000');
    await page.locator('[data-test=flow-row]').first().waitFor();
    const before = Number((await page.locator('[data-test=flows-count]').innerText()).split(' ')[0]);
    await page.selectOption('[data-test=filter-id]', 'src_namespace');
    await page.fill('[data-test=filter-value]', 'ns-1');
    await page.locator('[data-test=filter-suggestions]').getByText('ns-1', { exact: true }).click();
    await page.waitForFunction(() => new URL(location.href).searchParams.get('filters') === 'src_namespace="ns-1"');
    await page.waitForFunction((n) => !document.querySelector('[data-test=flows-count]')?.textContent?.startsWith(`${n} `), before);
    const after = Number((await page.locator('[data-test=flows-count]').innerText()).split(' ')[0]);
    const expected = await apiRecords(store.url, `${RANGE}&limit=5000&filters=${encodeURIComponent('src_namespace="ns-1"')}`);
    assert.equal(after, expected.length);
    assert.ok(after > 0 && after < before, `${after} of ${before}`);
    for (const t of await cells(page, 'Src')) assert.match(t, / ns-1\//);
    await shot(page, 'table-filtered');
    // Back goes to the unfiltered view.
    await page.goBack();
    await page.waitForFunction(() => new URL(location.href).searchParams.get('filters') === null);
    // From the keyboard: type, arrow down to the suggestion, Enter.
    await page.selectOption('[data-test=filter-id]', 'dst_namespace');
    await page.fill('[data-test=filter-value]', 'openshift');
    await page.locator('[data-test=filter-suggestions]').getByText('openshift-dns', { exact: true }).waitFor();
    await page.press('[data-test=filter-value]', 'ArrowDown');
    await page.press('[data-test=filter-value]', 'Enter');
    await page.waitForFunction(() => new URL(location.href).searchParams.get('filters') === 'dst_namespace="openshift-dns"');
    await page.locator('[data-test=flows-count][data-loading=false][data-query*="openshift-dns"]').waitFor();
    for (const t of await cells(page, 'Dst')) assert.match(t, /^Service openshift-dns\/dns-default /);
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  test('network events read as sentences', async () => {
    const page = await newPage(b);
    await open(page, `tab=table&filters=${encodeURIComponent('network_events="deny-egress"')}`);
    await page.locator('[data-test=flow-row]').first().waitFor();
    const texts = await cells(page, 'NetworkEvents');
    assert.ok(texts.length > 0);
    for (const t of texts) assert.match(t, /^Dropped by network policy deny-egress in namespace ns-\d, direction Egress$/);
    await page.context().close();
  });

  test('a Service flow shows its translated endpoint', async () => {
    const page = await newPage(b);
    const filters = 'dst_kind="Service"&dst_port=80';
    await open(page, `tab=table&sort=Bytes&order=desc&filters=${encodeURIComponent(filters)}`);
    await page.locator('[data-test=flow-row]').first().waitFor();
    const expected = (await apiRecords(store.url, `${RANGE}&limit=1000&filters=${encodeURIComponent(filters)}`)).sort(
      (a, b) => b.Bytes - a.Bytes,
    )[0];
    const [xlat] = await cells(page, 'XlatDstEndpoint');
    assert.equal(
      xlat,
      `Pod ${expected.XlatDstK8S_Namespace}/${expected.XlatDstK8S_Name} (${expected.XlatDstAddr}:${expected.XlatDstPort})`,
    );
    const [zone] = await cells(page, 'ZoneId');
    assert.equal(zone, String(expected.ZoneId));
    // The README's picture: policy drops and Service flows in one view.
    const any = encodeURIComponent('network_events="deny-egress"&dst_kind="Service"');
    await open(page, `tab=table&match=any&filters=${any}&cols=Src,Dst,Proto,XlatDstEndpoint,NetworkEvents,Bytes&sort=Bytes`);
    await page.locator('[data-test=flow-row]').first().waitFor();
    await shot(page, 'readme-network-traffic');
    await page.context().close();
  });

  test('the side panel opens with the whole record, by mouse and by keyboard', async () => {
    const page = await newPage(b);
    await open(page, 'tab=table&sort=Bytes&order=desc');
    const rows = page.locator('[data-test=flow-row]');
    await rows.first().waitFor();
    const expected = (await apiRecords(store.url, `${RANGE}&limit=1000`)).sort((a, b) => b.Bytes - a.Bytes);
    await rows.first().click();
    const panel = page.locator('[data-test=record-panel]');
    await panel.waitFor();
    assert.equal(await panel.locator('[data-field=SrcAddr]').innerText(), expected[0].SrcAddr);
    assert.equal(await panel.locator('[data-field=SrcPort]').innerText(), String(expected[0].SrcPort));
    await shot(page, 'side-panel');
    // Keyboard: down twice from the clicked row, Enter opens that record; Escape closes.
    await page.focus('[data-test=flows-scroller]');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    await page.waitForFunction(
      (p) => document.querySelector('[data-test=record-panel] [data-field=SrcPort]')?.textContent === p,
      String(expected[2].SrcPort),
    );
    await page.keyboard.press('Escape');
    await panel.waitFor({ state: 'detached' });
    await page.context().close();
  });

  test('the table is virtualised, columns can be picked, CSV export matches', async () => {
    const page = await newPage(b);
    await open(page, 'tab=table&limit=5000');
    await page.locator('[data-test=flow-row]').first().waitFor();
    const count = Number((await page.locator('[data-test=flows-count]').innerText()).split(' ')[0]);
    const inDom = await page.locator('[data-test=flow-row]').count();
    assert.ok(count >= 1000 && inDom < 100, `${inDom} rows in the DOM for ${count} flows`);
    await page.click('[data-test=columns-open]');
    await page.getByLabel('DNS query name').check();
    await page.click('[data-test=columns-save]');
    await page.waitForFunction(() => (new URL(location.href).searchParams.get('cols') ?? '').includes('DnsName'));
    assert.equal(await page.locator('th[data-col=DnsName]').count(), 1);
    const href = await page.locator('[data-test=export-csv]').getAttribute('href');
    const csv = await (await fetch(new URL(href, store.url))).text();
    assert.ok(csv.split('\n')[0].split(',').includes('DnsName'), csv.split('\n')[0]);
    assert.equal(csv.trim().split('\n').length, count + 1);
    await page.context().close();
  });

  test('the topology shows the namespaces and the traffic between them; a node filters', async () => {
    const page = await newPage(b);
    await open(page, 'tab=topology');
    await page.waitForFunction(() => performance.getEntriesByName('netobserv:topology').length > 0, null, { timeout: 20000 });
    const r = await fetch(`${store.url}/api/flow/metrics?${RANGE}&aggregateBy=namespace&type=Bytes&function=sum&limit=50&step=60s`);
    const series = (await r.json()).result;
    const names = new Set(
      series.flatMap((s) => [s.metric.SrcK8S_Namespace || 'External / unknown', s.metric.DstK8S_Namespace || 'External / unknown']),
    );
    const labels = new Set(await topologyLabels(page, (l) => l.length >= names.size));
    assert.deepEqual([...labels].sort(), [...names].sort());
    assert.ok(names.has('openshift-dns') && names.has('ns-0'));
    const pairs = new Set(series.map((s) => `${s.metric.SrcK8S_Namespace ?? ''}>${s.metric.DstK8S_Namespace ?? ''}`));
    assert.equal(await page.locator('[data-kind=edge]').count(), pairs.size);
    assert.equal(await page.locator('[data-test=topology-summary]').innerText(), `${names.size} nodes, ${pairs.size} edges`);
    await shot(page, 'topology');
    // Select the openshift-dns node, filter on it.
    await page.locator('[data-test=topology-node][data-label="openshift-dns"]').locator('xpath=..').dispatchEvent('click');
    await page.locator('[data-test=topology-panel]').waitFor();
    await page.click('[data-test=topology-filter-node]');
    await page.waitForFunction(() => new URL(location.href).searchParams.get('filters') === 'namespace="openshift-dns"');
    await page.waitForFunction(() => !document.querySelector('[data-test=topology-summary]')?.textContent?.startsWith('8 '));
    // From a node to its flows in the table.
    await page.locator('[data-test=topology-node][data-label="openshift-dns"]').locator('xpath=..').dispatchEvent('click');
    await page.click('[data-test=topology-show-flows]');
    await page.waitForFunction(() => new URL(location.href).searchParams.get('tab') === 'table');
    await page.locator('[data-test=flows-count][data-loading=false]').waitFor();
    for (const t of await cells(page, 'Dst')) assert.match(t, /openshift-dns\//);
    await page.goBack();
    await page.waitForFunction(
      () =>
        /^[0-9]+ nodes/.test(document.querySelector('[data-test=topology-summary]')?.textContent ?? '') &&
        !document.querySelector('[data-test=topology-summary]')?.textContent?.startsWith('8 '),
    );
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  test('backend errors and empty results are readable messages', async () => {
    const page = await newPage(b);
    // A filter the backend refuses (400).
    await open(page, `tab=table&filters=${encodeURIComponent('dst_port>=abc')}`);
    const msg = page.locator('[data-test=error-message]');
    await msg.waitFor();
    assert.match(await msg.innerText(), /^The backend answered 400: .+/);
    // No match.
    await open(page, `tab=table&filters=${encodeURIComponent('namespace="no-such-namespace"')}`);
    await page.locator('[data-test=empty-state]').waitFor();
    // A backend whose Loki is unreachable: the table says so.
    await open(page, 'tab=table', broken.url);
    await msg.waitFor({ timeout: 15000 });
    assert.match(await msg.innerText(), /^The backend answered 5\d\d: .*Loki/i);
    await shot(page, 'backend-error');
    await open(page, 'tab=overview', broken.url);
    await page.locator('[data-test=panel-top_avg_byte_rates] [data-test=error-message]').waitFor({ timeout: 15000 });
    // The backend goes away after the page loaded: a refresh says it cannot be reached and keeps the rows.
    const doomed = await startConsole(['--store', fixture], 'console-doomed');
    await open(page, 'tab=table', doomed.url);
    await page.locator('[data-test=flows-count][data-loading=false]').waitFor();
    doomed.stop();
    // Wait until nothing answers on its port any more.
    for (let i = 0; i < 50; i++) {
      try {
        await fetch(`${doomed.url}/api/status`);
        await new Promise((r) => setTimeout(r, 100));
      } catch {
        break;
      }
    }
    await page.click('[data-test=refresh-now]');
    await page.getByText(/Refresh failed: Cannot reach the console backend/).waitFor();
    assert.ok((await page.locator('[data-test=flow-row]').count()) > 0);
    await page.context().close();
  });

  test('a capture file opened in the page is what the queries read', async () => {
    const page = await newPage(b);
    // A smaller capture than the served store, so the counts tell which one the page reads.
    const copy = await makeFixture(path.join(RESULTS, 'capture-upload.db'), 300);
    await open(page, 'tab=table');
    await page.setInputFiles('[data-test=capture-input]', copy);
    await page.waitForFunction(() => new URL(location.href).searchParams.get('capture') !== null);
    await page.locator('[data-test=capture-label]').waitFor();
    await page.locator('[data-test=flow-row]').first().waitFor();
    const id = await page.evaluate(() => new URL(location.href).searchParams.get('capture'));
    const shown = Number((await page.locator('[data-test=flows-count]').innerText()).split(' ')[0]);
    const url = new URL(page.url());
    const expected = await apiRecords(
      store.url,
      `startTime=${url.searchParams.get('startTime')}&endTime=${url.searchParams.get('endTime')}&capture=${id}&limit=1000`,
    );
    assert.equal(shown, expected.length);
    assert.equal(shown, 300);
    const list = await (await fetch(`${store.url}/api/captures`)).json();
    assert.ok(JSON.stringify(list).includes(id), `capture ${id} not in ${JSON.stringify(list)}`);
    await page.context().close();
  });

  test('the dark theme follows the system', async () => {
    const page = await newPage(b, { colorScheme: 'dark' });
    await open(page, 'tab=table');
    await page.locator('[data-test=flow-row]').first().waitFor();
    assert.equal(await page.evaluate(() => document.documentElement.classList.contains('pf-v6-theme-dark')), true);
    await shot(page, 'table-dark');
    // Chart labels follow the theme's text colour (Victory's inline grey would vanish on dark).
    await open(page, 'tab=overview');
    await page.waitForFunction(() => performance.getEntriesByName('netobserv:overview').length > 0);
    const fill = () => page.evaluate(() => getComputedStyle(document.querySelector('.netobserv-chart svg text')).fill);
    const darkFill = await fill();
    const darkText = await page.evaluate(() => getComputedStyle(document.querySelector('h1')).color);
    assert.equal(darkFill, darkText);
    await shot(page, 'overview-dark');
    await page.emulateMedia({ colorScheme: 'light' });
    await page.waitForFunction(() => !document.documentElement.classList.contains('pf-v6-theme-dark'));
    await page.context().close();
  });
});

describe('flows histogram', () => {
  test('the histogram counts the flows of the table, and a bar narrows the time range to its step', async () => {
    const page = await newPage(b);
    await open(page, 'tab=table&limit=5000');
    const histogram = page.locator('[data-test=flows-histogram]');
    await histogram.waitFor();
    const all = await apiRecords(store.url, `${RANGE}&limit=5000`);
    assert.equal(Number(await histogram.getAttribute('data-total')), all.length);
    await histogram.locator('path[role=presentation]').nth(3).dispatchEvent('click');
    await page.waitForFunction(() => {
      const u = new URL(location.href).searchParams;
      return u.get('startTime') !== null && Number(u.get('endTime')) - Number(u.get('startTime')) <= 60;
    });
    const u = new URL(page.url()).searchParams;
    const range = `startTime=${u.get('startTime')}&endTime=${u.get('endTime')}`;
    await page.locator(`[data-test=flows-count][data-loading=false][data-query*="${range}"]`).waitFor();
    const expected = await apiRecords(store.url, `${range}&limit=5000`);
    assert.ok(expected.length > 0 && expected.length < all.length);
    assert.equal(Number((await page.locator('[data-test=flows-count]').innerText()).split(' ')[0]), expected.length);
    await page.context().close();
  });
});

describe('toolbar settings in the URL', () => {
  const count = async (page) => Number((await page.locator('[data-test=flows-count]').innerText()).split(' ')[0]);
  const settle = (page) => page.waitForFunction(() => !!document.querySelector('[data-test=flows-count]'));

  test('quick filters, match any and back-and-forth query what the backend answers for the same filters', async () => {
    const page = await newPage(b);
    await open(page, 'tab=table&limit=5000');
    await settle(page);
    const all = await count(page);
    await page.check('[data-test="quick-DNS"]');
    await page.waitForFunction(() => new URL(location.href).searchParams.get('quick') === 'DNS');
    await page.waitForFunction((n) => !document.querySelector('[data-test=flows-count]')?.textContent?.startsWith(`${n} `), all);
    const dns = await apiRecords(store.url, `${RANGE}&limit=5000&filters=${encodeURIComponent('dns_id!=""')}`);
    assert.equal(await count(page), dns.length);
    assert.ok(dns.length > 0 && dns.every((r) => r.DnsId !== undefined));

    const pair = encodeURIComponent('src_namespace="ns-1"&dst_namespace="ns-2"');
    const cases = [
      ['all', 'src_namespace="ns-1"&dst_namespace="ns-2"'],
      ['any', 'src_namespace="ns-1"|dst_namespace="ns-2"'],
      ['bidirectional', 'src_namespace="ns-1"&dst_namespace="ns-2"|dst_namespace="ns-1"&src_namespace="ns-2"'],
    ];
    const seen = [];
    for (const [match, backend] of cases) {
      await open(page, `tab=table&limit=5000&filters=${pair}&match=${match}`);
      await settle(page);
      const expected = await apiRecords(store.url, `${RANGE}&limit=5000&filters=${encodeURIComponent(backend)}`);
      assert.equal(await count(page), expected.length, match);
      assert.equal(await page.locator('[data-test=filter-match]').inputValue(), match);
      seen.push(expected.length);
    }
    // all ⊂ back-and-forth ⊂ any, strictly on this fixture.
    assert.ok(seen[0] < seen[2] && seen[2] < seen[1], JSON.stringify(seen));
    // The chips come back from the URL after a reload.
    await page.reload();
    await settle(page);
    assert.match(await page.locator('[data-test=active-filters]').innerText(), /ns-1[\s\S]*ns-2/);
    await page.context().close();
  });

  test('the packet-loss option queries what the backend answers for it', async () => {
    const page = await newPage(b);
    await open(page, 'tab=table&limit=5000');
    await settle(page);
    await page.selectOption('[data-test=packet-loss]', 'hasDrops');
    await page.waitForFunction(() => new URL(location.href).searchParams.get('packetLoss') === 'hasDrops');
    await page.locator('[data-test=flows-count][data-loading=false][data-query*="packetLoss=hasDrops"]').waitFor();
    const expected = await apiRecords(store.url, `${RANGE}&limit=5000&packetLoss=hasDrops`);
    assert.ok(expected.length > 0 && expected.every((r) => r.PktDropPackets >= 1));
    assert.equal(await count(page), expected.length);
    await page.context().close();
  });

  test('time range and refresh interval are in the URL; refresh queries again', async () => {
    const page = await newPage(b);
    await open(page, 'tab=table');
    await settle(page);
    // Refresh now queries the records again.
    const again = page.waitForRequest((r) => r.url().includes('/api/loki/flow/records'));
    await page.click('[data-test=refresh-now]');
    await again;
    await page.selectOption('[data-test=refresh]', '15');
    await page.waitForFunction(() => new URL(location.href).searchParams.get('refresh') === '15');
    // The fixture is in 2023: the last 15 minutes hold nothing, and the page says so.
    await page.selectOption('[data-test=time-range]', '900');
    await page.waitForFunction(() => {
      const u = new URL(location.href).searchParams;
      return u.get('timeRange') === '900' && u.get('startTime') === null;
    });
    await page.locator('[data-test=empty-state]').waitFor();
    // A custom range back on the fixture's minutes brings the flows back.
    await page.selectOption('[data-test=time-range]', 'edit');
    await page.locator('[data-test=custom-range]').waitFor();
    const local = (ms) => new Date(ms - new Date(ms).getTimezoneOffset() * 60000).toISOString().slice(0, 19);
    await page.fill('[data-test=range-from]', local(START_MS));
    await page.fill('[data-test=range-to]', local(START_MS + 120_000));
    await page.click('[data-test=range-apply]');
    await page.waitForFunction((s) => {
      const u = new URL(location.href).searchParams;
      return u.get('startTime') === String(s) && u.get('endTime') === String(s + 120) && u.get('timeRange') === null;
    }, START_MS / 1000);
    await page.locator(`[data-test=flows-count][data-loading=false][data-query*="endTime=${START_MS / 1000 + 120}"]`).waitFor();
    const expected = await apiRecords(store.url, `startTime=${START_MS / 1000}&endTime=${START_MS / 1000 + 120}&limit=1000`);
    assert.equal(Number((await page.locator('[data-test=flows-count]').innerText()).split(' ')[0]), expected.length);
    await page.context().close();
  });
});

describe('topology interactions', () => {
  test('step into a namespace, group by namespace, filter on an edge', async () => {
    const page = await newPage(b);
    await open(page, 'tab=topology');
    await page.waitForFunction(() => performance.getEntriesByName('netobserv:topology').length > 0, null, { timeout: 20000 });
    await page.locator('[data-test=topology-node][data-label="ns-1"]').locator('xpath=..').dispatchEvent('click');
    await page.click('[data-test=topology-step-into]');
    await page.waitForFunction(() => {
      const u = new URL(location.href).searchParams;
      return u.get('scope') === 'owner' && u.get('filters') === 'namespace="ns-1"';
    });
    await page.waitForFunction(() =>
      [...document.querySelectorAll('[data-test=topology-node]')].some((n) => (n.getAttribute('data-label') ?? '').startsWith('ns-1/')),
    );
    const labels = await page.locator('[data-test=topology-node]').evaluateAll((els) => els.map((e) => e.getAttribute('data-label')));
    assert.ok(
      labels.some((l) => l.startsWith('ns-1/app-1-')),
      labels.join(' '),
    );
    // Every edge touches ns-1.
    const r = await fetch(
      `${store.url}/api/flow/metrics?${RANGE}&aggregateBy=owner&type=Bytes&function=sum&limit=50&step=60s&filters=${encodeURIComponent('namespace="ns-1"')}`,
    );
    const series = (await r.json()).result;
    assert.ok(series.length > 0 && series.every((s) => s.metric.SrcK8S_Namespace === 'ns-1' || s.metric.DstK8S_Namespace === 'ns-1'));
    assert.equal(
      await page.locator('[data-kind=edge]').count(),
      series.length,
      `page: ${await page.locator('[data-test=topology-summary]').innerText()}, ${page.url()}`,
    );
    // Groups: one per namespace among the nodes.
    await page.selectOption('[data-test=topology-group]', 'namespace');
    await page.waitForFunction(() => document.querySelectorAll('[data-kind=node][data-type=group]').length > 0);
    const namespaces = new Set(series.flatMap((s) => [s.metric.SrcK8S_Namespace, s.metric.DstK8S_Namespace]).filter(Boolean));
    const groups = await page
      .locator('[data-kind=node][data-type=group]')
      .evaluateAll((els) => [...new Set(els.map((e) => e.getAttribute('data-id')))].sort());
    assert.deepEqual(groups, [...namespaces].map((n) => `group:${n}`).sort());
    await shot(page, 'topology-owner-grouped');
    // An edge's panel filters on both ends.
    await page.selectOption('[data-test=topology-group]', 'none');
    await page.selectOption('[data-test=topology-scope]', 'namespace');
    await page.waitForFunction(() => new URL(location.href).searchParams.get('scope') === 'namespace');
    await page.waitForFunction(() => document.querySelectorAll('[data-kind=edge]').length > 0);
    // The layout may still be moving: dispatch the click rather than wait for a still target.
    await page.locator('[data-kind=edge] .pf-topology__edge__tag').first().dispatchEvent('click');
    await page.locator('[data-test=topology-filter-edge]').click();
    await page.waitForFunction(() =>
      /src_namespace=.*&dst_namespace=|dst_namespace=.*src_namespace=/.test(new URL(location.href).searchParams.get('filters') ?? ''),
    );
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });
});

describe('embedded UI', () => {
  test('the binary built after `make ui` serves the same page without --web-dir', async () => {
    const server = await startConsole(['--store', fixture], 'console-embedded', { embedded: true });
    try {
      const built = readFileSync(path.join(WEB, 'build/standalone/index.html'), 'utf8');
      assert.equal(await (await fetch(`${server.url}/`)).text(), built, 'rebuild netobserv-console after make ui (make test-ui does)');
      const page = await newPage(b);
      await open(page, 'tab=table', server.url);
      await page.locator('[data-test=flows-count][data-loading=false]').waitFor();
      assert.ok((await page.locator('[data-test=flow-row]').count()) > 0);
      const manifest = await fetch(`${server.url}/plugin-manifest.json`);
      assert.equal(manifest.status, 200);
      assert.equal((await manifest.json()).name, 'netobserv-plugin');
      await page.context().close();
    } finally {
      server.stop();
    }
  });
});

describe('overview sankey', () => {
  test("the top_sankey panel draws the backend's top flows between namespaces, each band as wide as its rate", async () => {
    const page = await newPage(b);
    await open(page, 'tab=overview&panels=top_sankey&scope=namespace');
    await page.locator('[data-test=panel-top_sankey] [data-test=sankey]').waitFor();
    const r = await fetch(`${store.url}/api/flow/metrics?${RANGE}&aggregateBy=namespace&type=Bytes&function=rate&limit=8`);
    const series = (await r.json()).result;
    const name = (v) => v || 'External / unknown';
    const mean = (s) => s.values.reduce((a, [, v]) => a + Number(v), 0) / s.values.length;
    const expected = new Map();
    for (const s of series) {
      const k = `${name(s.metric.SrcK8S_Namespace)}>${name(s.metric.DstK8S_Namespace)}`;
      expected.set(k, (expected.get(k) ?? 0) + mean(s));
    }
    const links = await page.locator('[data-test=panel-top_sankey] [data-test=sankey-link]').evaluateAll((els) =>
      els.map((e) => ({
        k: `${e.getAttribute('data-source')}>${e.getAttribute('data-target')}`,
        v: Number(e.getAttribute('data-value')),
        w: Number(e.getAttribute('stroke-width')),
      })),
    );
    assert.ok(series.length > 1);
    assert.deepEqual(links.map((l) => l.k).sort(), [...expected.keys()].sort());
    for (const l of links)
      assert.ok(Math.abs(l.v - expected.get(l.k)) <= 1e-9 * expected.get(l.k), `${l.k}: ${l.v} vs ${expected.get(l.k)}`);
    // Band widths follow the rates (bands thinner than a pixel are drawn at one).
    const wide = links.filter((l) => l.w > 1).sort((a, z) => z.v - a.v);
    for (let i = 1; i < wide.length; i++) {
      const ratio = wide[0].w / wide[i].w;
      assert.ok(Math.abs(ratio - wide[0].v / wide[i].v) < 0.01 * ratio, `${wide[0].k} / ${wide[i].k}`);
    }
    const sources = await page
      .locator('[data-test=sankey-node][data-side=src]')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-label')));
    assert.deepEqual(new Set(sources), new Set(series.map((s) => name(s.metric.SrcK8S_Namespace))));
    assert.deepEqual(page.errors, []);
    await shot(page, 'overview-sankey');
    await page.context().close();
  });
});

describe('configured panels', () => {
  test('a custom_<fn>_<aggregateBy>_<type> panel of the frontend configuration is drawn', async () => {
    const config = path.join(RESULTS, 'custom-panels.yaml');
    writeFileSync(config, `store:\n  path: ${fixture}\nfrontend:\n  panels: [top_avg_byte_rates, custom_rate_Proto_Bytes]\n`);
    const server = await startConsole(['--config', config], 'console-custom-panels');
    try {
      const page = await newPage(b);
      await open(page, 'tab=overview', server.url);
      const values = page.locator('[data-test=panel-custom_rate_Proto_Bytes] [data-test=panel-values]');
      await values.waitFor();
      const text = await values.innerText();
      assert.match(text, /TCP/);
      assert.match(text, /UDP/);
      assert.equal(
        await page
          .locator('[data-test^=panel-]')
          .filter({ has: page.locator('[data-test=panel-values]') })
          .count(),
        2,
      );
      await page.context().close();
    } finally {
      server.stop();
    }
  });
});

describe('resource views', () => {
  test("/resource/Pod/<namespace>/<name> shows only that pod's traffic, like the console's resource tabs", async () => {
    const page = await newPage(b);
    const [rec] = await apiRecords(store.url, `${RANGE}&limit=1`);
    const ns = rec.SrcK8S_Namespace;
    const pod = rec.SrcK8S_Name;
    await page.goto(`${store.url}/resource/Pod/${ns}/${pod}?${RANGE}&quick=none&tab=table`);
    await page.locator('[data-test=flows-count][data-loading=false]').waitFor();
    assert.equal(await page.locator('[data-test=page-title]').innerText(), `Network Traffic: Pod ${ns}/${pod}`);
    const expected = await apiRecords(store.url, `${RANGE}&limit=1000&filters=${encodeURIComponent(`name="${pod}"&namespace="${ns}"`)}`);
    const shown = Number((await page.locator('[data-test=flows-count]').innerText()).split(' ')[0]);
    assert.equal(shown, expected.length);
    assert.ok(expected.every((r) => r.SrcK8S_Name === pod || r.DstK8S_Name === pod));
    // The resource's filter is not a chip the user could remove.
    assert.equal(await page.locator('[data-test=active-filters]').count(), 0);
    await page.context().close();
  });
});
