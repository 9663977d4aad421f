// Runs peer.mjs in Debian's Chromium, headless, through playwright-core:
// `node chromium.mjs --server=URL --lobby=NAME --offer=yes|no --closer=yes|no`.
// The page is served from memory (page.route) at http://localhost, a secure context, so no
// web server is needed; its WebRTC traffic stays on loopback and no mDNS names are used.
import { readFile } from 'node:fs/promises';
import { chromium } from 'playwright-core';

const here = new URL('.', import.meta.url);
const args = Object.fromEntries(
  process.argv.slice(2).map((arg) => {
    const [key, ...rest] = arg.replace(/^--/, '').split('=');
    return [key, rest.join('=')];
  }),
);
const browser = await chromium.launch({
  executablePath: new URL('chromium-launcher.sh', here).pathname,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-quic',
    '--allow-loopback-in-peer-connection',
    // The in-memory page has no address; without this Chromium treats it as public and blocks
    // its connections to loopback (the signaling server, ICE).
    '--disable-features=WebRtcHideLocalIpsWithMdns,LocalNetworkAccessChecks,LocalNetworkAccessChecksWebRTC',
  ],
});
let failures = 1;
try {
  const page = await browser.newPage();
  page.on('console', (message) => console.log(message.text()));
  page.on('pageerror', (error) => console.log(`page error: ${error.message}`));
  const files = { '/page.html': 'text/html', '/peer.mjs': 'text/javascript' };
  await page.route('http://localhost/**', async (route) => {
    const path = new URL(route.request().url()).pathname;
    if (!files[path]) return route.fulfill({ status: 404 });
    return route.fulfill({ contentType: files[path], body: await readFile(new URL(`.${path}`, here)) });
  });
  await page.goto('http://localhost/page.html');
  await page.waitForFunction(() => window.interopReady === true);
  failures = await page.evaluate((options) => window.runInterop(options), {
    server: args.server,
    lobby: args.lobby,
    offer: args.offer === 'yes',
    closer: args.closer === 'yes',
  });
} catch (error) {
  console.log(`CHECK run FAIL ${error.message.split('\n')[0]}`);
} finally {
  await browser.close();
}
process.exit(failures === 0 ? 0 : 1);
