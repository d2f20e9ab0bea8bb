// Drives a running hub's status page in Debian's headless Chromium (playwright-core, no browser
// download): the page loads and lists the connectors named on the command line; once the caller
// drops a bad file and writes `<screenshot>.go`, the named connector's row shows the failing badge
// without a page reload; screenshots at laptop and phone width.
//
// Usage: node status_page.mjs BASE_URL SCREENSHOT.png CONNECTOR,CONNECTOR FAILING_CONNECTOR
import { chromium } from "playwright-core";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [base, screenshot, names, failing] = process.argv.slice(2);
if (!failing) {
  console.error("usage: node status_page.mjs BASE_URL SCREENSHOT.png A,B FAILING");
  process.exit(2);
}
const connectors = names.split(",");
const profile = mkdtempSync(join(tmpdir(), "omnibus-chromium-"));
// A fresh profile (--user-data-dir), which playwright passes through launchPersistentContext.
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1280, height: 720 },
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
function fail(message) {
  console.error(`status page: ${message}`);
  process.exitCode = 1;
}
try {
  const page = await browser.newPage();
  let loads = 0;
  page.on("load", () => { loads += 1; });
  const response = await page.goto(base + "/");
  if (!response || response.status() !== 200) {
    throw new Error(`GET / answered ${response && response.status()}`);
  }
  for (const id of connectors) {
    await page.locator(`tr[data-connector="${id}"]`).waitFor({ timeout: 10000 });
  }
  await page.locator("#broker", { hasText: "connected" }).waitFor({ timeout: 10000 });
  const row = page.locator(`tr[data-connector="${failing}"]`);
  if (await row.locator(".badge.failing").count() !== 0) {
    throw new Error(`${failing} shows failing before the bad file`);
  }
  console.log(`listed: ${connectors.join(", ")}`);
  writeFileSync(`${screenshot}.ready`, "");
  await row.locator(".badge.failing").waitFor({ timeout: 60000 });
  if (loads !== 1) {
    fail(`the page reloaded (${loads} loads) instead of updating in place`);
  }
  for (const id of connectors.filter((c) => c !== failing)) {
    if (await page.locator(`tr[data-connector="${id}"] .badge.failing`).count() !== 0) {
      fail(`${id} shows failing too`);
    }
  }
  console.log(`${failing}: failing badge shown without a reload`);
  await page.screenshot({ path: screenshot, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: screenshot.replace(/\.png$/, "-phone.png"), fullPage: true });
} catch (e) {
  fail(e.message);
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
