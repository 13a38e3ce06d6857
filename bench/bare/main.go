// Command bare is the baseline of bench/run.sh: a fasthttp server that answers
// every request with a fixed JSON body the size of a queue status answer, and does
// nothing else. concertd's figures are reported as ratios against it, measured in
// the same run on the same machine, so the ratio says what concertd's own work
// (token check, Redis round trip, encoding) costs on top of fasthttp itself.
package main

import (
	"flag"
	"log"
	"time"

	"github.com/valyala/fasthttp"
)

// body is what a waiting token's poll answers (about 100 bytes).
var body = []byte(`{"concertId":1,"status":"WAITING","position":1204,"estimatedWaitSeconds":95,"pollAfterSeconds":5}`)

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "listen address")
	flag.Parse()
	srv := &fasthttp.Server{
		Handler: func(rc *fasthttp.RequestCtx) {
			rc.SetStatusCode(fasthttp.StatusOK)
			rc.SetContentType("application/json")
			rc.SetBody(body)
		},
		Name:         "bare",
		ReadTimeout:  10 * time.Second,
		WriteTimeout: 10 * time.Second,
		IdleTimeout:  60 * time.Second,
	}
	log.Printf("bare: serving on %s", *addr)
	log.Fatal(srv.ListenAndServe(*addr))
}
