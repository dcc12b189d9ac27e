// Launches Debian's Chromium (never a downloaded browser) headless, with the flags that work
// as root in a container (PEERS.md). Override the binary with SEALPOST_CHROMIUM.
import { chromium } from 'playwright-core';

export function launch() {
  return chromium.launch({
    executablePath: process.env.SEALPOST_CHROMIUM || '/usr/bin/chromium',
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--no-first-run', '--autoplay-policy=no-user-gesture-required',
    ],
  });
}

// The same browser and flags as launch(), with a profile kept in userDataDir (cookies survive from
// one run to the next): a BrowserContext, closed with context.close().
export function launchPersistent(userDataDir, options = {}) {
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.SEALPOST_CHROMIUM || '/usr/bin/chromium',
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--no-first-run', '--autoplay-policy=no-user-gesture-required',
    ],
    ...options,
  });
}

// Saves a full-page screenshot of page at path. Chromium's capture fails now and then on a loaded
// machine ("Unable to capture screenshot" while a compositor frame is pending, seen in CI on
// 2 cores): wait for the page to settle and try again, up to three times, before giving up.
export async function screenshot(page, path) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await page.waitForLoadState('load');
      await page.screenshot({ path, fullPage: true });
      return;
    } catch (error) {
      if (attempt >= 3) throw error;
      console.error(`screenshot ${path}: attempt ${attempt} failed (${error.message.split('\n')[0]}); retrying`);
      await page.waitForTimeout(250 * attempt);
    }
  }
}
