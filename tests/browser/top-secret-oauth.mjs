// A top-secret document behind an OAuth challenge, in headless Chromium: opens START_URL (a link
// ending in #k=…), signs in at the provider as LOGIN (tests/oidc/provider.mjs's login and consent
// pages, as oauth-dance.mjs does), and waits on the gateway's top-secret page until it saves the
// document, shows an error, or asks for a passphrase. The profile (cookies) is kept in
// USER_DATA_DIR, so a second run shows the visit within the session. Prints JSON: {urls (every
// main-frame URL the page had, fragments included), steps, outcome ("saved", "error" or
// "asked"), message, name, base64}.
//
//   node tests/browser/top-secret-oauth.mjs START_URL LOGIN USER_DATA_DIR
import { readFileSync } from 'node:fs';

import { launchPersistent } from './chromium.mjs';

const [startUrl, login, userDataDir] = process.argv.slice(2);
if (!userDataDir) {
  console.error('usage: top-secret-oauth.mjs START_URL LOGIN USER_DATA_DIR');
  process.exit(2);
}
const gatewayOrigin = new URL(startUrl).origin;
const context = await launchPersistent(userDataDir, { acceptDownloads: true });
try {
  context.setDefaultTimeout(20_000);
  const page = context.pages()[0] ?? await context.newPage();
  const urls = [];
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) urls.push(frame.url());
  });
  const submit = (locator) => Promise.all([page.waitForNavigation({ waitUntil: 'load' }), locator.click()]);
  await page.goto(startUrl, { waitUntil: 'load' });
  const steps = [];
  for (let round = 0; round < 6 && new URL(page.url()).origin !== gatewayOrigin; round += 1) {
    const loginForm = page.locator('form:has(input[name="login"])');
    const consent = page.locator('form.consent, form:has(input[name="prompt"][value="consent"])');
    if (await loginForm.count()) {
      steps.push('login');
      await loginForm.locator('input[name="login"]').fill(login);
      await loginForm.locator('input[name="password"]').fill('any password');
      await submit(loginForm.locator('button[type="submit"]'));
    } else if (await consent.count()) {
      steps.push('consent');
      await submit(page.locator('button:has-text("Continue")'));
    } else {
      break;
    }
  }
  const ended = await page.waitForSelector(
    '#save:not([hidden]), #error:not([hidden]), #passphrase-form:not([hidden])');
  const id = await ended.getAttribute('id');
  const outcome = { save: 'saved', error: 'error' }[id] ?? 'asked';
  const result = { urls, steps, outcome, message: await page.textContent(id === 'error' ? '#error' : '#status'), name: null, base64: null };
  if (outcome === 'saved') {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#save-link')]);
    result.name = download.suggestedFilename();
    result.base64 = readFileSync(await download.path()).toString('base64');
  }
  console.log(JSON.stringify(result));
} finally {
  await context.close();
}
