// k6 script: POST /api/users/token (enter the waiting room), each iteration the
// next user of the file, so every request is a user's first entry (201, a new
// place in line) until the users run out; after that a user enters again and gets
// the same token back (200). The file holds one user key per line (the userKey of
// POST /api/users), sent as Authorization: Bearer: a bare userId no longer enters.
// Not run by bench/run.sh (k6 is AGPL and not installed here); for users who have k6:
//   eval "$(rush setup -mode issue -users 100000 -out issue.users -addr 127.0.0.1:8080 -admin-key $ADMIN_KEY)"
//   k6 run -e BASE=http://127.0.0.1:8080 -e USERS=issue.users -e CONCERT=$CONCERT_ID bench/k6/issue.js
// cmd/concertd/k6_test.go runs it under a small k6-compatible runtime.
// Sends no proof of work or presale code: run it on a concert with proofOfWorkBits 0
// and no presale (as rush setup makes), see bench/README.md.
import http from 'k6/http';
import exec from 'k6/execution';
import { check } from 'k6';
import { SharedArray } from 'k6/data';
import { Counter } from 'k6/metrics';

const BASE = __ENV.BASE || 'http://127.0.0.1:8080';
const CONCERT = parseInt(__ENV.CONCERT || '1');
const keys = new SharedArray('keys', () => open(__ENV.USERS || 'issue.users').split('\n').filter((l) => l.length > 0));
const firstEntries = new Counter('first_entries');

export const options = {
  scenarios: { issue: { executor: 'constant-vus', vus: 256, duration: '15s' } },
  thresholds: { http_req_failed: ['rate<0.001'], http_req_duration: ['p(99)<10'] },
};

export default function () {
  const key = keys[exec.scenario.iterationInTest % keys.length];
  const r = http.post(`${BASE}/api/users/token`, JSON.stringify({ concertId: CONCERT }), {
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${key}` },
  });
  check(r, {
    'token issued': (x) => (x.status === 201 || x.status === 200) && x.json('status') === 'WAITING' && x.json('userToken').length > 0,
  });
  if (r.status === 201) firstEntries.add(1);
}
