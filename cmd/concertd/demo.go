package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/concertd/concertd/engine"
)

// seedDemo creates the embedded mode's demo concert: on sale now, two schedules.
func seedDemo(ctx context.Context, e *engine.Engine) error {
	day := e.Now().AddDate(0, 1, 0)
	_, _, err := e.CreateConcert(ctx, engine.NewConcert{
		Title:       "concertd demo night",
		Description: "A demo concert created by embedded mode.",
		Queue:       engine.QueueSettings{AdmitPerSecond: 10, MaxActive: 100},
		Schedules: []engine.NewSchedule{
			{Date: day.Format(time.DateOnly), SeatCount: 50, Price: 50000},
			{Date: day.AddDate(0, 0, 1).Format(time.DateOnly), SeatCount: 200, Price: 80000},
		},
	})
	return err
}

func printBanner(w io.Writer, addr, adminKey, tokenSecret string) {
	if w == nil {
		return
	}
	base := "http://" + addr
	fmt.Fprintf(w, `concertd (embedded: in-process Redis and ledger, nothing persists)
  buyer page     %[1]s/
  operators      %[1]s/ops   (sign in with the admin key)
  API docs       %[1]s/docs
  API            %[1]s/api/concerts
  health         %[1]s/healthz
  admin key      %[2]s   (header X-Admin-Key; generated for this run)
  token secret   %[3]s   (generated for this run; signs user keys and tokens)
  try it:
    curl -s -XPOST %[1]s/api/users -d '{"name":"Kim","email":"kim@example.com"}'      # answers userId and userKey
    curl -s -XPOST %[1]s/api/users/token -H "Authorization: Bearer <userKey>" -d '{"concertId":1}'
    curl -s %[1]s/api/queue/status -H "Authorization: Bearer <userToken>"
    curl -s %[1]s/api/admin/concerts/1/stats -H "X-Admin-Key: %[2]s"
`, base, adminKey, tokenSecret)
}
