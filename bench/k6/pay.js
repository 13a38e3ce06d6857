// k6 script: POST /api/payments at a constant arrival rate, one payment per held seat.
// Not run by bench/run.sh (k6 is AGPL and not installed here); for users who have k6:
//   rush setup -mode pay -users 3000 -seats 12000 -out pay.lines -admin-key $ADMIN_KEY
//   k6 run -e BASE=http://127.0.0.1:8080 -e LINES=pay.lines -e RATE=1000 bench/k6/pay.js
// Each line of pay.lines is "<token> <reservationId> <price>"; every line is paid once.
import http from 'k6/http';
import exec from 'k6/execution';
import { check } from 'k6';
import { SharedArray } from 'k6/data';

const BASE = __ENV.BASE || 'http://127.0.0.1:8080';
const lines = new SharedArray('lines', () =>
  open(__ENV.LINES || 'pay.lines').split('\n').filter((l) => l.length > 0).map((l) => l.split(' ')));

export const options = {
  scenarios: {
    pay: {
      executor: 'constant-arrival-rate',
      rate: parseInt(__ENV.RATE || '1000'), timeUnit: '1s',
      duration: '10s', preAllocatedVUs: 128, maxVUs: 512,
    },
  },
  thresholds: { http_req_failed: ['rate<0.001'] },
};

export default function () {
  const i = exec.scenario.iterationInTest;
  if (i >= lines.length) return;
  const [token, rid, price] = lines[i];
  const r = http.post(`${BASE}/api/payments`, JSON.stringify({ reservationId: parseInt(rid), paymentAmount: parseInt(price) }), {
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', 'Idempotency-Key': `k6-${rid}` },
  });
  check(r, { 'paid': (x) => x.status === 201 });
}
