// Starts Debian's Chromium headless (through playwright-core) with a fresh profile of its own,
// for the browser tests. `noCors`: without web security (for an S3 that sends no CORS headers).
// Returns {context, cleanup}; cleanup closes the browser and removes the profile.
"use strict";
const fs = require("fs");
const os = require("os");
const path = require("path");

async function launch(chromium, { noCors = false } = {}) {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "presign-chromium-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync",
    ].concat(noCors ? ["--disable-web-security"] : []),
  });
  const cleanup = async () => {
    await context.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  };
  return { context, cleanup };
}

module.exports = { launch };
