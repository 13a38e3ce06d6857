package redisstore

import "strconv"

// Every key name comes from this file. Keys of one concert share the hash tag
// {c<concertID>}, so each Lua script touches one Cluster slot; the README's key table
// is written from here. P is the store's prefix (default "concertd").
//
//	P:{cN}:cfg                 hash   opensAt(ms) admitPerSecond maxActive paused powBits admitted bucket bucketAt scanAt scannedAt scanLen
//	P:{cN}:wait                zset   userID -> queue order (pre-queue: random < 2^52; later: 2^52+seq)
//	P:{cN}:active              zset   userID -> active lease end (ms)
//	P:{cN}:seq                 string arrival counter, also every token's gen
//	P:{cN}:tokens              hash   userID -> "gen:issuedAt(s):lastPoll(ms after issuedAt)[:d]"
//	P:{cN}:uh:<userID>         zset   reservationID -> deadline (ms): the user's live holds
//	P:{cN}:sold:<scheduleID>   bitmap bit per seat number, 1 = sold
//	P:{cN}:holds:<scheduleID>  zset   seat -> hold deadline (ms), PENDING holds
//	P:{cN}:paying:<scheduleID> zset   seat -> payment window end (ms), PAYING holds
//	P:{cN}:holders:<scheduleID> hash  seat -> "reservationID:userID"
//	P:{cN}:tags:<scheduleID>   string byte per seat number: engine.HolderTag of its holder, 0 = none
//	P:{cN}:hold:<scheduleID>:<seat> string with PX: expiry trigger for the keyspace listener
//	P:{cN}:res:<reservationID> string "schedule:seat:user:price:deadline:STATE"
//	P:{cN}:rebuilt:<scheduleID> string sold seats loaded from the ledger
//	P:{cN}:pow:<challengeMAC>  string with PX: this proof-of-work challenge entered someone
//	P:{cN}:rows:<scheduleID>   hash   L -> layout; <row> -> free seats of the row; s<k> -> free seats of section k
//	P:{cN}:bought              hash   userID -> seats bought on the concert (maxTicketsPerUser)
//	P:ids:reservation          string reservation id counter (blocks handed to instances)
//	P:{u<bucket>}:keygen       hash   userID -> user key generation above 1 (user id mod 64 = bucket);
//	                                  field 0 = bucket loaded from the ledger
//	P:events                   stream payment.completed events from the outbox
//	P:closed                   set    ids of closed concerts whose keys were deleted
//	P:rl:{<key>}               string GCRA theoretical arrival time (us) of one rate limit key
type keys struct{ prefix string }

func (k keys) concert(concertID int64) string {
	return k.prefix + ":{c" + strconv.FormatInt(concertID, 10) + "}:"
}

func (k keys) cfg(c int64) string    { return k.concert(c) + "cfg" }
func (k keys) wait(c int64) string   { return k.concert(c) + "wait" }
func (k keys) active(c int64) string { return k.concert(c) + "active" }
func (k keys) seq(c int64) string    { return k.concert(c) + "seq" }

func (k keys) tokens(c int64) string          { return k.concert(c) + "tokens" }
func (k keys) userHolds(c, user int64) string { return k.concert(c) + "uh:" + itoa(user) }

// enterKeys and statusKeys are the KEYS of enter.lua and status.lua, in their
// headers' order.
func (k keys) enterKeys(c int64) []string {
	return []string{k.cfg(c), k.tokens(c), k.wait(c), k.active(c), k.seq(c)}
}
func (k keys) statusKeys(c int64) []string { return []string{k.active(c), k.wait(c), k.tokens(c)} }

func (k keys) sold(c, schedule int64) string    { return k.concert(c) + "sold:" + itoa(schedule) }
func (k keys) holds(c, schedule int64) string   { return k.concert(c) + "holds:" + itoa(schedule) }
func (k keys) paying(c, schedule int64) string  { return k.concert(c) + "paying:" + itoa(schedule) }
func (k keys) holders(c, schedule int64) string { return k.concert(c) + "holders:" + itoa(schedule) }
func (k keys) tags(c, schedule int64) string    { return k.concert(c) + "tags:" + itoa(schedule) }
func (k keys) rebuilt(c, schedule int64) string { return k.concert(c) + "rebuilt:" + itoa(schedule) }
func (k keys) rows(c, schedule int64) string    { return k.concert(c) + "rows:" + itoa(schedule) }
func (k keys) bought(c int64) string            { return k.concert(c) + "bought" }
func (k keys) holdTrigger(c, schedule int64, seat int) string {
	return k.concert(c) + "hold:" + itoa(schedule) + ":" + strconv.Itoa(seat)
}
func (k keys) reservation(c, id int64) string { return k.concert(c) + "res:" + itoa(id) }

// usedChallenge marks a proof-of-work challenge, named by its MAC, as used.
func (k keys) usedChallenge(c int64, id string) string { return k.concert(c) + "pow:" + id }

func (k keys) reservationIDs() string { return k.prefix + ":ids:reservation" }
func (k keys) events() string         { return k.prefix + ":events" }
func (k keys) closed() string         { return k.prefix + ":closed" }

// userKeyGens is one bucket of the user key mirror; each bucket its own hash
// tag, so key checks spread over a Cluster's masters.
func (k keys) userKeyGens(bucket int) string {
	return k.prefix + ":{u" + strconv.Itoa(bucket) + "}:keygen"
}

// rateLimit tags each limit key on its own: limits of different tokens and
// addresses spread over the Cluster instead of piling onto one slot.
func (k keys) rateLimit(key string) string { return k.prefix + ":rl:{" + key + "}" }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
