// k6 script: the whole user journey of a rush, one buyer per iteration:
// create a user, enter the waiting room, charge a balance, poll honouring
// pollAfterSeconds until ACTIVE, read the seat map, hold a free seat (another
// one on 409 SEAT_TAKEN), pay, and see the token DONE. Its concert asks for no proof
// of work and has no presale (bench/README.md: the k6 scripts bypass both gates).
// setup() creates the concert through the operator endpoint, so it needs only
// a running concertd and its admin key:
//   k6 run -e BASE=http://127.0.0.1:8080 -e ADMIN_KEY=$ADMIN_KEY \
//     -e USERS=5000 -e VUS=500 -e SEATS=2000 -e ADMIT=200 -e MAX_ACTIVE=1000 bench/k6/journey.js
// With more users than seats, the late ones find the schedule sold out, in the
// seat map once admitted or, while still waiting, in the public schedule list
// (read every LISTING_EVERY polls; a sold-out schedule leaves it). That ends
// their journey without a purchase and counts in sold_out, not as a failure. A
// buyer who waited on regardless would wait for nothing: the admitted buyers who
// found no seat keep their places among maxActive until their tokens expire.
// k6 itself is not run here (AGPL); cmd/concertd/k6_test.go runs this file
// under a small k6-compatible runtime against a real server, so it is known to
// speak the API.
import http from 'k6/http';
import { check, sleep, fail } from 'k6';
import { Counter, Rate, Trend } from 'k6/metrics';

const BASE = __ENV.BASE || 'http://127.0.0.1:8080';
const USERS = parseInt(__ENV.USERS || '2000');
const SEATS = parseInt(__ENV.SEATS || '1000');
const PRICE = parseInt(__ENV.PRICE || '50000');
const LISTING_EVERY = parseInt(__ENV.LISTING_EVERY || '5');
const JSON_HEADERS = { 'Content-Type': 'application/json' };

const queueWait = new Trend('queue_wait_seconds');
const polls = new Counter('polls');
const seatsBought = new Counter('seats_bought');
const soldOut = new Counter('sold_out');
const holdConflicts = new Counter('hold_conflicts');
const journeyOK = new Rate('journey_ok');

// 409 SEAT_TAKEN is the rush working, not a failed request.
http.setResponseCallback(http.expectedStatuses({ min: 200, max: 399 }, 409));

export const options = {
  scenarios: {
    rush: {
      executor: 'shared-iterations',
      vus: parseInt(__ENV.VUS || '200'),
      iterations: USERS,
      maxDuration: __ENV.MAX_DURATION || '10m',
    },
  },
  thresholds: {
    journey_ok: ['rate>0.99'],
    http_req_failed: ['rate<0.01'],
    'http_req_duration{name:poll}': ['p(99)<10'],
    'http_req_duration{name:hold}': ['p(99)<10'],
  },
};

export function setup() {
  const admin = { headers: Object.assign({ 'X-Admin-Key': __ENV.ADMIN_KEY || '' }, JSON_HEADERS) };
  const r = http.post(`${BASE}/api/admin/concerts`, JSON.stringify({
    title: `k6 journey ${Date.now()}`,
    description: 'bench/k6/journey.js',
    queue: { admitPerSecond: parseInt(__ENV.ADMIT || '100'), maxActive: parseInt(__ENV.MAX_ACTIVE || '1000') },
    schedules: [{ concertDate: new Date().toISOString().slice(0, 10), seatCount: SEATS, price: PRICE }],
  }), admin);
  if (r.status !== 201) fail(`creating the concert: ${r.status} ${r.body} (is ADMIN_KEY set?)`);
  return { run: Date.now(), concertId: r.json('concertId'), scheduleId: r.json('scheduleIds')[0] };
}

function post(path, body, token, name, extra) {
  const headers = Object.assign({}, JSON_HEADERS, extra || {});
  if (token) headers.Authorization = `Bearer ${token}`;
  return http.post(`${BASE}${path}`, JSON.stringify(body), { headers, tags: { name } });
}

