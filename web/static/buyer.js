// The buyer's journey: waiting room, seat map, payment. State lives in
// sessionStorage so a reload keeps the buyer's place in line. The user key (the
// buyer's credential, from POST /api/users) lives in localStorage: it stays in
// this browser, across visits, and is sent only as Authorization: Bearer.
import { call, ApiError, newKey, won, duration, sleep, say } from "/web/api.js";

const $ = (id) => document.getElementById(id);
const KEY = "concertd.buyer";
const state = JSON.parse(sessionStorage.getItem(KEY) || "{}");
const save = () => sessionStorage.setItem(KEY, JSON.stringify(state));
const msg = (text, kind) => say($("msg"), text, kind);
let timers = [];

// The buyer's identity on this browser: { userId, userKey, name, email }.
const USER = "concertd.user";
const identity = () => JSON.parse(localStorage.getItem(USER) || "null");
const remember = (u) => (u ? localStorage.setItem(USER, JSON.stringify(u)) : localStorage.removeItem(USER));

// A hold on this page is one reservation or a group held together ("best N
// together"), paid with one payment: ids and seats list the group's members.
const heldIds = (h) => h.ids || [h.reservationId];
const heldSeats = (h) => h.seats || [h.seatNumber];
const giveBack = (h) => Promise.all(heldIds(h).map((id) =>
  call("DELETE", `/api/reservations/${id}`, { token: state.token }).catch(() => {})));

function show(section) {
  for (const id of ["enter", "wait", "seats", "pay", "done"]) $(id).hidden = id !== section;
  const order = ["enter", "seats", "pay"];
  const at = section === "wait" ? 0 : section === "done" ? 3 : order.indexOf(section);
  for (const li of $("steps").children) {
    const i = order.indexOf(li.dataset.step);
    li.className = i === at ? "now" : i < at ? "past" : "";
  }
  timers.forEach(clearInterval);
  timers = [];
}

function fail(e) {
  if (e instanceof ApiError && (e.code === "TOKEN_EXPIRED" || e.code === "TOKEN_INVALID")) {
    restart("Your place in line has expired. Enter again to get a new one.");
    return;
  }
  msg(e.message || String(e), "error");
}

function restart(text) {
  for (const k of Object.keys(state)) delete state[k];
  save();
  show("enter");
  loadConcerts();
  msg(text || "", text ? "error" : "");
}

async function loadConcerts() {
  const me = identity();
  if (me) {
    $("name").value ||= me.name;
    $("email").value ||= me.email;
  }
  $("email").value ||= `guest-${Math.random().toString(36).slice(2, 8)}@example.com`;
  try {
    const { concerts } = await call("GET", "/api/concerts");
    $("concert").replaceChildren(...concerts.map((c) => new Option(`${c.title}`, c.concertId)));
    $("enterBtn").disabled = concerts.length === 0;
    if (!concerts.length) msg("No concert is on sale yet.");
  } catch (e) { fail(e); }
}

// One Idempotency-Key per name and email typed: a click retried after a lost answer
// (or a second click) gets the same user back instead of EMAIL_TAKEN.
const signupKeys = new Map();

async function enter() {
  $("enterBtn").disabled = true;
  try {
    const body = { name: $("name").value.trim(), email: $("email").value.trim() };
    let me = identity();
    if (!me || me.email.toLowerCase() !== body.email.toLowerCase()) {
      // A new buyer on this browser: sign up, and keep the key here.
      const typed = body.name + "\n" + body.email;
      if (!signupKeys.has(typed)) signupKeys.set(typed, newKey());
      const { userId, userKey } = await call("POST", "/api/users", { body, idempotencyKey: signupKeys.get(typed) });
      me = { userId, userKey, name: body.name, email: body.email };
      remember(me);
    }
    const { userId } = me;
    const concertId = Number($("concert").value);
    let grant;
    try {
      grant = await enterLine(me, concertId);
    } catch (e) {
      if (e instanceof ApiError && e.code === "TOKEN_INVALID") {
        // The key kept here no longer works (rotated elsewhere, or another server).
        remember(null);
        throw new ApiError(401, "USER_KEY_LOST", "This browser's key for " + me.email + " no longer works; sign up with another email.");
      }
      throw e;
    }
    Object.assign(state, { token: grant.userToken, userId, concertId, firstPosition: grant.position || 0 });
    save();
    msg("");
    waitInLine(grant);
  } catch (e) { fail(e); } finally { $("enterBtn").disabled = false; }
}

