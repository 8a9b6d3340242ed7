// The audit trail (SPEC §14): every rotation, revocation, policy change, client change and sign-in is
// appended to its tenant's trail, with who acted (the operator, `cli:<user>`, the schedule or a
// Management API client), from which address, on which key, and when. The operator reads it on the
// Logs page, newest first, filtered by tenant, event and actor, fifty events a page; while the newest
// page is open, new events appear at the top; what the filter shows downloads as CSV or NDJSON. A log
// shipper reads the same trail through GET /api/v2/logs, and no method edits or deletes an event.
// Each story makes the events it reads on a tenant of its own (made and deleted with the CLI) and
// shows it with the page's tenant filter; sign-ins land on the tenant whose host the operator signed
// in on, which for the browser is the default tenant.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Locator, Page } from '@playwright/test';
import { expect, test } from './support/fixtures';
import * as act from './support/act';
import * as check from './support/check';
import * as find from './support/find';
import { screenshotsDir, tenantDomain } from './support/environment';

/** The columns of a CSV export, in order; the members of an NDJSON line. */
const EXPORT_COLUMNS = ['log_id', 'date', 'type', 'description', 'actor', 'ip', 'kid', 'tenant', 'detail'];
/** Fifty events a page. */
const PAGE_SIZE = 50;
/** Rotations the long trail is made of: more than a page of events, fewer than the rotation limit. */
const ROTATIONS = 55;
/** How long a new event may take to show on an open page: it asks every 2 s, and the machine may be busy. */
const LIVE_WITHIN = 15_000;

// Moving to another page (a filter is a page load, Older events a move in place) cuts short the
// page's question for newer events if one is on its way; that is not a failure of the page.
test.use({ expectedProblemPatterns: [/^request failed: \w+ \S+\/_signet\/list_logs \(net::ERR_ABORTED\)$/] });

/** The rows' event numbers, top to bottom. */
const ids = (logs: { logId: number }[]): number[] => logs.map((log) => log.logId);

/** The rows are newest first: event numbers counting down, dates never going up. */
function newestFirst(logs: find.ShownLog[]): void {
  const numbers = ids(logs);
  expect(numbers, 'event numbers count down, none twice').toEqual([...new Set(numbers)].sort((a, b) => b - a));
  const dates = logs.map((log) => Date.parse(log.date));
  expect(dates.every((date) => !Number.isNaN(date)), 'every row shows its date').toBe(true);
  expect(dates, 'dates never go up').toEqual([...dates].sort((a, b) => b - a));
}

/**
 * A field as the CSV export writes it: so that a spreadsheet never reads a value as a formula, one
 * that could start one gets a `'` first.
 */
const asExported = (value: string): string => (/^[=+\-@\t\r]/.test(value) ? `'${value}` : value);

/** The CSV record of an event the API returned, field by field. */
function csvRecordOf(event: find.LogEvent): string[] {
  const fields = [
    event.log_id,
    event.date,
    event.type,
    event.description,
    event.actor,
    event.ip ?? '',
    event.kid ?? '',
    event.hostname,
    event.details.detail,
  ];
  return fields.map(asExported);
}

/** The NDJSON line of an event the API returned: the same fields, the tenant by name. */
function exportObjectOf(event: find.LogEvent): Record<string, unknown> {
  const { log_id, date, type, description, actor, ip, kid } = event;
  return { log_id, date, type, description, actor, ip, kid, tenant: event.hostname, detail: event.details.detail };
}

/**
 * The records of an RFC 4180 text: fields separated by commas, quoted when they hold a comma, a quote
 * or a line break (a quote doubled inside), every record ended by CRLF. Throws on a line break outside
 * quotes that is not CRLF, or on a last record without one.
 */
