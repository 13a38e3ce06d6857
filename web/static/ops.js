// The operator view: live counts of one concert, the admission rate, the queue
// switches, and a chart of the line draining. It polls the stats endpoint once a
// second, the same granularity at which the contract promises settings apply.
import { call, ApiError, say } from "/web/api.js";

const $ = (id) => document.getElementById(id);
const KEY = "concertd.adminKey";
const WINDOW = 300; // seconds of history in the chart
const msg = (text, kind) => say($("msg"), text, kind);
let key = sessionStorage.getItem(KEY) || "";
let samples = []; // {t, waiting, active, admitted}
let timer = 0;

const admin = (method, path, body) => call(method, path, { adminKey: key, body });

function fail(e) {
  if (e instanceof ApiError && e.code === "ADMIN_ONLY") return logout("That key is not the admin key.");
  msg(e.message, "error");
}

function logout(text) {
  key = "";
  sessionStorage.removeItem(KEY);
  clearInterval(timer);
  $("console").hidden = true;
  $("login").hidden = false;
  msg(text || "", text ? "error" : "");
}

async function open() {
  try {
    const { concerts } = await call("GET", "/api/concerts");
    if (!concerts.length) return msg("No concert exists yet: create one with POST /api/admin/concerts.", "error");
    $("concert").replaceChildren(...concerts.map((c) => new Option(`#${c.concertId} ${c.title}`, c.concertId)));
    $("concert").value = concerts[concerts.length - 1].concertId;
    await select();
    $("login").hidden = true;
    $("console").hidden = false;
    msg("");
  } catch (e) { fail(e); }
}

async function select() {
  samples = [];
  clearInterval(timer);
  // An empty PATCH changes nothing and answers the settings in force.
  showSettings(await admin("PATCH", `/api/admin/concerts/${$("concert").value}/queue`, {}));
  await tick();
  timer = setInterval(tick, 1000);
}

function showSettings(s) {
  $("paused").checked = s.paused;
  $("admitPerSecond").value = s.admitPerSecond;
  $("maxActive").value = s.maxActive;
}

async function tick() {
  try {
    const st = await admin("GET", `/api/admin/concerts/${$("concert").value}/stats`);
    const now = Date.now() / 1000;
    samples.push({ t: now, waiting: st.waiting, active: st.active, admitted: st.admittedTotal });
    samples = samples.filter((s) => s.t >= now - WINDOW);
    const fmt = (n) => n.toLocaleString("en-US");
    $("waiting").textContent = fmt(st.waiting);
    $("active").textContent = fmt(st.active);
    $("admitted").textContent = fmt(st.admittedTotal);
    $("held").textContent = fmt(st.held);
    $("sold").textContent = `${fmt(st.sold)} / ${fmt(st.seatsTotal)}`;
    // The rate over the last ~5 s smooths the 100 ms admission steps.
    const old = samples.find((s) => s.t >= now - 5) || samples[0];
    const dt = now - old.t;
    $("rate").textContent = dt > 0.5 ? ((st.admittedTotal - old.admitted) / dt).toFixed(1) : "–";
    draw();
  } catch (e) { fail(e); }
}

function draw() {
  const c = $("chart");
  const dpr = window.devicePixelRatio || 1;
  const w = c.clientWidth, h = c.clientHeight;
  c.width = w * dpr;
  c.height = h * dpr;
  const g = c.getContext("2d");
  g.scale(dpr, dpr);
  g.clearRect(0, 0, w, h);
  const pad = { l: 56, r: 8, t: 8, b: 20 };
  const top = Math.max(10, ...samples.map((s) => Math.max(s.waiting, s.active)));
  const now = Date.now() / 1000;
  // The axis grows with the history, up to WINDOW, so a fresh view is not a dot.
  const span = Math.min(WINDOW, Math.max(30, now - (samples[0]?.t ?? now)));
  const x = (t) => pad.l + ((t - (now - span)) / span) * (w - pad.l - pad.r);
  const y = (v) => h - pad.b - (v / top) * (h - pad.t - pad.b);
  g.font = "11px system-ui, sans-serif";
  g.fillStyle = "#667085";
  g.strokeStyle = "#e4e7ec";
  for (const f of [0, 0.5, 1]) {
    g.beginPath();
    g.moveTo(pad.l, y(top * f));
    g.lineTo(w - pad.r, y(top * f));
    g.stroke();
    g.fillText(Math.round(top * f).toLocaleString("en-US"), 4, y(top * f) + 4);
  }
  g.fillText(span >= WINDOW ? "-5 min" : `-${Math.round(span)} s`, pad.l, h - 4);
  g.fillText("now", w - pad.r - 22, h - 4);
  for (const [field, color] of [["waiting", "#3454d1"], ["active", "#1f8a4c"]]) {
    g.beginPath();
    g.strokeStyle = color;
    g.lineWidth = 2;
    samples.forEach((s, i) => (i ? g.lineTo : g.moveTo).call(g, x(s.t), y(s[field])));
    g.stroke();
  }
}

async function apply(patch) {
  try {
    showSettings(await admin("PATCH", `/api/admin/concerts/${$("concert").value}/queue`, patch));
    msg("Applied; every instance follows within a second.", "ok");
  } catch (e) { fail(e); }
}

$("loginBtn").onclick = () => {
  key = $("key").value.trim();
  sessionStorage.setItem(KEY, key);
  open();
};
$("key").onkeydown = (e) => e.key === "Enter" && $("loginBtn").click();
$("logoutBtn").onclick = () => logout();
$("concert").onchange = () => select().catch(fail);
$("paused").onchange = () => apply({ paused: $("paused").checked });
$("applyBtn").onclick = () => apply({ admitPerSecond: Number($("admitPerSecond").value), maxActive: Number($("maxActive").value) });
window.onresize = draw;

if (key) open();
