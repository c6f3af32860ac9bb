// Drives Debian's Chromium (headless, through playwright-core) through examples/upload: one
// upload from an origin the stack allows, one from an origin it does not, one from an origin
// the API allows but the bucket's CORS rules do not. Run by
// tests/browser.rs, which deploys the stack, starts `presign-stack dev` and serves the page.
// Env: PAGE_ALLOWED, PAGE_DISALLOWED, PAGE_API_ONLY (page URLs with ?api=...), SCREENSHOT (PNG path),
// CHROMIUM (executable). Prints one JSON line: {allowed: {...}, disallowed: {...}}.
"use strict";
const { chromium } = require("playwright-core");
const { launch } = require("./launch");

// A 1x1 PNG.
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
  "base64");

async function upload(context, page_url, name, screenshot) {
  const page = await context.newPage();
  const console_lines = [];
  page.on("console", (m) => console_lines.push(m.text()));
  await page.goto(page_url);
  await page.setInputFiles("#file", { name, mimeType: "image/png", buffer: PNG });
  await page.click("#upload");
  // Wait for the page to settle on ok or error (bounded by the timeout).
  await page.waitForSelector('#status[data-state="ok"], #status[data-state="error"]', { timeout: 30000 });
  const state = await page.getAttribute("#status", "data-state");
  const text = await page.textContent("#status");
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
  await page.close();
  return { state, text, console: console_lines };
}

(async () => {
  const { context, cleanup } = await launch(chromium);
  try {
    const allowed = await upload(context, process.env.PAGE_ALLOWED, "from-allowed-origin.png", process.env.SCREENSHOT);
    if (!process.env.PAGE_DISALLOWED) {
      // Only the allowed origin (the shipped example's own origins).
      console.log(JSON.stringify({ allowed }));
      return;
    }
    const disallowed = await upload(context, process.env.PAGE_DISALLOWED, "from-other-origin.png", process.env.SCREENSHOT_BLOCKED);
    // Allowed by the API but not by the bucket: the PUT itself is blocked by S3's CORS rules.
    const bucketBlocked = await upload(context, process.env.PAGE_API_ONLY, "from-api-only-origin.png", null);
    console.log(JSON.stringify({ allowed, disallowed, bucket_blocked: bucketBlocked }));
  } finally {
    await cleanup();
  }
})().catch((e) => {
  console.error(e && e.stack || String(e));
  process.exit(1);
});
