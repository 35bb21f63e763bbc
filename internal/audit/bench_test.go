package audit

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkAppend measures one audited entry: encode, write, fsync the
// line, replace and fsync the head. It is what an audited request adds to
// its answer, twice for an allowed operation.
func BenchmarkAppend(b *testing.B) {
	l, _, err := Open(filepath.Join(b.TempDir(), "audit.log"), time.Now)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close() //nolint:errcheck // benchmark
	e := Entry{Principal: "alice", Auth: "token", Remote: "192.0.2.1", Action: "probe.run", Target: "payments-restore", Outcome: OutcomeOK, Status: 202}
	for b.Loop() {
		if err := l.Append(e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify100k verifies a log of 100,000 entries (about 30 MB), which
// the exporter also does at every start.
func BenchmarkVerify100k(b *testing.B) {
	path := filepath.Join(b.TempDir(), "audit.log")
	var data []byte
	h := Head{}
	for i := int64(1); i <= 100_000; i++ {
		line, hash, err := encode(Entry{Seq: i, Time: time.Unix(1_700_000_000+i, 0).UTC(), Principal: "alice", Auth: "token", Remote: "192.0.2.1", Action: "probe.run", Target: "payments-restore", Outcome: OutcomeOK, Status: 202, Prev: h.Hash})
		if err != nil {
			b.Fatal(err)
		}
		data = append(data, line...)
		h = Head{Seq: i, Hash: hash}
	}
	if err := os.WriteFile(path, data, 0o640); err != nil {
		b.Fatal(err)
	}
	if err := writeHead(path+HeadSuffix, h); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		res, err := Verify(path)
		if err != nil || len(res.Problems) > 0 {
			b.Fatalf("%v %v", err, res.Problems)
		}
	}
}