function csvRecords(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let quoted = false;
  let fieldStarts = true;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (quoted) {
      if (char !== '"') field += char;
      else if (text[i + 1] === '"') {
        field += '"';
        i++;
      } else quoted = false;
    } else if (char === '"' && fieldStarts) {
      quoted = true;
      fieldStarts = false;
    } else if (char === ',') {
      record.push(field);
      field = '';
      fieldStarts = true;
    } else if (char === '\r' && text[i + 1] === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      fieldStarts = true;
      i++;
    } else if (char === '\r' || char === '\n') {
      throw new Error(`a line break outside quotes that is not CRLF, at character ${i}`);
    } else {
      field += char;
      fieldStarts = false;
    }
  }
  if (quoted || field !== '' || record.length > 0) throw new Error('the last record does not end with CRLF');
  return records;
}

/** Downloads so far: each is kept under a name of its own (two exports of one second share a name). */
let downloads = 0;

/** Clicks an export link and reads the file the browser downloads. */
async function download(page: Page, link: Locator): Promise<{ name: string; text: string }> {
  const downloaded = page.waitForEvent('download');
  await link.click();
  const file = await downloaded;
  downloads += 1;
  const saved = test.info().outputPath(`${downloads}-${file.suggestedFilename()}`);
  await file.saveAs(saved);
  return { name: file.suggestedFilename(), text: readFileSync(saved, 'utf8') };
}

/** The NDJSON lines of an export: one JSON object per line, each line ended by a line feed. */
function ndjsonObjects(text: string): Record<string, unknown>[] {
  const lines = text.split('\n');
  expect(lines.pop(), 'the last line ends with a line feed too').toBe('');
  return lines.map((line) => JSON.parse(line) as Record<string, unknown>);
}

