// Plays a video from a vault handle in headless Chromium, seeks near its end and prints what
// happened as JSON: {duration, playedTo, seekedTo, ranges: [Range headers the browser sent]}.
// Exit status 1 with a message on any media error or timeout.
//
//   node tests/browser/video-seek.mjs HANDLE_URL
import { launch } from './chromium.mjs';

const url = process.argv[2];
if (!url) {
  console.error('usage: video-seek.mjs HANDLE_URL');
  process.exit(2);
}
const browser = await launch();
try {
  const page = await browser.newPage();
  // A viewer on a slow link: the whole file cannot arrive before the seek, so seeking makes
  // Chromium ask for a later byte range instead of reading it from what it already holds.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false, latency: 20, downloadThroughput: 24 * 1024, uploadThroughput: 24 * 1024,
  });
  const ranges = [];
  page.on('request', (request) => {
    if (request.url() === url) ranges.push(request.headers()['range'] ?? null);
  });
  await page.setContent('<!doctype html><video id="v" muted preload="metadata"></video>');
  const result = await page.evaluate(async (src) => {
    const video = document.getElementById('v');
    const once = (event, ms) => new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timeout waiting for ${event}`)), ms);
      video.addEventListener(event, () => { clearTimeout(timer); resolve(); }, { once: true });
      video.addEventListener('error', () => {
        clearTimeout(timer);
        reject(new Error(`media error ${video.error && video.error.code}: ${video.error && video.error.message}`));
      }, { once: true });
    });
    const loaded = once('loadedmetadata', 15000);
    video.src = src;
    await loaded;
    await video.play();
    await new Promise((resolve) => setTimeout(resolve, 700));
    const playedTo = video.currentTime;
    const seeked = once('seeked', 15000);
    video.currentTime = video.duration - 1.5;
    await seeked;
    await new Promise((resolve) => setTimeout(resolve, 500));
    return { duration: video.duration, playedTo, seekedTo: video.currentTime };
  }, url);
  console.log(JSON.stringify({ ...result, ranges }));
} catch (error) {
  console.error(String(error));
  process.exitCode = 1;
} finally {
  await browser.close();
}
