#!/usr/bin/env python3
"""Write vegeta JSON targets (one per line, `vegeta attack -format=json`) from a
token file of `rush setup`.

  targets.py poll ADDR TOKENS                      GET /api/queue/status
  targets.py hold ADDR TOKENS SCHEDULE_ID SEATS    POST /api/reservations, random seats
  targets.py pay  ADDR LINES                       POST /api/payments ("token rid price" lines)

Each target carries its own Authorization header; vegeta cycles through them.
The tokens come from entries to a concert without gates (proofOfWorkBits 0, no
presale): see bench/README.md.
"""
import base64, json, random, sys

def main():
    kind, addr, path = sys.argv[1], sys.argv[2], sys.argv[3]
    lines = [l.split() for l in open(path) if l.strip()]
    out = sys.stdout
    for i, f in enumerate(lines):
        h = {"Authorization": ["Bearer " + f[0]]}
        if kind == "poll":
            t = {"method": "GET", "url": f"http://{addr}/api/queue/status", "header": h}
        elif kind == "hold":
            sched, seats = int(sys.argv[4]), int(sys.argv[5])
            # Many targets per token: vegeta cycles through the list, and a user
            # asking again for a seat it holds gets the same reservation (200).
            for _ in range(40):
                body = json.dumps({"concertScheduleId": sched, "seatNumber": random.randint(1, seats)})
                t = {"method": "POST", "url": f"http://{addr}/api/reservations",
                     "header": dict(h, **{"Content-Type": ["application/json"]}),
                     "body": base64.b64encode(body.encode()).decode()}
                out.write(json.dumps(t) + "\n")
            continue
        elif kind == "pay":
            body = json.dumps({"reservationId": int(f[1]), "paymentAmount": int(f[2])})
            t = {"method": "POST", "url": f"http://{addr}/api/payments",
                 "header": dict(h, **{"Content-Type": ["application/json"]}),
                 "body": base64.b64encode(body.encode()).decode()}
        else:
            sys.exit("kind must be poll, hold or pay")
        out.write(json.dumps(t) + "\n")

main()