test.describe.serial('Reading the trail on the Logs page', () => {
  /** The stories' own tenant, deleted once they are over. */
  let made: string | undefined;
  test.afterAll(() => {
    if (made) act.deleteTenantWithCli(made);
  });

  test('a rotation on the page and a revocation through the API show on Logs newest first, with who, which key and which tenant; the filter narrows them by event, actor and tenant', async ({
    page,
  }) => {
    // A tenant and its keys are made, and the filtered page loads three times.
    test.setTimeout(60_000);
    const { domain } = await act.createTenantWithCli('logs');
    made = domain;
    const manager = act.createKeyManager(domain);
    const token = await act.getTokenAt(domain, manager);

    // The operator rotates the tenant's key from its Signing Keys page.
    await act.openSigningKeys(page);
    await act.switchTenant(page, domain);
    const before = await check.settledKeys(page);
    const oldCurrent = find.kidIn(before, 'current');
    const oldNext = find.kidIn(before, 'next');
    await act.rotateFromPage(page);
    await check.listedAs(page, oldNext, 'current');
    await check.listedAs(page, oldCurrent, 'previous');

    // A Management API client revokes the key that was current; the open page follows.
    await act.revokeWithApiAt(domain, token, oldCurrent);
    await check.notAmongValidKeys(page, oldCurrent);
    await check.amongRevokedKeys(page, oldCurrent);

    // The Logs tab, next to Signing Keys, shows the trail of the tenant the dashboard shows.
    const tabs = find.tenantTabs(page);
    await expect(tabs.getByRole('link', { name: 'Signing Keys', exact: true })).toHaveAttribute('aria-current', 'page');
    await tabs.getByRole('link', { name: 'Logs', exact: true }).click();
    await act.waitForLogs(page);
    await expect(page).toHaveTitle('Logs · Signet');
    await expect(tabs.getByRole('link', { name: 'Logs', exact: true })).toHaveAttribute('aria-current', 'page');
    await expect(find.filterTenant(page), 'the filter starts at the tenant the dashboard shows').toHaveValue(domain);
    await expect(find.filterType(page)).toHaveValue('');
    await expect(find.filterType(page).locator('option:checked')).toHaveText('All events');

    // Newest first: the revocation, then the rotation, then what the CLI did when it made the tenant.
    let shown: find.ShownLog[] = [];
    await expect
      .poll(
        async () => {
          shown = await find.shownLogs(page);
          return shown.slice(0, 2).map((log) => log.type);
        },
        { message: 'the revocation on top, the rotation under it' },
      )
      .toEqual(['revoke', 'rotate']);
    newestFirst(shown);
    expect(shown[0], 'the revocation: the client that asked, from where, which key').toMatchObject({
      type: 'revoke',
      actor: manager.client_id,
      address: '127.0.0.1',
      kid: oldCurrent,
      tenant: domain,
    });
    expect(shown[0].event).toContain('Revoked a signing key');
    expect(shown[1], 'the rotation: the operator, from the browser, the key that became current').toMatchObject({
      type: 'rotate',
      actor: 'operator',
      address: '127.0.0.1',
      kid: oldNext,
      tenant: domain,
    });
    expect(shown[1].event).toContain('Rotated the signing key');
    const clientMade = shown.find((log) => log.type === 'create_client');
    expect(clientMade, 'the key manager the CLI created').toBeDefined();
    expect(clientMade!.actor, 'a command-line user').toMatch(/^cli:./);
    expect(clientMade!.address, 'the CLI has no address').toBe('—');
    expect(shown.at(-1)?.type, "the tenant's first keys, oldest").toBe('provision');
    expect(new Set(shown.map((log) => log.tenant)), "only the shown tenant's events").toEqual(new Set([domain]));

    // Only revocations: the one row, with the revoked key. The form keeps what was chosen.
    await act.filterLogs(page, { type: 'revoke' });
    await expect(find.filterType(page)).toHaveValue('revoke');
    await expect(find.filterType(page).locator('option:checked')).toHaveText('Revoked a signing key');
    await expect(find.filterTenant(page)).toHaveValue(domain);
    await expect(find.logRows(page)).toHaveCount(1);
    const [revocation] = await find.shownLogs(page);
    expect(revocation).toMatchObject({ type: 'revoke', kid: oldCurrent, actor: manager.client_id, tenant: domain });

    // Every event, but only the operator's: the rotation; neither the client's nor the CLI's.
    await act.filterLogs(page, { type: '', actor: 'operator' });
    await expect(find.filterActor(page)).toHaveValue('operator');
    await expect(find.logRows(page).first()).toBeVisible();
    const byOperator = await find.shownLogs(page);
    expect(
      byOperator.filter((log) => log.actor !== 'operator'),
      'no row of another actor',
    ).toEqual([]);
    expect(byOperator.map((log) => `${log.type} ${log.kid}`), "the operator's rotation").toContain(`rotate ${oldNext}`);
    newestFirst(byOperator);

    // Every tenant: this tenant's events and the default tenant's, where this very sign-in was recorded.
    await act.filterLogs(page, { tenant: '*', actor: '' });
    await expect(find.filterTenant(page)).toHaveValue('*');
    await expect(find.filterTenant(page).locator('option:checked')).toHaveText('All tenants');
    await expect(find.logRows(page).first()).toBeVisible();
    const everywhere = await find.shownLogs(page);
    const tenants = new Set(everywhere.map((log) => log.tenant));
    expect(tenants.size, `events of more than one tenant: ${[...tenants].join(', ')}`).toBeGreaterThan(1);
    expect([...tenants]).toEqual(expect.arrayContaining([domain, tenantDomain]));
    expect(
      everywhere.some((log) => log.type === 'sign_in' && log.actor === 'operator' && log.tenant === tenantDomain),
      "the operator's sign-in, on the default tenant (the host the browser signed in on)",
    ).toBe(true);
    expect(
      everywhere.some((log) => log.type === 'revoke' && log.kid === oldCurrent && log.tenant === domain),
      "this tenant's revocation among them",
    ).toBe(true);
  });

  test('the Logs page reads well', async ({ page }) => {
    await act.screenshot(
      page,
      path.join(screenshotsDir, 'logs.png'),
      { width: 1280, height: 800, colorScheme: 'light' },
      async (shown) => {
        await act.openSigningKeys(shown);
        await act.switchTenant(shown, made!);
        await find.tenantTabs(shown).getByRole('link', { name: 'Logs', exact: true }).click();
        await act.waitForLogs(shown);
        await expect(find.logRows(shown).first()).toBeVisible();
      },
    );
    await expect(page).toHaveTitle('Logs · Signet');
    await check.fitsTheWindow(page);
  });
});

