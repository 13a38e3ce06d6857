// k6 script: GET /api/queue/status with rotating WAITING tokens.
// Not run by bench/run.sh (k6 is AGPL and not installed here); for users who have k6:
//   rush setup -mode poll -users 10000 -out poll.tokens -addr 127.0.0.1:8080 -admin-key $ADMIN_KEY
//   k6 run -e BASE=http://127.0.0.1:8080 -e TOKENS=poll.tokens bench/k6/poll.js
import http from 'k6/http';
import { check } from 'k6';
import { SharedArray } from 'k6/data';

const BASE = __ENV.BASE || 'http://127.0.0.1:8080';
const tokens = new SharedArray('tokens', () => open(__ENV.TOKENS || 'poll.tokens').split('\n').filter((l) => l.length > 0));

export const options = {
  scenarios: {
    poll: { executor: 'constant-vus', vus: 256, duration: '15s' },
  },
  thresholds: {
    http_req_failed: ['rate<0.001'],
    http_req_duration: ['p(99)<10'],
  },
};

export default function () {
  const t = tokens[Math.floor(Math.random() * tokens.length)];
  const r = http.get(`${BASE}/api/queue/status`, { headers: { Authorization: `Bearer ${t}` } });
  check(r, { 'status 200': (x) => x.status === 200 });
}