// enterLine asks for a token with the presale code, if one was typed. A concert
// that wants a proof of work answers PROOF_REQUIRED: the page then solves a
// challenge in a Web Worker, showing its progress, and asks again with it.
async function enterLine(me, concertId) {
  const body = { concertId };
  const token = me.userKey;
  const code = $("presaleCode").value.trim();
  if (code) body.presaleCode = code;
  try {
    return await call("POST", "/api/users/token", { body, token });
  } catch (e) {
    if (!(e instanceof ApiError) || e.code !== "PROOF_REQUIRED") throw e;
  }
  const ch = await call("GET", `/api/queue/challenge?concertId=${concertId}`);
  body.proof = { challenge: ch.challenge, nonce: await solve(ch) };
  msg("");
  return call("POST", "/api/users/token", { body, token });
}

// solve runs the challenge in pow-worker.js and shows how much of the expected
// work (2^bits hashes) is done.
function solve({ challenge, bits }) {
  return new Promise((resolve, reject) => {
    const w = new Worker("/web/pow-worker.js");
    const expected = 2 ** bits;
    msg(`Checking your browser before the line (a few seconds)… 0%`);
    w.onmessage = (ev) => {
      if (ev.data.nonce !== undefined) {
        w.terminate();
        resolve(ev.data.nonce);
        return;
      }
      const pct = Math.min(99, Math.floor((100 * ev.data.tried) / expected));
      msg(`Checking your browser before the line (a few seconds)… ${pct}%`);
    };
    w.onerror = (e) => { w.terminate(); reject(new Error(e.message || "the proof of work failed")); };
    w.postMessage({ challenge, bits });
  });
}

// waitInLine polls the status as the server asks (pollAfterSeconds); the poll is
// also what keeps the place, so it must not stop while the page is open.
async function waitInLine(status) {
  show("wait");
  const token = state.token;
  while (state.token === token) {
    if (status) {
      if (status.status === "ACTIVE") return pickSeat(status);
      if (status.status === "DONE") return finished("You already bought your ticket.", "Nothing more to do for this concert.");
      if (status.position !== undefined || status.saleOpensAt) renderWaiting(status);
      await sleep(Math.max(1, status.pollAfterSeconds || 1) * 1000);
    }
    try {
      status = await call("GET", "/api/queue/status", { token });
      msg("");
    } catch (e) {
      if (e instanceof ApiError && e.status !== 401) {
        msg(`${e.message} Retrying…`, "error");
        status = { ...status, pollAfterSeconds: e.retryAfter };
        continue;
      }
      return fail(e);
    }
  }
}

function renderWaiting(s) {
  const pre = s.position === undefined;
  $("preQueue").hidden = !pre;
  $("inLine").hidden = pre;
  if (pre) {
    $("opensAt").textContent = new Date(s.saleOpensAt).toLocaleString();
  } else {
    state.firstPosition = Math.max(state.firstPosition || 0, s.position);
    save();
    $("position").textContent = s.position.toLocaleString("en-US");
    $("eta").textContent = duration(s.estimatedWaitSeconds);
    const done = state.firstPosition > 1 ? (state.firstPosition - s.position) / (state.firstPosition - 1) : 1;
    $("progress").style.width = `${Math.round(100 * Math.min(1, Math.max(0.03, done)))}%`;
  }
  $("pollNote").textContent = `Keep this page open: it checks in for you every ${s.pollAfterSeconds} s.`;
}

