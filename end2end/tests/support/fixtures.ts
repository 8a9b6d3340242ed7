// The suite's `test`: every story also checks that the browser reported no problem while it ran
// (console errors, uncaught exceptions, failed or erroring requests).
import { test as base, expect, type Page } from '@playwright/test';

export { expect };

/** Starts recording what a person would see in the developer tools' console and network panels. */
function watchBrowserProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') {
      problems.push(`console error: ${message.text()} (${message.location().url || 'no url'})`);
    }
  });
  page.on('pageerror', (error) => problems.push(`uncaught exception: ${error.message}`));
  page.on('requestfailed', (request) => {
    const reason = request.failure()?.errorText ?? 'unknown';
    // A reload or navigation cuts short what the page was still fetching in the background (its
    // event stream, the browser's own favicon request); that is not a failure of the page.
    const background = request.resourceType() === 'eventsource' || /\/favicon\.(svg|ico)$/.test(request.url());
    if (background && reason === 'net::ERR_ABORTED') return;
    problems.push(`request failed: ${request.method()} ${request.url()} (${reason})`);
  });
  page.on('response', (response) => {
    if (response.status() >= 400) {
      problems.push(`HTTP ${response.status()}: ${response.request().method()} ${response.url()}`);
    }
  });
  return problems;
}

export const test = base.extend<{
  browserProblems: string[];
  expectedProblems: string[];
  expectedProblemPatterns: RegExp[];
}>({
  /** Problems a story causes on purpose (e.g. a refused sign-in), matched exactly; none by default. */
  expectedProblems: [[], { option: true }],
  /** Problems a story causes on purpose whose number depends on timing (e.g. while it cuts the network). */
  expectedProblemPatterns: [[], { option: true }],
  browserProblems: [
    async ({ page, expectedProblems, expectedProblemPatterns }, use) => {
      const problems = watchBrowserProblems(page);
      await use(problems);
      const unexpected = problems.filter(
        (problem) =>
          !expectedProblems.includes(problem) && !expectedProblemPatterns.some((pattern) => pattern.test(problem)),
      );
      expect(unexpected, 'the browser reported no console errors and no failed requests').toEqual([]);
    },
    { auto: true },
  ],
});
