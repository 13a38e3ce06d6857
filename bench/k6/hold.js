// k6 script: POST /api/reservations with random seats and rotating ACTIVE tokens.
// Not run by bench/run.sh (k6 is AGPL and not installed here); for users who have k6:
//   eval "$(rush setup -mode hold -users 1000 -seats 100000 -out hold.tokens -admin-key $ADMIN_KEY)"
//   k6 run -e BASE=http://127.0.0.1:8080 -e TOKENS=hold.tokens -e SCHEDULE=$SCHEDULE_ID -e SEATS=100000 bench/k6/hold.js
// 201 and 409 (SEAT_TAKEN, HOLD_LIMIT_REACHED) are all the hold path working; only 5xx fail.
import http from 'k6/http';
import { check } from 'k6';
import { SharedArray } from 'k6/data';

const BASE = __ENV.BASE || 'http://127.0.0.1:8080';
const SCHEDULE = parseInt(__ENV.SCHEDULE || '1');
const SEATS = parseInt(__ENV.SEATS || '100000');
const tokens = new SharedArray('tokens', () => open(__ENV.TOKENS || 'hold.tokens').split('\n').filter((l) => l.length > 0));

http.setResponseCallback(http.expectedStatuses({ min: 200, max: 499 }));

export const options = {
  scenarios: { hold: { executor: 'constant-vus', vus: 256, duration: '15s' } },
  thresholds: { http_req_failed: ['rate<0.001'], http_req_duration: ['p(99)<10'] },
};

export default function () {
  const t = tokens[Math.floor(Math.random() * tokens.length)];
  const body = JSON.stringify({ concertScheduleId: SCHEDULE, seatNumber: 1 + Math.floor(Math.random() * SEATS) });
  const r = http.post(`${BASE}/api/reservations`, body, {
    headers: { Authorization: `Bearer ${t}`, 'Content-Type': 'application/json' },
  });
  check(r, { 'not 5xx': (x) => x.status < 500 });
}
