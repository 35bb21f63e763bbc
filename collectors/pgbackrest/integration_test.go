package pgbackrest

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/runx"
	"github.com/restorable/restorable/internal/testutil/pgcluster"
)

// TestCollectRealCluster backs up a real PostgreSQL cluster with the real
// pgBackRest (a full annotated with its release, then an incr) and checks
// what the collector makes of the repository.
func TestCollectRealCluster(t *testing.T) {
	const stanza = "payments"
	pg := pgcluster.Start(t, pgcluster.Options{PgBackRest: true, Stanza: stanza})
	pg.SQL(t, "postgres", "CREATE DATABASE shop")
	pg.SQL(t, "postgres", "CREATE TABLE orders (id int PRIMARY KEY, note text); INSERT INTO orders SELECT g, md5(g::text) FROM generate_series(1, 5000) g")
	pg.Backup(t, "full", "--annotation=release=v1.4")
	pg.SQL(t, "postgres", "INSERT INTO orders SELECT g, md5(g::text) FROM generate_series(5001, 10000) g")
	pg.Backup(t, "incr")

	src := &config.Source{
		Name: "payments-db", Type: config.TypePgBackRest, Env: "prod", Classification: "pii",
		PgBackRest: &config.PgBackRestOptions{Config: pg.ConfigPath, Stanzas: []string{stanza}, RunAs: pg.User},
	}
	c, err := New(src, discard(), observed)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cat, err := c.Collect(ctx)
	if err != nil {
		t.Fatal(err)
	}

	if len(cat.Backups) != 2 {
		t.Fatalf("got %d backups, want 2: %+v", len(cat.Backups), cat.Backups)
	}
	full, incr := cat.Backups[0], cat.Backups[1]
	if full.Type != model.BackupFull || incr.Type != model.BackupIncr {
		t.Errorf("types %s, %s; want full, incr", full.Type, incr.Type)
	}
	if !strings.HasSuffix(full.ID, "F") || incr.Parent != full.ID || full.Parent != "" {
		t.Errorf("full %q (parent %q), incr parent %q: the incr must depend on the full", full.ID, full.Parent, incr.Parent)
	}
	if full.Release != "v1.4" || incr.Release != "" {
		t.Errorf("releases %q, %q; want v1.4 from the annotation, then none", full.Release, incr.Release)
	}
	for _, b := range cat.Backups {
		if !b.Good() || b.Env != "prod" || b.Dataset != stanza || b.Classification != "pii" || b.Details().Agent != "pgbackrest" || b.Details().AgentVersion == "" {
			t.Errorf("%s: %+v", b.ID, b)
		}
		if b.LogicalBytes <= 0 || b.StoredBytes <= 0 || b.Start.IsZero() || b.End.Before(b.Start) {
			t.Errorf("%s: sizes %d/%d, times %v..%v", b.ID, b.LogicalBytes, b.StoredBytes, b.Start, b.End)
		}
		if lsn(t, b.Details().LSNStart) > lsn(t, b.Details().LSNStop) || b.Details().WALStart == "" || b.Details().WALStop < b.Details().WALStart {
			t.Errorf("%s: LSN %s..%s, WAL %s..%s", b.ID, b.Details().LSNStart, b.Details().LSNStop, b.Details().WALStart, b.Details().WALStop)
		}
	}
	if lsn(t, full.Details().LSNStop) > lsn(t, incr.Details().LSNStart) || full.Details().WALStop > incr.Details().WALStart || full.End.After(incr.Start) {
		t.Errorf("the incr (LSN %s, WAL %s) does not follow the full (LSN %s, WAL %s)", incr.Details().LSNStart, incr.Details().WALStart, full.Details().LSNStop, full.Details().WALStop)
	}
	if incr.StoredBytes >= full.StoredBytes {
		t.Errorf("incr stored %d bytes, the full %d: an incr adds only what changed", incr.StoredBytes, full.StoredBytes)
	}

	// The facts of pgbackrest_exporter: what each backup copied, what a
	// restore of it reads, the databases it holds, the stanza's version.
	for _, b := range cat.Backups {
		if !slices.Equal(b.Details().Databases, []string{"postgres", "shop"}) {
			t.Errorf("%s: databases %v, want postgres and shop", b.ID, b.Details().Databases)
		}
	}
	if full.Details().DeltaBytes != full.LogicalBytes || incr.Details().DeltaBytes <= 0 || incr.Details().DeltaBytes >= full.Details().DeltaBytes {
		t.Errorf("delta bytes: full %d (size %d), incr %d", full.Details().DeltaBytes, full.LogicalBytes, incr.Details().DeltaBytes)
	}
	if full.Details().RestoreBytes != full.StoredBytes || incr.Details().RestoreBytes <= full.Details().RestoreBytes {
		t.Errorf("restore bytes: full %d (stored %d), incr %d; an incr restores its full too", full.Details().RestoreBytes, full.StoredBytes, incr.Details().RestoreBytes)
	}
	// The databases of a finished backup are read once: the next
	// collection makes one info call only.
	var meter runx.Meter
	if _, err := c.Collect(runx.WithMeter(ctx, &meter)); err != nil {
		t.Fatal(err)
	}
	if calls := meter.Calls(); calls["pgbackrest info"] != 1 {
		t.Errorf("second collection made %v calls, want one info", calls)
	}

	if len(cat.Repositories) != 1 {
		t.Fatalf("got %d repositories, want 1", len(cat.Repositories))
	}
	r := cat.Repositories[0]
	if r.DatabaseVersion != "15" {
		t.Errorf("database version %q, want 15", r.DatabaseVersion)
	}
	if r.Name != stanza || !r.Healthy || r.StatusCode != 0 || r.Status != "ok" || r.BackupLocked {
		t.Errorf("repository %+v", r)
	}
	if r.WALMin == "" || r.WALMax == "" || r.WALMin > full.Details().WALStart || r.WALMax < incr.Details().WALStop {
		t.Errorf("WAL archive %s..%s does not cover the backups (%s..%s)", r.WALMin, r.WALMax, full.Details().WALStart, incr.Details().WALStop)
	}
	if r.StoredBytes != full.StoredBytes+incr.StoredBytes || r.LogicalBytes != incr.LogicalBytes {
		t.Errorf("repository stored %d logical %d", r.StoredBytes, r.LogicalBytes)
	}

	// Reading every stanza of the repository gives the same backups under
	// ids that name the stanza.
	src.PgBackRest.Stanzas = nil
	c, err = New(src, discard(), observed)
	if err != nil {
		t.Fatal(err)
	}
	all, err := c.Collect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Backups) != 2 || all.Backups[1].ID != stanza+"/"+incr.ID || all.Backups[1].Parent != stanza+"/"+full.ID {
		t.Errorf("all stanzas: %+v", all.Backups)
	}
}

// lsn turns a PostgreSQL LSN ("16/B374D848") into a number that orders.
func lsn(t *testing.T, s string) uint64 {
	t.Helper()
	hi, lo, ok := strings.Cut(s, "/")
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if !ok || err1 != nil || err2 != nil {
		t.Fatalf("%q is not an LSN", s)
	}
	return h<<32 | l
}
