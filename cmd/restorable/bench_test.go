package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/restorable/restorable/internal/testutil"
)

// BenchmarkLockOverhead measures what wrapping a command costs: one run of
// `restorable lock -- true` against the real server (start the wrapper,
// connect, lock, mark the session, run the command, unlock, disconnect).
//
//	go test -run '^$' -bench LockOverhead -benchtime 50x ./cmd/restorable
func BenchmarkLockOverhead(b *testing.B) {
	if !testutil.TCPReachable("127.0.0.1:5432") {
		testutil.Unavailable(b, "no PostgreSQL on 127.0.0.1:5432")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	c, err := pgx.Connect(ctx, coordDSN)
	cancel()
	if err != nil {
		testutil.Unavailable(b, "cannot connect to PostgreSQL as postgres: "+err.Error())
	}
	_ = c.Close(context.Background())
	bin := testutil.GoBuild(b, ".")
	key := fmt.Sprintf("bench-%d", time.Now().UnixNano())
	env := append(os.Environ(), "COORD_DSN="+coordDSN)
	b.ResetTimer()
	for range b.N {
		cmd := exec.Command(bin, "lock", "--key", key, "--purpose", "backup", "--dsn-env", "COORD_DSN", "--", "true")
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v: %s", err, out)
		}
	}
}
