// Figures for the README (not a test): the UI build's sizes, and each tab's time to first render
// on the fixture (the browser's performance timeline: navigation start to the tab's data drawn),
// median of RUNS fresh page loads. `npm run measure` after `make ui` and the cargo build.
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { browser, makeFixture, RANGE, RESULTS, startConsole, WEB } from './harness.mjs';

const RUNS = Number(process.env.RUNS ?? 5);

function files(dir) {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}
function sizes(dir, filter = () => true) {
  const fs = files(dir).filter(filter);
  const raw = fs.reduce((a, f) => a + statSync(f).size, 0);
  const gz = fs.reduce((a, f) => a + gzipSync(readFileSync(f)).length, 0);
  return `${(raw / 1024).toFixed(0)} KiB (${(gz / 1024).toFixed(0)} KiB gzipped), ${fs.length} files`;
}
const standalone = path.join(WEB, 'build/standalone');
const plugin = path.join(WEB, 'build/plugin');
const html = readFileSync(path.join(standalone, 'index.html'), 'utf8');
const initial = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.(?:js|css))"/g)].map((m) => path.join(standalone, m[1]));
console.log(`standalone, all files: ${sizes(standalone)}`);
console.log(`standalone, JS: ${sizes(standalone, (f) => f.endsWith('.js'))}`);
console.log(`standalone, loaded before any tab (index.html's JS + CSS): ${sizes(standalone, (f) => initial.includes(f))}`);
console.log(`plugin, all files: ${sizes(plugin)}`);
console.log(`plugin, plugin-entry.js: ${sizes(plugin, (f) => f.endsWith('plugin-entry.js'))}`);

const fixture = await makeFixture(path.join(RESULTS, 'measure.db'));
const server = await startConsole(['--store', fixture], 'console-measure');
const b = await browser();
try {
  for (const tab of ['overview', 'table', 'topology']) {
    const data = [];
    const fcp = [];
    for (let i = 0; i < RUNS; i++) {
      const context = await b.newContext({ viewport: { width: 1600, height: 1000 } });
      const page = await context.newPage();
      await page.goto(`${server.url}/netflow-traffic?${RANGE}&quick=none&tab=${tab}`);
      await page.waitForFunction((n) => performance.getEntriesByName(n).length > 0, `netobserv:${tab}`, { timeout: 30000 });
      const t = await page.evaluate(
        (n) => [performance.getEntriesByName(n)[0].startTime, performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? NaN],
        `netobserv:${tab}`,
      );
      data.push(t[0]);
      fcp.push(t[1]);
      await context.close();
    }
    const med = (a) => a.sort((x, y) => x - y)[Math.floor(a.length / 2)].toFixed(0);
    console.log(
      `${tab}: data drawn ${med(data)} ms (min ${Math.min(...data).toFixed(0)}, max ${Math.max(...data).toFixed(0)}), first contentful paint ${med(fcp)} ms; median of ${RUNS} loads`,
    );
  }
} finally {
  await b.close();
  server.stop();
}
