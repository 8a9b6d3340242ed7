// Scheduled rotation (SPEC §12): the operator sets a rotation schedule from the Rotation Schedule
// card, and Signet rotates by itself when the hour is up, then revokes the key it retired once no
// token it signed can still be live; an open page follows each change without a reload. The policy
// API refuses what it cannot honour. Time moves only through the test clock file, never by sleeping.
// The e2e server runs with a publication window of 0 s, so a scheduled rotation is never held back
// for the next key's publication (the story of a rotation held back is not told here). Whatever
// happens, the stories leave no schedule behind and put the server clock back, for the stories that
// rotate by hand.
import path from 'node:path';
import { decodeProtectedHeader } from 'jose';
import { expect, test } from './support/fixtures';
import * as act from './support/act';
import * as check from './support/check';
import * as find from './support/find';
import { baseURL, screenshotsDir } from './support/environment';

/** How soon the card says the next rotation is, a moment after an hour started. */
const WITHIN_THE_HOUR = /\(in (59 minutes|1 hour)\)/;
/** An instant as the API writes it: ISO-8601 UTC. */
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
/** The units each duration of the schedule dialog offers, largest first, then none. */
const UNITS = ['days', 'hours', 'minutes', 'seconds', 'off'];

/** The policy's own fields, and what follows from them until the key set changes. */
function policyFields(policy: find.RotationPolicy) {
  const { rotate_every_seconds, revoke_previous_after_seconds, next_rotation_at } = policy;
  return { rotate_every_seconds, revoke_previous_after_seconds, next_rotation_at };
}

