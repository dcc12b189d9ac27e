// Walks an OAuth 2.0 / OpenID Connect authorization-code dance in headless Chromium as a viewer
// would: opens START_URL (a gateway sealed link or document request), which sends the browser to
// the provider; signs in there as LOGIN (any password) when the provider shows its login form;
// clicks Continue (ACTION allow) or Deny (ACTION deny) on its consent page; and waits until the
// browser is back on START_URL's origin (the gateway). Then, when that page has an `a.open`
// handle, clicks it and reads the download.
//
//   node tests/browser/oauth-dance.mjs START_URL LOGIN allow|deny SCREENSHOT_DIR [USER_DATA_DIR]
//
// With USER_DATA_DIR the browser keeps its profile (cookies) there, so a second run with the same
// directory shows whether a visit needs the dance again (`steps` is then empty when neither the
// login nor the consent page came up). Screenshots: SCREENSHOT_DIR/login.png, consent.png (when
// those pages came up) and landing.png (the page the browser ends on). Prints one JSON line:
// {finalUrl, finalStatus, pages (main-frame URLs visited, redirects included), steps
// (["login", "consent"] as met), handleUrl (absolute href of a.open, or null), documentBase64
// (the bytes downloaded through a.open, or null), title}.
//
// Works with tests/oidc/provider.mjs's pages (login form: inputs `login`, `password`, button
// "Sign in"; consent form: buttons "Continue" and "Deny") and with oidc-provider's own
// devInteractions (button "Sign-in", consent "Continue", link "[ Cancel ]" to deny).
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { launch, launchPersistent, screenshot } from './chromium.mjs';

const [startUrl, login, action, screenshotDir, userDataDir] = process.argv.slice(2);
if (!screenshotDir || !['allow', 'deny'].includes(action)) {
  console.error('usage: oauth-dance.mjs START_URL LOGIN allow|deny SCREENSHOT_DIR [USER_DATA_DIR]');
  process.exit(2);
}
mkdirSync(screenshotDir, { recursive: true });
const gatewayOrigin = new URL(startUrl).origin;

const browser = userDataDir ? null : await launch();
const context = userDataDir
  ? await launchPersistent(userDataDir, { acceptDownloads: true })
  : await browser.newContext({ acceptDownloads: true });
try {
  context.setDefaultTimeout(20_000);
  const page = context.pages()[0] ?? await context.newPage();
  const pages = [];
  let finalStatus = null;
  page.on('request', (request) => {
    if (request.isNavigationRequest() && request.frame() === page.mainFrame()) pages.push(request.url());
  });
  page.on('response', (response) => {
    const request = response.request();
    if (request.isNavigationRequest() && request.frame() === page.mainFrame()
        && (response.status() < 300 || response.status() >= 400)) {
      finalStatus = response.status();
    }
  });

  // Clicks and waits for the navigation it starts (redirects included) to load.
  const submit = (locator) => Promise.all([page.waitForNavigation({ waitUntil: 'load' }), locator.click()]);

  await page.goto(startUrl, { waitUntil: 'load' });
  const steps = [];
  for (let round = 0; round < 6 && new URL(page.url()).origin !== gatewayOrigin; round += 1) {
    const loginForm = page.locator('form:has(input[name="login"])');
    const consent = page.locator('form.consent, form:has(input[name="prompt"][value="consent"])');
    if (await loginForm.count()) {
      steps.push('login');
      await screenshot(page, join(screenshotDir, 'login.png'));
      await loginForm.locator('input[name="login"]').fill(login);
      await loginForm.locator('input[name="password"]').fill('any password');
      await submit(loginForm.locator('button[type="submit"]'));
    } else if (await consent.count()) {
      steps.push('consent');
      await screenshot(page, join(screenshotDir, 'consent.png'));
      await submit(action === 'allow'
        ? page.locator('button:has-text("Continue")')
        : page.locator('button:has-text("Deny"), a:has-text("Cancel")').first());
    } else {
      break; // a provider page this script does not know (an error page): report where it stopped
    }
  }

  await screenshot(page, join(screenshotDir, 'landing.png'));
  const title = await page.title();
  const finalUrl = page.url();
  const landingStatus = finalStatus; // before the download's own navigation
  const visited = [...pages];
  const handle = page.locator('a.open');
  let handleUrl = null;
  let documentBase64 = null;
  if (new URL(finalUrl).origin === gatewayOrigin && await handle.count()) {
    handleUrl = await handle.first().evaluate((a) => a.href);
    const [download] = await Promise.all([page.waitForEvent('download'), handle.first().click()]);
    documentBase64 = readFileSync(await download.path()).toString('base64');
  }
  console.log(JSON.stringify({
    finalUrl,
    finalStatus: landingStatus,
    pages: visited,
    steps,
    handleUrl,
    documentBase64,
    title,
  }));
} finally {
  await context.close();
  await browser?.close();
}