test.describe('Following the trail live', () => {
  let made: string | undefined;
  test.afterAll(() => {
    if (made) act.deleteTenantWithCli(made);
  });

  test('rotations made through the Management API and the CLI appear at the top of the open page, without a reload', async ({
    page,
  }) => {
    test.setTimeout(60_000);
    const { domain } = await act.createTenantWithCli('logs-live');
    made = domain;
    const manager = act.createKeyManager(domain);
    const reader = act.createLogReader(domain);
    const token = await act.getTokenAt(domain, manager);
    const readerToken = await act.getTokenAt(domain, reader);

    await act.openLogs(page, { tenant: domain });
    await expect(find.liveMark(page)).toHaveText('Live');
    await expect(find.logRows(page).first()).toBeVisible();
    const before = await find.shownLogs(page);
    await act.markWindow(page);

    // A Management API client rotates: its event comes to the top by itself.
    const apiCurrent = await act.rotateWithApiAt(domain, token);
    const [apiRotation] = await find.logsOfTypeAt(domain, readerToken, 'rotate');
    expect(apiRotation.kid, 'the API records the rotation').toBe(apiCurrent);
    const top = find.logRows(page).first();
    await expect(top, 'the rotation comes to the top').toHaveAttribute('data-log-id', apiRotation.log_id, {
      timeout: LIVE_WITHIN,
    });
    await expect(top).toHaveAttribute('data-type', 'rotate');
    await expect(top, 'marked as new').toHaveClass(/\blog-fresh\b/);
    await expect(find.logRows(page)).toHaveCount(before.length + 1);

    // Then the operator rotates at the command line: that event comes on top of it.
    const cliCurrent = (await act.rotateWithCliAt(domain)).current;
    const [cliRotation] = await find.logsOfTypeAt(domain, readerToken, 'rotate');
    expect(cliRotation.kid, 'the API reports the CLI rotation').toBe(cliCurrent);
    await expect(top, 'the CLI rotation comes to the top').toHaveAttribute('data-log-id', cliRotation.log_id, {
      timeout: LIVE_WITHIN,
    });
    await expect(find.logRows(page)).toHaveCount(before.length + 2);
    const after = await find.shownLogs(page);
    expect(after[0], 'the CLI rotation').toMatchObject({
      type: 'rotate',
      kid: cliCurrent,
      address: '—',
      tenant: domain,
      fresh: true,
    });
    expect(after[0].actor).toMatch(/^cli:./);
    expect(after[1], 'the API rotation').toMatchObject({
      type: 'rotate',
      kid: apiCurrent,
      actor: manager.client_id,
      address: '127.0.0.1',
      tenant: domain,
      fresh: true,
    });
    expect(ids(after.slice(2)), 'the rows shown before, below them, as they were').toEqual(ids(before));
    expect(after.slice(2).some((log) => log.fresh), 'the rows shown before are not new').toBe(false);
    newestFirst(after);
    await expect(find.liveMark(page)).toHaveAttribute('data-live', 'true');
    await check.windowStillMarked(page);
  });
});