test.describe.serial('Scheduled rotation', () => {
  // The dialog's refusal of a too short period is a 400, which the browser reports: exactly that and
  // nothing else is expected.
  test.use({
    expectedProblems: [
      `HTTP 400: POST ${baseURL}/_signet/set_rotation_schedule`,
      `console error: Failed to load resource: the server responded with a status of 400 (Bad Request) (${baseURL}/_signet/set_rotation_schedule)`,
    ],
  });

  // The stories set a schedule and move the server clock. Whatever happens, the stories after them run
  // with no schedule and on the system clock again.
  test.afterEach(async ({ request }) => {
    try {
      await act.turnScheduleOff(request, await act.getToken(request, act.createKeyManager()));
    } finally {
      act.resetServerClock();
    }
  });

  test('the operator sets a schedule in the dialog, the card shows the next rotation, and the page updates by itself when it fires', async ({
    page,
    request,
  }) => {
    // Two steps of the clock, each waited out on the page.
    test.setTimeout(60_000);
    // The story's Management API token is taken while the key before is current, and only then is the
    // queued key rotated in. So the key the schedule retires in this story signs no token at all (the
    // schedule revokes it a minute after it stops being current, plus the grace), and the hour is
    // counted from this rotation.
    const token = await act.getToken(request, act.createKeyManager());
    await act.rotateWithCli(request);

    await act.openSigningKeys(page);
    const card = find.rotationSchedule(page);
    const period = card.getByTestId('schedule-period');
    await expect(card.getByRole('heading', { name: 'Rotation Schedule', exact: true })).toBeVisible();
    await expect(period, 'no schedule yet').toHaveText(/^Off/);
    await expect(find.nextRotation(page)).toHaveCount(0);
    const before = await check.settledKeys(page);
    const oldCurrent = find.kidIn(before, 'current');
    const oldNext = find.kidIn(before, 'next');
    expect(decodeProtectedHeader(token).kid, 'the current key signed no token of this story').not.toBe(oldCurrent);
    await act.markWindow(page);

    // The dialog: a period and a grace, each a number and a unit, or off.
    await card.getByRole('button', { name: 'Edit Schedule', exact: true }).click();
    const dialog = find.confirmDialog(page);
    await expect(dialog).toBeVisible();
    await expect(dialog.getByRole('heading')).toHaveText('Rotation schedule');
    const every = dialog.getByTestId('schedule-every');
    const everyCount = every.getByTestId('schedule-every-count');
    const everyUnit = every.getByTestId('schedule-every-unit');
    const grace = dialog.getByTestId('schedule-grace');
    const graceCount = grace.getByTestId('schedule-grace-count');
    const graceUnit = grace.getByTestId('schedule-grace-unit');
    for (const [count, countName, unit, unitName, offLabel] of [
      [everyCount, 'rotate_every', everyUnit, 'rotate_unit', 'Off (no schedule)'],
      [graceCount, 'revoke_after', graceUnit, 'revoke_unit', 'Never'],
    ] as const) {
      await expect(count).toHaveAttribute('type', 'number');
      await expect(count).toHaveAttribute('name', countName);
      await expect(unit).toHaveAttribute('name', unitName);
      expect(await find.optionValues(unit), `the units of ${unitName}`).toEqual(UNITS);
      await expect(unit.getByRole('option', { name: offLabel, exact: true })).toHaveAttribute('value', 'off');
      await expect(unit, `${unitName} starts off, as there is no schedule`).toHaveValue('off');
    }

    // Every 30 minutes is too often: the dialog stays open and says why.
    await everyCount.fill('30');
    await everyUnit.selectOption('minutes');
    await act.confirm(page, 'Save schedule');
    const refused = dialog.getByTestId('schedule-refused');
    await expect(refused).toContainText('at least 1 hour');
    // A refused schedule keeps its dialog open with what the operator typed.
    await expect(dialog, 'a refused schedule keeps its dialog open').toBeVisible();
    await expect(everyUnit, 'what the operator chose stays').toHaveValue('minutes');
    await expect(everyCount).toHaveValue('30');
    await expect(refused, 'and it still says why').toContainText('at least 1 hour');
    await expect(period, 'nothing was saved').toHaveText(/^Off/);

    // Every hour, and previous keys revoked as soon as their last token has expired.
    await everyCount.fill('1');
    await everyUnit.selectOption('hours');
    await graceCount.fill('0');
    await graceUnit.selectOption('minutes');
    await act.confirm(page, 'Save schedule');

    await expect(dialog).toHaveCount(0);
    await expect(find.toasts(page).last()).toHaveText(/Rotation schedule saved\./);
    await expect(period).toHaveText('Every 1 hour.');
    await expect(card.getByTestId('schedule-revocation')).toHaveText(
      'As soon as the last token a previous key signed has expired.',
    );
    await expect(find.nextRotation(page)).toBeVisible();
    await expect(find.nextRotation(page)).toContainText('Next automatic rotation:');
    await expect(find.nextRotation(page)).toContainText(WITHIN_THE_HOUR);
    await act.screenshotOf(page, card, path.join(screenshotsDir, 'rotation-schedule.png'));

    // The Management API reports the same schedule, and the card shows the instant it reports.
    const set = await find.rotationPolicy(request, token);
    expect(set).toMatchObject({ rotate_every_seconds: 3600, revoke_previous_after_seconds: 0 });
    expect(set.next_rotation_at).toMatch(ISO_INSTANT);
    const firstRotation = Date.parse(set.next_rotation_at ?? '');
    expect(firstRotation, 'the first rotation is ahead').toBeGreaterThan(find.serverNow() * 1000);
    expect(firstRotation, 'at most an hour ahead').toBeLessThanOrEqual((find.serverNow() + 3601) * 1000);
    await expect(
      find.nextRotation(page).getByTitle(find.utcTitle(set.next_rotation_at ?? ''), { exact: true }),
      'the card shows the next rotation the API reports',
    ).toBeVisible();

    // An hour passes: the schedule rotates by itself, and the open page follows without a click or a reload.
    act.setServerClockAhead(3600 + 5);
    await expect(find.keyRow(page, oldNext), 'the schedule rotated, and the page followed').toHaveAttribute(
      'data-state',
      'current',
      { timeout: 10_000 },
    );
    await check.listedAs(page, oldNext, 'current');
    await check.listedAs(page, oldCurrent, 'previous');
    await check.exactlyOneKeyIn(page, 'next');
    await expect(find.autoRevocation(page, oldCurrent)).toHaveText(/^Will be revoked automatically on /);

    const rotated = await find.rotationPolicy(request, token);
    const nextRotationAt = rotated.next_rotation_at ?? '';
    expect(nextRotationAt).toMatch(ISO_INSTANT);
    expect(Date.parse(nextRotationAt) - firstRotation, 'the next rotation is an hour after this one, in ms')
      .toBeGreaterThanOrEqual(3600 * 1000);
    const revocation = rotated.scheduled_revocations.find((scheduled) => scheduled.kid === oldCurrent);
    expect(revocation, `the schedule will revoke ${oldCurrent}`).toBeDefined();
    await expect(find.nextRotation(page)).toContainText(WITHIN_THE_HOUR);
    await expect(
      find.nextRotation(page).getByTitle(find.utcTitle(nextRotationAt), { exact: true }),
      'the card fetched the new next rotation',
    ).toBeVisible();
    await expect(
      find.autoRevocation(page, oldCurrent).getByTitle(find.utcTitle(revocation?.revoke_at ?? ''), { exact: true }),
      'the row shows when the API says the schedule revokes it',
    ).toBeVisible();

    // Two more minutes: the retired key signed nothing and its minute to settle is over, so the schedule
    // revokes it; the page and the JWKS follow.
    act.setServerClockAhead(3600 + 5 + 120);
    await check.notAmongValidKeys(page, oldCurrent);
    await check.amongRevokedKeys(page, oldCurrent);
    await act.waitForJwks(
      request,
      (kids) => !kids.includes(oldCurrent),
      `${oldCurrent} leaves the JWKS once the schedule revoked it`,
    );
    await check.listedAs(page, oldNext, 'current');
    await check.windowStillMarked(page);

    // The schedule is turned off again; the open page follows.
    await act.turnScheduleOff(request, token);
    await expect(period).toHaveText(/^Off/);
    await expect(find.nextRotation(page)).toHaveCount(0);
    await check.windowStillMarked(page);
    act.resetServerClock();
  });

  test('the policy API refuses what it cannot honour', async ({ request }) => {
    const token = await act.getToken(request, act.createKeyManager());
    const before = await find.rotationPolicy(request, token);

    await check.refused(
      await act.setRotationPolicy(request, token, { rotate_every_seconds: 1800 }),
      'invalid_policy',
      { mentions: /rotate_every_seconds/ },
    );
    await check.refused(
      await act.setRotationPolicy(request, token, { revoke_previous_after_seconds: 1.5 }),
      'invalid_body',
      { mentions: /whole number/ },
    );

    const after = await find.rotationPolicy(request, token);
    expect(policyFields(after), 'a refused change changes nothing').toEqual(policyFields(before));
  });
});
