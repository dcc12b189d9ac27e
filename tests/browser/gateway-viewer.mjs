// Opens a sealed link in headless Chromium as a viewer would: the gateway redirects to the
// document request, asks for HTTP credentials (Basic or Digest) (supplied through the driver, as a user
// typing them into the browser's prompt), shows the landing page (screenshot saved), and the
// viewer clicks the handle link and the browser downloads the document. Prints JSON: {landingStatus, landingUrl, lang, handleUrl,
// documentStatus, documentBase64}.
//
//   node tests/browser/gateway-viewer.mjs SEALED_URL USER PASSWORD SCREENSHOT.png
import { readFileSync } from 'node:fs';

import { launch, screenshot as saveScreenshot } from './chromium.mjs';

const [url, username, password, screenshot] = process.argv.slice(2);
if (!screenshot) {
  console.error('usage: gateway-viewer.mjs SEALED_URL USER PASSWORD SCREENSHOT.png');
  process.exit(2);
}
const browser = await launch();
try {
  const context = await browser.newContext({
    httpCredentials: { username, password },
    acceptDownloads: true,
  });
  const page = await context.newPage();
  const landing = await page.goto(url);
  await saveScreenshot(page, screenshot);
  const lang = await page.getAttribute('html', 'lang');
  const handleUrl = await page.getAttribute('a.open', 'href');
  let documentStatus = null;
  page.on('response', (response) => {
    if (response.url() === handleUrl) documentStatus = response.status();
  });
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('a.open')]);
  const body = readFileSync(await download.path());
  console.log(JSON.stringify({
    landingStatus: landing.status(),
    landingUrl: landing.url(),
    lang,
    handleUrl,
    documentStatus,
    documentBase64: body.toString('base64'),
  }));
} finally {
  await browser.close();
}
