// Drives Debian's chromium (headless) through playwright-core: opens the
// livedemo page, checks MediaSource support for the page's codecs, lets
// dash.js play for the requested time and reports what happened as one JSON
// line on stdout. Usage: node play.js <url> <seconds> <screenshot.png> <user-data-dir>
const { chromium } = require('playwright-core');

(async () => {
  const [url, seconds, shot, userDataDir] = process.argv.slice(2);
  const ctx = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run',
      '--autoplay-policy=no-user-gesture-required', '--disable-dev-shm-usage'],
  });
  const result = { console: [] };
  try {
    const page = ctx.pages()[0] || await ctx.newPage();
    page.on('console', (m) => { if (m.type() === 'error') result.console.push(m.text()); });
    page.on('pageerror', (e) => result.console.push('pageerror: ' + e.message));
    await page.goto(url);
    result.support = await page.evaluate(() => ({
      video: MediaSource.isTypeSupported('video/mp4; codecs="avc1.64001f"'),
      audio: MediaSource.isTypeSupported('audio/mp4; codecs="mp4a.40.2"'),
    }));
    await page.waitForFunction(() => document.getElementById('video').currentTime > 0, null, { timeout: 30000 });
    result.t0 = await page.evaluate(() => document.getElementById('video').currentTime);
    await page.waitForTimeout(Number(seconds) * 1000);
    const s = await page.evaluate(() => ({
      t1: document.getElementById('video').currentTime,
      status: window.edgekitStatus,
      paused: document.getElementById('video').paused,
      stats: document.getElementById('hitratio').textContent,
    }));
    Object.assign(result, s);
    await page.screenshot({ path: shot });
  } catch (e) {
    result.error = String(e);
  } finally {
    await ctx.close();
  }
  console.log(JSON.stringify(result));
})();
