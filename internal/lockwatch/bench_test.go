package lockwatch

import (
	"context"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/config"
)

// BenchmarkPoll measures one read of the lock holders against the real
// server: connect, query pg_locks joined with pg_stat_activity, close.
//
//	go test -run '^$' -bench Poll -benchtime 100x ./internal/lockwatch
func BenchmarkPoll(b *testing.B) {
	needServerB(b)
	b.Setenv("LOCKWATCH_TEST_DSN", coordDSN)
	w := New(&config.Locks{DSNEnv: "LOCKWATCH_TEST_DSN", Interval: config.Duration(time.Second), Timeout: config.Duration(5 * time.Second),
		Keys: []config.LockKey{{Name: "payments-db", Env: "prod"}}}, Options{})
	b.ResetTimer()
	for range b.N {
		if err := w.Poll(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}