async function pickSeat(status) {
  show("seats");
  if (status?.expiresAt) state.activeUntil = status.expiresAt;
  save();
  $("activeUntil").textContent = new Date(state.activeUntil).toLocaleTimeString();
  try {
    const { availableSchedules } = await call("GET", `/api/concerts/schedules?concertId=${state.concertId}`);
    const sel = $("schedule");
    sel.replaceChildren(...availableSchedules.map((s) => {
      const o = new Option(`${s.concertDate} · ${s.availableSeats} of ${s.totalSeats} free`, s.concertScheduleId);
      o.dataset.date = s.concertDate;
      return o;
    }));
    if (state.hold) sel.value = state.hold.concertScheduleId;
    if (!sel.value && state.hold) state.hold = null;
  } catch (e) { return fail(e); }
  renderHold();
  await refreshSeats();
  timers.push(setInterval(refreshSeats, 2000), setInterval(renderHold, 1000));
}

async function refreshSeats() {
  const id = $("schedule").value;
  if (!id) return;
  try {
    const map = await call("GET", `/api/concerts/schedules/${id}/seats`, { token: state.token });
    const mine = new Set(state.hold && String(state.hold.concertScheduleId) === id ? heldSeats(state.hold) : []);
    // The date's label came from the public listing when the page opened; the map
    // is newer (and counts the buyer's own hold), so the label follows it.
    const opt = $("schedule").selectedOptions[0];
    if (opt) {
      const free = map.availableSeats.filter((s) => s.status === "available").length;
      opt.textContent = `${opt.dataset.date} · ${free} of ${map.availableSeats.length} free`;
    }
    // Sections in the map's order, for "best seat for me".
    const sec = $("section"), names = [...new Set(map.availableSeats.map((s) => s.section).filter(Boolean))];
    if (sec.options.length !== names.length + 1) {
      const keep = sec.value;
      sec.replaceChildren(new Option("any", ""), ...names.map((n) => new Option(n, n)));
      sec.value = names.includes(keep) ? keep : "";
    }
    $("seatMap").replaceChildren(...map.availableSeats.map((s) => {
      const b = document.createElement("button");
      b.textContent = s.seatNumber;
      b.title = `${s.label || "seat " + s.seatNumber} · ${won(s.price)} · ${s.status}`;
      b.className = "seat " + (mine.has(s.seatNumber) ? "mine" : s.status);
      b.disabled = s.status !== "available" && !mine.has(s.seatNumber);
      b.onclick = () => hold(Number(id), s.seatNumber);
      return b;
    }));
  } catch (e) { fail(e); }
}

// hold takes the new seat before giving the old one back, so a buyer who changes
// their mind never ends up with nothing.
async function hold(scheduleId, seatNumber) {
  if (state.hold?.seatNumber === seatNumber && state.hold.concertScheduleId === scheduleId) return;
  try {
    const r = await call("POST", "/api/reservations", { token: state.token, body: { concertScheduleId: scheduleId, seatNumber } });
    const old = state.hold;
    state.hold = { ...r, date: $("schedule").selectedOptions[0]?.dataset.date, payKey: newKey() };
    save();
    if (old && old.reservationId !== r.reservationId) await giveBack(old);
    msg(`Seat ${seatNumber} is yours for ${duration((new Date(r.expirationTime) - Date.now()) / 1000)}.`, "ok");
  } catch (e) { fail(e); }
  renderHold();
  refreshSeats();
}

// holdBest asks the server for the best N free seats together (in the chosen
// section, or the first with room) and swaps them for the buyer's current hold.
async function holdBest() {
  const scheduleId = Number($("schedule").value);
  if (!scheduleId) return;
  const body = { concertScheduleId: scheduleId, quantity: Number($("quantity").value) || 1 };
  if ($("section").value) body.section = $("section").value;
  try {
    const old = state.hold;
    // The page keeps one hold; give the old one back first so the hold limit has room.
    if (old) await giveBack(old);
    state.hold = null;
    const { reservations: rs } = await call("POST", "/api/reservations/best", { token: state.token, body });
    const r = rs.length === 1 ? rs[0] : {
      ...rs[0], ids: rs.map((x) => x.reservationId), seats: rs.map((x) => x.seatNumber),
      seatNumber: rs.map((x) => x.seatNumber).join(", "), price: rs.reduce((n, x) => n + x.price, 0),
      expirationTime: rs.map((x) => x.expirationTime).sort()[0],
    };
    state.hold = { ...r, date: $("schedule").selectedOptions[0]?.dataset.date, payKey: newKey() };
    save();
    msg(`${rs.length === 1 ? "Seat" : "Seats"} ${r.seatNumber} ${rs.length === 1 ? "is" : "are"} yours for ${duration((new Date(r.expirationTime) - Date.now()) / 1000)}.`, "ok");
  } catch (e) { fail(e); }
  renderHold();
  refreshSeats();
}

