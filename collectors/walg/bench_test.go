package walg

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/config"
)

// BenchmarkBackupList parses and maps the backup-list of an archive with
// 10,000 base backups (a full a week and daily deltas over two
// centuries' worth of retention is far more than any real archive), as
// one collection does.
func BenchmarkBackupList(b *testing.B) {
	const n = 10_000
	var sb strings.Builder
	sb.WriteString("[")
	t0 := time.Date(2000, 1, 1, 2, 0, 0, 0, time.UTC)
	for i := range n {
		if i > 0 {
			sb.WriteString(",")
		}
		seg := fmt.Sprintf("%08X%08X%08X", 1, i/256, i%256)
		name := "base_" + seg
		if i%7 != 0 {
			name += fmt.Sprintf("_D_%08X%08X%08X", 1, (i-1)/256, (i-1)%256)
		}
		start := t0.Add(time.Duration(i) * 24 * time.Hour)
		lsn := uint64(i) * 16 << 20
		fmt.Fprintf(&sb, `{"backup_name":%q,"time":%q,"wal_file_name":%q,"storage_name":"default","start_time":%q,"finish_time":%q,"date_fmt":"%%Y-%%m-%%dT%%H:%%M:%%S.%%fZ","hostname":"pg-1","data_dir":"/var/lib/postgresql/15/main","pg_version":150004,"start_lsn":%d,"finish_lsn":%d,"is_permanent":false,"system_identifier":7345678901234567891,"uncompressed_size":53687091200,"compressed_size":9663676416,"user_data":{"release":"v%d"}}`,
			name, start.Add(10*time.Minute).Format(time.RFC3339Nano), seg, start.Format(time.RFC3339Nano), start.Add(10*time.Minute).Format(time.RFC3339Nano), lsn+40, lsn+8<<20, i/30)
	}
	sb.WriteString("]")
	data := []byte(sb.String())
	src := &config.Source{Name: "pg", Env: "prod", WALG: &config.WALGOptions{WALVerify: true}}
	m := &mapper{src: src, opts: src.WALG, observedAt: time.Now()}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		list, err := parseBackupList(data)
		if err != nil {
			b.Fatal(err)
		}
		if cat := m.catalog(list, &walVerify{}, nil); len(cat.Backups) != n {
			b.Fatalf("%d backups", len(cat.Backups))
		}
	}
}
