// Clicks through the buyer's journey and the operator view in headless Chromium
// against a real embedded concertd (its demo concert: 10 admitted per second).
// CONCERTD_BIN names the binary (default ../../concertd); screenshots go to artifacts/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const artifacts = path.join(here, "artifacts");
const bin = process.env.CONCERTD_BIN || path.join(here, "../../concertd");
const adminKey = "e2e-admin-key";
let server, base, browser;

// startServer listens on port 0 and reads the real address from the banner, so
// runs never collide with a concertd already on 8080.
function startServer() {
  return new Promise((resolve, reject) => {
    server = spawn(bin, [], {
      env: { ...process.env, CONCERTD_EMBEDDED: "1", CONCERTD_ADDR: "127.0.0.1:0", ADMIN_KEY: adminKey },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    const timer = setTimeout(() => reject(new Error("concertd did not start: " + out)), 15000);
    server.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/(http:\/\/127\.0\.0\.1:\d+)\/api\/concerts/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    server.on("exit", (code) => reject(new Error(`concertd exited ${code}: ${out}`)));
  });
}

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  base = await startServer();
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
});

after(async () => {
  await browser?.close();
  server?.kill("SIGTERM");
});

// newPage fails the test on any console error or failed request: a CSP
// violation or a missing asset shows up there and nowhere else.
async function newPage(t) {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  page.setDefaultTimeout(15000);
  const problems = [];
  page.on("console", (m) => m.type() === "error" && problems.push("console: " + m.text()));
  page.on("pageerror", (e) => problems.push("page error: " + e.message));
  page.on("requestfailed", (r) => problems.push("request failed: " + r.url()));
  t.after(async () => {
    await page.close();
    // 4xx answers the page handles (e.g. a seat just taken) are logged by Chromium
    // as "Failed to load resource"; anything else is a bug.
    const real = problems.filter((p) => !/Failed to load resource: the server responded with a status of 4\d\d/.test(p));
    assert.deepEqual(real, []);
  });
  return page;
}

const shot = (page, name) => page.screenshot({ path: path.join(artifacts, name), fullPage: true });