function get(path, token, name) {
  return http.get(`${BASE}${path}`, { headers: { Authorization: `Bearer ${token}` }, tags: { name } });
}

// listed says whether the schedule still has a seat to sell: the public list
// (cached by the server, no token needed) leaves out a schedule with none.
function listed(data) {
  const r = http.get(`${BASE}/api/concerts/schedules?concertId=${data.concertId}`, { tags: { name: 'listing' } });
  if (!check(r, { 'listing 200': (x) => x.status === 200 })) return true;
  return r.json('availableSchedules').some((s) => s.concertScheduleId === data.scheduleId);
}

function freeSeats(data, token) {
  const r = get(`/api/concerts/schedules/${data.scheduleId}/seats`, token, 'seatmap');
  if (!check(r, { 'seat map 200': (x) => x.status === 200 })) return null;
  return r.json('availableSeats').filter((s) => s.status === 'available').map((s) => s.seatNumber);
}

// The journey of one buyer. Returns true when it ended as it should: a seat
// bought and the token DONE, or the schedule sold out before a hold stuck.
function journey(data) {
  const n = `${data.run}-${__VU}-${__ITER}`;
  const u = post('/api/users', { name: `k6 ${n}`, email: `k6-${n}@example.com` }, null, 'user');
  if (!check(u, { 'user 201': (x) => x.status === 201 })) return false;

  const e = post('/api/users/token', { concertId: data.concertId }, u.json('userKey'), 'enter');
  if (!check(e, { 'enter 201': (x) => x.status === 201 })) return false;
  const token = e.json('userToken');

  const c = post('/api/users/balance/charge', { amount: PRICE }, token, 'charge', { 'Idempotency-Key': `charge-${n}` });
  if (!check(c, { 'charge 200': (x) => x.status === 200 })) return false;

  const entered = Date.now();
  let st = e.json();
  let waited = 0;
  while (st.status === 'WAITING') {
    sleep(st.pollAfterSeconds);
    const p = get('/api/queue/status', token, 'poll');
    polls.add(1);
    if (!check(p, { 'poll 200': (x) => x.status === 200 })) return false;
    st = p.json();
    if (st.status === 'WAITING' && ++waited % LISTING_EVERY === 0 && !listed(data)) {
      soldOut.add(1);
      return true;
    }
  }
  queueWait.add((Date.now() - entered) / 1000);
  if (!check(st, { 'admitted': (x) => x.status === 'ACTIVE' })) return false;

  // The seat map may be up to 100 ms behind the holds, so in the last seconds of a
  // rush it shows seats as free that someone has just taken; a buyer remembers
  // the seats refused to them and never tries one twice. Each refusal rules out
  // a seat, so this ends: with a hold, or with no seat left to try.
  let hold = null;
  const refused = new Set();
  while (hold === null) {
    const free = freeSeats(data, token);
    if (free === null) return false;
    const left = free.filter((s) => !refused.has(s));
    if (left.length === 0) {
      soldOut.add(1);
      return true;
    }
    const seat = left[Math.floor(Math.random() * left.length)];
    const h = post('/api/reservations', { concertScheduleId: data.scheduleId, seatNumber: seat }, token, 'hold');
    if (h.status === 409 && h.json('code') === 'SEAT_TAKEN') {
      holdConflicts.add(1);
      refused.add(seat);
      continue;
    }
    if (!check(h, { 'hold 201': (x) => x.status === 201 })) return false;
    hold = h.json();
  }

  const pay = post('/api/payments', { reservationId: hold.reservationId, paymentAmount: hold.price }, token, 'pay',
    { 'Idempotency-Key': `pay-${hold.reservationId}` });
  if (!check(pay, { 'pay 201': (x) => x.status === 201 && x.json('status') === 'COMPLETED' })) return false;
  seatsBought.add(1);

  const done = get('/api/queue/status', token, 'poll');
  return check(done, { 'token DONE': (x) => x.status === 200 && x.json('status') === 'DONE' });
}

export default function (data) {
  journeyOK.add(journey(data));
}
