// Conversation tracking in the Traffic flows tab: a store written through the pipeline's own
// `conntrack` extract (`ui_fixture --conversations`: flow logs tagged with their conversation,
// and the newConnection / heartbeat / endConnection records), served by the real console
// backend with the frontend record types the operator renders for `processor.logTypes`.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { apiRecords, browser, makeFixture, newPage, RANGE, RESULTS, shot, startConsole } from './harness.mjs';

const ALL = '[flowLog, newConnection, heartbeat, endConnection]';
let all;
let ended;
let b;

before(async () => {
  const fixture = await makeFixture(path.join(RESULTS, 'conversations.db'), 500, ['--conversations']);
  const config = (name, types) => {
    const file = path.join(RESULTS, `${name}.yaml`);
    writeFileSync(file, `store:\n  path: ${fixture}\nfrontend:\n  recordTypes: ${types}\n`);
    return file;
  };
  all = await startConsole(['--config', config('log-types-all', ALL)], 'console-log-types-all');
  ended = await startConsole(['--config', config('log-types-ended', '[endConnection]')], 'console-log-types-ended');
  b = await browser();
});

after(async () => {
  await b?.close();
  all?.stop();
  ended?.stop();
});

async function open(page, base, query) {
  await page.goto(`${base}/netflow-traffic?${RANGE}&quick=none&tab=table&limit=5000&${query}`);
}

/** The table's count once it shows the answer to a query containing `part`. */
async function shown(page, part) {
  await page.locator(`[data-test=flows-count][data-loading=false][data-query*="${part}"]`).waitFor();
  return Number((await page.locator('[data-test=flows-count]').innerText()).split(' ')[0]);
}

const cells = (page, col) => page.locator(`[data-test=flow-row] td[data-col="${col}"]`).allInnerTexts();

describe('conversations', () => {
  test('the log type reads conversation events; the table and its histogram count what the backend answers', async () => {
    const page = await newPage(b);
    await open(page, all.url, '');
    await page.locator('[data-test=flow-row]').first().waitFor();
    const flows = await apiRecords(all.url, `${RANGE}&limit=5000`);
    assert.equal(await shown(page, 'limit=5000'), flows.length);
    assert.ok(
      flows.every((r) => typeof r._HashId === 'string' && r._HashId),
      'flow logs carry their conversation',
    );
    const options = await page.locator('[data-test=record-type] option').evaluateAll((els) => els.map((e) => e.value));
    assert.deepEqual(options, ['flowLog', 'allConnections', 'newConnection', 'heartbeat', 'endConnection']);

    await page.selectOption('[data-test=record-type]', 'allConnections');
    await page.waitForFunction(() => new URL(location.href).searchParams.get('recordType') === 'allConnections');
    const events = await apiRecords(all.url, `${RANGE}&limit=5000&recordType=allConnections`);
    assert.equal(await shown(page, 'recordType=allConnections'), events.length);
    assert.ok(events.length > 0 && events.length < flows.length, `${events.length} events, ${flows.length} flows`);
    assert.match(await page.locator('[data-test=flows-count]').innerText(), /conversation records/);
    assert.deepEqual([...new Set(events.map((r) => r._RecordType))].sort(), ['endConnection', 'heartbeat', 'newConnection']);
    const shownTypes = await cells(page, '_RecordType');
    assert.ok(shownTypes.length > 0);
    for (const t of shownTypes) assert.match(t, /^(newConnection|heartbeat|endConnection)$/);
    // A conversation record's bytes are its two directions' sum.
    for (const t of await cells(page, 'Bytes')) assert.notEqual(t, '');
    const histogram = page.locator('[data-test=flows-histogram]');
    await page.waitForFunction(
      (n) => Number(document.querySelector('[data-test=flows-histogram]')?.getAttribute('data-total')) === n,
      events.length,
    );
    assert.equal(Number(await histogram.getAttribute('data-total')), events.length);
    assert.deepEqual(page.errors, []);
    await shot(page, 'conversations-table');
    await page.context().close();
  });

  test("a record's conversation: its events, and as many flow logs as its numFlowLogs", async () => {
    const page = await newPage(b);
    await open(page, all.url, 'recordType=endConnection');
    await page.locator('[data-test=flow-row]').first().click();
    const panel = page.locator('[data-test=record-panel]');
    await panel.waitFor();
    assert.match(await panel.innerText(), /Conversation record/);
    const hash = await panel.locator('[data-field=_HashId]').innerText();
    const numFlowLogs = Number(await panel.locator('[data-field=numFlowLogs]').innerText());
    await panel.locator('[data-test=show-conversation]').click();
    const filter = `id="${hash}"`;
    await page.waitForFunction((f) => new URL(location.href).searchParams.get('filters') === f, filter);
    const q = (type) => `${RANGE}&limit=5000&recordType=${type}&filters=${encodeURIComponent(filter)}`;
    assert.equal(await shown(page, 'recordType=endConnection'), (await apiRecords(all.url, q('endConnection'))).length);
    assert.deepEqual(new Set(await cells(page, '_HashId')), new Set([hash]));

    await page.selectOption('[data-test=record-type]', 'allConnections');
    const events = await apiRecords(all.url, q('allConnections'));
    assert.equal(await shown(page, 'recordType=allConnections'), events.length);
    assert.deepEqual(events.map((r) => r._RecordType).sort(), ['endConnection', 'heartbeat', 'newConnection']);

    await page.selectOption('[data-test=record-type]', 'flowLog');
    await page.waitForFunction(() => new URL(location.href).searchParams.get('recordType') === null);
    await page.waitForFunction(
      () => !document.querySelector('[data-test=flows-count]')?.getAttribute('data-query')?.includes('recordType'),
    );
    const logs = await apiRecords(all.url, `${RANGE}&limit=5000&filters=${encodeURIComponent(filter)}`);
    assert.equal(await shown(page, 'limit=5000'), logs.length);
    assert.equal(logs.length, numFlowLogs);
    assert.deepEqual(new Set(await cells(page, '_HashId')), new Set([hash]));
    assert.deepEqual(page.errors, []);
    await shot(page, 'conversation-flows');
    await page.context().close();
  });

  test('with only ended conversations stored (logTypes: EndedConversations), the table reads them by default', async () => {
    const page = await newPage(b);
    await open(page, ended.url, '');
    const records = await apiRecords(ended.url, `${RANGE}&limit=5000&recordType=endConnection`);
    assert.ok(records.length > 0);
    assert.equal(await shown(page, 'recordType=endConnection'), records.length);
    const options = await page.locator('[data-test=record-type] option').evaluateAll((els) => els.map((e) => e.value));
    assert.deepEqual(options, ['endConnection']);
    assert.equal(new URL(page.url()).searchParams.get('recordType'), null);
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });
});
