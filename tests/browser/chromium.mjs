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
