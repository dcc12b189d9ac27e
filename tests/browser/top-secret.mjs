// Opens a top-secret document's link in headless Chromium as a viewer would: the gateway's
// redirects and challenge (HTTP credentials supplied through the driver, as a user typing them
// into the browser's prompt), then the landing page, whose script decrypts the document (the key
// in the link's #k=… fragment, or PASSPHRASE typed into the page). When the page offers the
// file, clicks its save link and captures the download. Prints JSON: {landingStatus, csp,
// integrity, urlAfter, outcome ("saved" or "error"), message, name, base64, downloads,
// requests: [{url, headers}]} — every request the browser made, to check that none carried the key.
//
//   node tests/browser/top-secret.mjs URL PASSPHRASE|- USER|- PASSWORD|-
import { readFileSync } from 'node:fs';

import { launch } from './chromium.mjs';

const [url, passphrase, username, password] = process.argv.slice(2);
if (!password) {
  console.error('usage: top-secret.mjs URL PASSPHRASE|- USER|- PASSWORD|-');
  process.exit(2);
}
const browser = await launch();
try {
  const options = { acceptDownloads: true };
  if (username !== '-') options.httpCredentials = { username, password };
  const context = await browser.newContext(options);
  const page = await context.newPage();
  const requests = [];
  context.on('request', (request) => requests.push({ url: request.url(), headers: request.headers() }));
  let downloads = 0;
  page.on('download', () => { downloads += 1; });
  const landing = await page.goto(url);
  if (passphrase !== '-') {
    await page.waitForSelector('#passphrase-form:not([hidden])');
    await page.fill('#passphrase', passphrase);
    await page.click('#passphrase-form button');
  }
  const ended = await page.waitForSelector('#save:not([hidden]), #error:not([hidden])', { timeout: 120000 });
  const outcome = (await ended.getAttribute('id')) === 'save' ? 'saved' : 'error';
  const result = {
    landingStatus: landing.status(),
    csp: landing.headers()['content-security-policy'] || null,
    integrity: await page.getAttribute('script', 'integrity'),
    urlAfter: page.url(),
    outcome,
    message: outcome === 'error' ? await page.textContent('#error') : null,
    saveHref: await page.getAttribute('#save-link', 'href'),
    name: null,
    base64: null,
  };
  if (outcome === 'saved') {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#save-link')]);
    result.name = download.suggestedFilename();
    result.base64 = readFileSync(await download.path()).toString('base64');
  }
  result.downloads = downloads;
  result.requests = requests;
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
}