function renderHold() {
  const h = state.hold;
  $("holdBox").hidden = !h;
  if (!h) return;
  const left = (new Date(h.expirationTime) - Date.now()) / 1000;
  if (left <= 0) {
    state.hold = null;
    save();
    msg("Your hold ran out; the seat is free again.", "error");
    return renderHold();
  }
  $("holdSeat").textContent = h.seatNumber;
  $("holdPrice").textContent = won(h.price);
  $("holdLeft").textContent = duration(left);
}

async function release() {
  const h = state.hold;
  if (!h) return;
  try {
    await giveBack(h);
    msg(`${h.ids ? "Seats" : "Seat"} ${h.seatNumber} ${h.ids ? "are" : "is"} free again.`);
  } catch (e) { fail(e); }
  state.hold = null;
  save();
  renderHold();
  refreshSeats();
}

async function checkout() {
  const h = state.hold;
  show("pay");
  $("paySeat").textContent = h.seatNumber;
  $("payDate").textContent = h.date || "";
  $("payPrice").textContent = won(h.price);
  await refreshBalance();
}

async function refreshBalance() {
  try {
    const { currentBalance } = await call("GET", "/api/users/balance?limit=1", { token: state.token });
    $("balance").textContent = won(currentBalance);
    const short = state.hold ? state.hold.price - currentBalance : 0;
    $("amount").value = short > 0 ? short : "";
  } catch (e) { fail(e); }
}

async function charge() {
  const amount = Number($("amount").value);
  if (!Number.isInteger(amount) || amount < 1) return msg("Enter a whole number of won.", "error");
  $("chargeBtn").disabled = true;
  try {
    const r = await call("POST", "/api/users/balance/charge", { token: state.token, body: { amount }, idempotencyKey: newKey() });
    msg(`Added ${won(amount)}.`, "ok");
    $("balance").textContent = won(r.currentBalance);
    $("amount").value = "";
  } catch (e) { fail(e); } finally { $("chargeBtn").disabled = false; }
}

async function pay() {
  const h = state.hold;
  $("payBtn").disabled = true;
  try {
    const p = await call("POST", "/api/payments", {
      token: state.token, idempotencyKey: h.payKey,
      // A group is one payment of the sum: all of its seats or none.
      body: h.ids ? { reservationIds: h.ids, paymentAmount: h.price } : { reservationId: h.reservationId, paymentAmount: h.price },
    });
    state.hold = null;
    save();
    finished("Paid. Enjoy the show!", `${h.ids ? "Seats" : "Seat"} ${h.seatNumber} on ${h.date || "your date"} is yours: payment #${p.paymentId}, ${won(p.amount)}. Balance left: ${won(p.currentBalance)}.`);
  } catch (e) {
    if (e.code === "INSUFFICIENT_BALANCE") {
      msg("Your balance is too low: add money first.", "error");
      refreshBalance();
    } else if (e.code === "RESERVATION_EXPIRED") {
      state.hold = null;
      save();
      msg("Your hold ran out before the payment; nothing was charged. Pick a seat again.", "error");
      pickSeat();
    } else fail(e);
  } finally { $("payBtn").disabled = false; }
}

function finished(title, text) {
  show("done");
  $("doneTitle").textContent = title;
  $("doneText").textContent = text;
  msg("");
}

$("enterBtn").onclick = enter;
$("schedule").onchange = refreshSeats;
$("releaseBtn").onclick = release;
$("toPayBtn").onclick = checkout;
$("chargeBtn").onclick = charge;
$("payBtn").onclick = pay;
$("bestBtn").onclick = holdBest;
$("backBtn").onclick = () => pickSeat();
$("againBtn").onclick = () => restart();

if (state.token) waitInLine(null); else { show("enter"); loadConcerts(); }