async function admin(method, p, body) {
  const res = await fetch(base + p, {
    method, headers: { "X-Admin-Key": adminKey, "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  assert.equal(res.status, 200, `${method} ${p}`);
  return res.json();
}

// enterAsBuyer opens the buyer page, signs up as name and waits for the seat map.
async function enterAsBuyer(page, name) {
  await page.goto(base + "/");
  await page.waitForSelector("#concert option", { state: "attached" });
  await page.fill("#name", name);
  await page.click("#enterBtn");
  await page.waitForSelector("#seats:not([hidden])", { timeout: 15000 });
  await page.waitForSelector("#seatMap .seat.available");
}

// chargeForHolds goes on to payment and charges the amount the page proposes,
// which must be amount.
async function chargeForHolds(page, amount) {
  await page.click("#toPayBtn");
  await page.waitForSelector("#pay:not([hidden])");
  await page.waitForFunction((a) => document.getElementById("amount").value === a, amount);
  await page.click("#chargeBtn");
  await page.waitForFunction(() => document.getElementById("msg").textContent.startsWith("Added"));
}

test("a buyer waits, is admitted, holds a seat, charges and pays", async (t) => {
  const page = await newPage(t);
  // Paused admission keeps the buyer in line long enough to see the waiting view.
  await admin("PATCH", "/api/admin/concerts/1/queue", { paused: true });
  await page.goto(base + "/");
  await page.waitForSelector("#concert option", { state: "attached" });
  await page.fill("#name", "Playwright");
  const signup = page.waitForRequest((r) => r.method() === "POST" && new URL(r.url()).pathname === "/api/users");
  await page.click("#enterBtn");
  // A sign-up carries a key, so a retried click gets its own user back.
  assert.ok((await signup).headers()["idempotency-key"], "POST /api/users without an Idempotency-Key");
  await page.waitForSelector("#wait:not([hidden])");
  await page.waitForFunction(() => document.getElementById("position").textContent === "1");
  await shot(page, "1-waiting.png");

  await admin("PATCH", "/api/admin/concerts/1/queue", { paused: false });
  await page.waitForSelector("#seats:not([hidden])", { timeout: 15000 });
  await page.waitForSelector("#seatMap .seat.available");
  await page.click("#seatMap .seat >> text='12'");
  await page.waitForSelector("#holdBox:not([hidden])");
  await page.waitForSelector("#seatMap .seat.mine");
  assert.equal(await page.textContent("#holdSeat"), "12");
  // The date's label counts free seats from the seat map, the buyer's hold included.
  await page.waitForFunction(() => / · 49 of 50 free$/.test(document.getElementById("schedule").selectedOptions[0].textContent));
  await shot(page, "2-seat-held.png");

  await chargeForHolds(page, "50000");
  await page.click("#payBtn");
  await page.waitForSelector("#done:not([hidden])");
  assert.match(await page.textContent("#doneText"), /Seat 12 .* payment #\d+/);
  await shot(page, "3-paid.png");
});

test("a buyer takes the best seat the server picks", async (t) => {
  const page = await newPage(t);
  await enterAsBuyer(page, "Best Seat");
  // The demo date is one section "A" of one row of 50, seat 12 sold above: the seat
  // nearest the row's middle that leaves no lone seat is 25 (25 and 26 tie: left).
  await page.waitForFunction(() => [...document.getElementById("section").options].some((o) => o.value === "A"));
  await page.selectOption("#section", "A");
  await page.click("#bestBtn");
  await page.waitForSelector("#holdBox:not([hidden])");
  assert.equal(await page.textContent("#holdSeat"), "25");
  await page.waitForSelector("#seatMap .seat.mine");
  assert.match(await page.getAttribute("#seatMap .seat.mine", "title"), /^A-1-25 · /);
  await shot(page, "2b-best-seat.png");
  await page.click("#releaseBtn");
  await page.waitForFunction(() => document.querySelector("#seatMap .seat.mine") === null);
});

test("an operator sees the sale and pauses the queue", async (t) => {
  const page = await newPage(t);
  await page.goto(base + "/ops");
  await page.fill("#key", adminKey);
  await page.click("#loginBtn");
  await page.waitForSelector("#console:not([hidden])");
  await page.waitForFunction(() => document.getElementById("sold").textContent.startsWith("1 /"));
  await page.click("#paused");
  await page.waitForFunction(() => document.getElementById("msg").textContent.startsWith("Applied"));
  const settings = await admin("PATCH", "/api/admin/concerts/1/queue", {});
  assert.equal(settings.paused, true);
  await page.waitForTimeout(2500); // a few samples for the chart
  await shot(page, "4-ops.png");
  await page.click("#paused");
  await page.waitForFunction(() => !document.getElementById("paused").checked);
});

test("the API docs render from embedded assets", async (t) => {
  const page = await newPage(t);
  await page.goto(base + "/docs");
  await page.waitForSelector(".swagger-ui .info .title");
  assert.match(await page.textContent(".swagger-ui .info .title"), /concertd/);
  await page.waitForSelector(".opblock-tag");
  await shot(page, "5-docs.png");
});

test("a buyer takes the best two seats together and pays for both at once", async (t) => {
  const page = await newPage(t);
  await enterAsBuyer(page, "Two Together");
  await page.selectOption("#quantity", "2");
  await page.click("#bestBtn");
  await page.waitForSelector("#holdBox:not([hidden])");
  assert.equal(await page.textContent("#holdSeat"), "25, 26");
  await page.waitForFunction(() => document.querySelectorAll("#seatMap .seat.mine").length === 2);
  await chargeForHolds(page, "100000");
  const payment = page.waitForRequest((r) => r.method() === "POST" && new URL(r.url()).pathname === "/api/payments");
  await page.click("#payBtn");
  assert.equal((await payment).postDataJSON().reservationIds.length, 2);
  await page.waitForSelector("#done:not([hidden])");
  assert.match(await page.textContent("#doneText"), /Seats 25, 26 .* payment #\d+, .*100,000/);
  await shot(page, "6-two-together.png");
});