test.describe.serial('A long trail', () => {
  // One tenant whose trail is longer than a page; the stories read it as they find it.
  let domain: string | undefined;
  let manager: act.MachineClient;
  let reader: act.MachineClient;

  test.beforeAll(async () => {
    domain = (await act.createTenantWithCli('logs-trail')).domain;
    manager = act.createKeyManager(domain);
    reader = act.createLogReader(domain);
  });

  test.afterAll(() => {
    if (domain) act.deleteTenantWithCli(domain);
  });

  test('fifty events a page, newest first: Older events leads to the events before them, and no event shows twice', async ({
    page,
  }) => {
    test.setTimeout(90_000);
    const token = await act.getTokenAt(domain!, manager);
    // P-256 keys: each rotation makes one in an instant (a 2048-bit RSA key takes a while).
    const changed = await act.setRotationPolicyAt(domain!, token, { signing_alg: 'ES256' });
    expect(changed.status(), `PATCH /api/v2/keys/signing/policy: ${await changed.text()}`).toBe(200);
    // Forced, so none waits for the next key's publication; 55 stay under the suite's 100 a day.
    for (let i = 0; i < ROTATIONS; i++) await act.rotateWithApiAt(domain!, token, { force: true });
    const trail = await find.everyLogAt(domain!, await act.getTokenAt(domain!, reader));
    expect(trail.length, 'more than one page of events, less than two').toBeGreaterThan(PAGE_SIZE);
    expect(trail.length, 'more than one page of events, less than two').toBeLessThanOrEqual(2 * PAGE_SIZE);
    const everyId = trail.map((event) => Number(event.log_id)).reverse();

    // The first page: the fifty newest events.
    await act.openLogs(page, { tenant: domain });
    await expect(find.logRows(page)).toHaveCount(PAGE_SIZE);
    const first = await find.shownLogs(page);
    newestFirst(first);
    expect(ids(first), 'the fifty newest events').toEqual(everyId.slice(0, PAGE_SIZE));
    await expect(find.newestEvents(page), 'the newest page needs no way back').toHaveCount(0);

    // Older events: the rest, each older than any of the first page, none of them again.
    await find.olderEvents(page).click();
    await expect(page).toHaveURL(/[?&]before=/);
    await expect(find.newestEvents(page)).toBeVisible();
    await expect(find.liveMark(page), 'an older page does not follow new events').toHaveAttribute('data-live', 'false');
    await expect(find.logRows(page)).toHaveCount(trail.length - PAGE_SIZE);
    const second = await find.shownLogs(page);
    newestFirst(second);
    expect(second[0].logId, "the older page's first event is older than the first page's last").toBeLessThan(
      first[PAGE_SIZE - 1].logId,
    );
    const both = [...ids(first), ...ids(second)];
    expect(new Set(both).size, 'no event shows twice').toBe(both.length);
    expect(both, 'every event of the trail, once').toEqual(everyId);
    expect(new Set(second.map((log) => log.tenant)), 'the filter still holds').toEqual(new Set([domain]));
    await expect(find.olderEvents(page), 'nothing older than the oldest page').toHaveCount(0);

    // Back to the newest events, which it follows again.
    await find.newestEvents(page).click();
    await expect(page).not.toHaveURL(/[?&]before=/);
    await act.waitForLogs(page);
    await expect(find.newestEvents(page)).toHaveCount(0);
    await expect(find.logRows(page)).toHaveCount(PAGE_SIZE);
    expect(ids(await find.shownLogs(page))).toEqual(ids(first));
  });

  test('the filtered trail downloads as CSV and as NDJSON: every event the filter selects, newest first, as the API reports them', async ({
    page,
  }) => {
    test.setTimeout(60_000);
    // A rotation and a revocation of this story's own, among whatever the trail holds already.
    const token = await act.getTokenAt(domain!, manager);
    const retired = (await find.signingKeysAt(domain!, token)).find((key) => key.current)?.kid;
    expect(retired, 'the tenant has a current key').toBeDefined();
    await act.rotateWithApiAt(domain!, token, { force: true });
    await act.revokeWithApiAt(domain!, token, retired!);
    const readerToken = await act.getTokenAt(domain!, reader);
    const trail = (await find.everyLogAt(domain!, readerToken)).reverse();
    const rotations = await find.logsOfTypeAt(domain!, readerToken, 'rotate');
    expect(rotations.length, 'some rotations').toBeGreaterThan(0);
    expect(rotations.length, 'and other events').toBeLessThan(trail.length);

    await act.openLogs(page, { tenant: domain });

    // CSV: the header line, then one CRLF-ended record per event, exactly the API's events.
    const csv = await download(page, find.exportCsv(page));
    expect(csv.name).toMatch(/^signet-logs-.+\.csv$/);
    expect(csv.text.startsWith(`${EXPORT_COLUMNS.join(',')}\r\n`), 'the header line first').toBe(true);
    const [header, ...records] = csvRecords(csv.text);
    expect(header).toEqual(EXPORT_COLUMNS);
    expect(records.length, 'one record per event the API reports').toBe(trail.length);
    expect(records, 'the API events, newest first, field by field').toEqual(trail.map(csvRecordOf));

    // NDJSON: one object per line, with those members, the same events.
    const ndjson = await download(page, find.exportNdjson(page));
    expect(ndjson.name).toMatch(/^signet-logs-.+\.ndjson$/);
    const objects = ndjsonObjects(ndjson.text);
    expect(objects.length, 'one line per event the API reports').toBe(trail.length);
    for (const object of objects) expect(Object.keys(object).sort()).toEqual([...EXPORT_COLUMNS].sort());
    expect(objects, 'the API events, newest first').toEqual(trail.map(exportObjectOf));

    // Filtered to rotations, both files hold the rotations and nothing else.
    await act.filterLogs(page, { type: 'rotate' });
    const rotationsCsv = csvRecords((await download(page, find.exportCsv(page))).text);
    expect(rotationsCsv[0]).toEqual(EXPORT_COLUMNS);
    expect(rotationsCsv.length - 1, 'one record per rotation the API reports').toBe(rotations.length);
    expect(new Set(rotationsCsv.slice(1).map((record) => record[2])), 'rotations only').toEqual(new Set(['rotate']));
    expect(rotationsCsv.slice(1)).toEqual(rotations.map(csvRecordOf));
    const rotationsNdjson = ndjsonObjects((await download(page, find.exportNdjson(page))).text);
    expect(rotationsNdjson.length, 'one line per rotation the API reports').toBe(rotations.length);
    expect(rotationsNdjson).toEqual(rotations.map(exportObjectOf));
  });

  test('the trail is append-only: every other method on /api/v2/logs is refused with 405, and the trail stays as it was', async () => {
    const token = await act.getTokenAt(domain!, reader);
    const before = await find.everyLogAt(domain!, token);
    expect(before.length, 'a trail to tamper with').toBeGreaterThan(0);
    const firstEvent = await find.apiAt(domain!, 'GET', '/api/v2/logs/1', token);
    expect(firstEvent.status(), `GET /api/v2/logs/1: ${await firstEvent.text()}`).toBe(200);
    const first = await firstEvent.json();

    for (const target of ['/api/v2/logs', '/api/v2/logs/1']) {
      for (const method of ['DELETE', 'PUT', 'PATCH', 'POST']) {
        const body = method === 'DELETE' ? undefined : { type: 'rotate', details: { detail: 'rewritten' } };
        const response = await find.apiAt(domain!, method, target, token, body);
        expect(response.status(), `${method} ${target}: ${await response.text()}`).toBe(405);
        expect(response.header('allow'), `${method} ${target} names the methods allowed`).toBe('GET,HEAD');
      }
    }

    expect(await find.everyLogAt(domain!, token), 'every event as it was, none added, none gone').toEqual(before);
    const again = await find.apiAt(domain!, 'GET', '/api/v2/logs/1', token);
    expect(await again.json(), 'the first event as it was').toEqual(first);
  });
});
