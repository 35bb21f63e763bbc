package restic

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
)

// The 0.14 fixtures were written by the restic 0.14 binary of this
// machine. restic 0.17 and 0.18 are not packaged here, so their fixtures
// follow restic's own Snapshot and SnapshotSummary types
// (internal/data/snapshot.go) and the stats container of
// cmd/restic/cmd_stats.go field by field.

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestParseSnapshots(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		data    string // used when file is empty
		wantN   int
		wantErr string
		check   func(t *testing.T, s []snapshot)
	}{
		{
			name:  "restic 0.14 without summary",
			file:  "snapshots-0.14.json",
			wantN: 4,
			check: func(t *testing.T, s []snapshot) {
				first := s[0]
				if first.ID != "247bb005c947baafdebb55b8b2054b5fd524b1eebeac62629be9e1c6f351b589" {
					t.Errorf("id = %s", first.ID)
				}
				if !first.Time.Equal(time.Date(2025, 3, 1, 2, 0, 0, 0, time.UTC)) {
					t.Errorf("time = %s", first.Time)
				}
				if first.Hostname != "db1" || !reflect.DeepEqual(first.Paths, []string{"/tmp/fx/etc", "/tmp/fx/srv/payments"}) {
					t.Errorf("host %q paths %v", first.Hostname, first.Paths)
				}
				if !reflect.DeepEqual(first.Tags, []string{"env=prod", "release=v1.1", "app=payments"}) {
					t.Errorf("tags = %v", first.Tags)
				}
				for _, sn := range s {
					if sn.Summary != nil || sn.ProgramVersion != "" {
						t.Errorf("snapshot %s: 0.14 output has no summary or program version", sn.ID)
					}
				}
				if s[1].Parent != first.ID {
					t.Errorf("parent = %q", s[1].Parent)
				}
				if s[3].Tags != nil {
					t.Errorf("untagged snapshot has tags %v", s[3].Tags)
				}
			},
		},
		{
			name:  "restic 0.17 with summary, mixed with an older snapshot",
			file:  "snapshots-0.17.json",
			wantN: 3,
			check: func(t *testing.T, s []snapshot) {
				if s[0].Summary != nil {
					t.Error("the snapshot of an older restic has no summary")
				}
				sum := s[1].Summary
				if sum == nil {
					t.Fatal("summary missing")
				}
				if s[1].ProgramVersion != "restic 0.17.3" {
					t.Errorf("program_version = %q", s[1].ProgramVersion)
				}
				wantStart := time.Date(2025, 6, 2, 0, 0, 1, 118811992, time.UTC)
				if !sum.BackupStart.Equal(wantStart) || !sum.BackupEnd.Equal(time.Date(2025, 6, 2, 0, 3, 17, 904512337, time.UTC)) {
					t.Errorf("backup start/end = %s / %s", sum.BackupStart, sum.BackupEnd)
				}
				if sum.TotalBytesProcessed != 10737418240 || sum.DataAddedPacked != 18874368 || sum.TotalFilesProcessed != 4225 || sum.FilesNew != 12 || sum.DataAdded != 52428800 {
					t.Errorf("summary = %+v", *sum)
				}
				if s[2].Original == "" {
					t.Error("original of a copied snapshot is lost")
				}
			},
		},
		{name: "empty list", file: "snapshots-empty.json", wantN: 0},
		{
			name:  "unexpected extra fields are tolerated",
			file:  "snapshots-extra-fields.json",
			wantN: 4,
			check: func(t *testing.T, s []snapshot) {
				if s[0].Summary == nil || s[0].Summary.TotalBytesProcessed != 500004 {
					t.Errorf("summary next to unknown fields = %+v", s[0].Summary)
				}
			},
		},
		{name: "truncated JSON", file: "snapshots-truncated.json", wantErr: "not JSON"},
		{name: "garbage", file: "snapshots-garbage.txt", wantErr: "not JSON"},
		{name: "no output", data: "", wantErr: "empty output"},
		{name: "an object instead of a list", data: `{"id":"x"}`, wantErr: "not a list of snapshots"},
		{name: "id missing", data: `[{"time":"2025-03-01T02:00:00Z","paths":["/"]}]`, wantErr: "snapshot 0: id"},
		{name: "short id only", data: `[{"time":"2025-03-01T02:00:00Z","id":"247bb005"}]`, wantErr: "not a 64-digit hex"},
		{name: "time missing", data: `[{"id":"247bb005c947baafdebb55b8b2054b5fd524b1eebeac62629be9e1c6f351b589"}]`, wantErr: "no time"},
		{name: "time malformed", data: `[{"id":"247bb005c947baafdebb55b8b2054b5fd524b1eebeac62629be9e1c6f351b589","time":"yesterday"}]`, wantErr: "not a list of snapshots"},
		{
			name:    "listed twice",
			data:    `[{"id":"247bb005c947baafdebb55b8b2054b5fd524b1eebeac62629be9e1c6f351b589","time":"2025-03-01T02:00:00Z"},{"id":"247bb005c947baafdebb55b8b2054b5fd524b1eebeac62629be9e1c6f351b589","time":"2025-03-01T02:00:00Z"}]`,
			wantErr: "listed twice",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(tt.data)
			if tt.file != "" {
				data = fixture(t, tt.file)
			}
			got, err := parseSnapshots(data)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.wantN {
				t.Fatalf("%d snapshots, want %d", len(got), tt.wantN)
			}
			if tt.check != nil {
				tt.check(t, got)
			}
		})
	}
}

func TestParseStats(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		data    string
		want    stats
		wantErr string
	}{
		{
			name: "restic 0.14 raw-data of a format v1 repository",
			file: "stats-raw-data-0.14.json",
			want: stats{TotalSize: 1102878, TotalBlobCount: 14, SnapshotsCount: 4},
		},
		{
			name: "restic 0.14 restore-size",
			file: "stats-restore-size-0.14.json",
			want: stats{TotalSize: 1100032, TotalFileCount: 16, SnapshotsCount: 4},
		},
		{
			name: "restic 0.17 raw-data of a compressed repository",
			file: "stats-raw-data-0.17.json",
			want: stats{
				TotalSize: 1893712384, TotalUncompressedSize: 4831838208, CompressionRatio: 2.6873,
				CompressionProgress: 100, CompressionSpaceSaving: 60.807, TotalBlobCount: 183422, SnapshotsCount: 3,
			},
		},
		{
			name: "a progress line after the document is ignored",
			data: "{\"total_size\":10,\"snapshots_count\":1}\n[0:00] 100.00%  1 / 1 snapshots\n",
			want: stats{TotalSize: 10, SnapshotsCount: 1},
		},
		{
			name: "unknown fields are tolerated",
			data: `{"total_size":10,"snapshots_count":1,"total_pack_count":3,"by_type":{"data":9}}`,
			want: stats{TotalSize: 10, SnapshotsCount: 1},
		},
		{name: "truncated", data: `{"total_size":1102878,"total_fi`, wantErr: "not JSON"},
		{name: "garbage", data: "Fatal: something odd\n", wantErr: "not JSON"},
		{name: "unrelated object", data: `{"message_type":"status"}`, wantErr: "total_size or snapshots_count is missing"},
		{name: "a list", data: `[]`, wantErr: "not a stats object"},
		{name: "negative size", data: `{"total_size":-1,"snapshots_count":1}`, wantErr: "not a stats object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(tt.data)
			if tt.file != "" {
				data = fixture(t, tt.file)
			}
			got, err := parseStats(data)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestToBackup(t *testing.T) {
	snaps, err := parseSnapshots(fixture(t, "snapshots-0.17.json"))
	if err != nil {
		t.Fatal(err)
	}
	src := &config.Source{
		Name:           "files",
		Classification: "pii",
		DatasetFrom:    "tag:app",
		Labels:         map[string]string{"team": "core", "app": "overridden-by-the-snapshot"},
		Restic: &config.ResticOptions{
			Repository: "s3:https://s3.eu-west-1.amazonaws.com/acme/prod", StorageClass: "STANDARD_IA",
			Region: "eu-west-1", Immutable: true, KeyID: "arn:aws:kms:eu-west-1:111122223333:key/k1",
		},
	}
	loc := location(src.Restic.Repository)

	withSummary := toBackup(src, loc, snaps[1])
	want := model.Backup{
		Source:         "files",
		Env:            "prod",
		Dataset:        "payments",
		ID:             "7f3c9a2e5b8d1f4a6c0e2b9d7a5f3c1e8b6d4a2f0c9e7b5d3a1f8c6e4b2d0a9f",
		Type:           model.BackupSnapshot,
		Release:        "v1.2",
		Start:          time.Date(2025, 6, 2, 0, 0, 1, 118811992, time.UTC),
		End:            time.Date(2025, 6, 2, 0, 3, 17, 904512337, time.UTC),
		Status:         model.StatusSucceeded,
		LogicalBytes:   10737418240,
		StoredBytes:    18874368,
		Location:       "s3:https://s3.eu-west-1.amazonaws.com/acme/prod",
		StorageClass:   "STANDARD_IA",
		Region:         "eu-west-1",
		Encrypted:      true,
		KeyID:          "arn:aws:kms:eu-west-1:111122223333:key/k1",
		Immutable:      true,
		Classification: "pii",
		Tags:           map[string]string{"team": "core", "app": "payments", "env": "prod", "release": "v1.2"},
		Detail:         &model.BackupDetail{FileCount: 4225, Agent: "restic", AgentVersion: "0.17.3", Paths: []string{"/srv/payments"}},
	}
	if !reflect.DeepEqual(withSummary, want) {
		t.Errorf("backup with summary:\n got %+v\nwant %+v", withSummary, want)
	}

	// Without a summary the snapshot time is all there is, and nothing
	// is claimed about sizes.
	old := toBackup(src, loc, snaps[0])
	if !old.Start.Equal(snaps[0].Time) || !old.End.Equal(snaps[0].Time) || old.Start.Location() != time.UTC {
		t.Errorf("start/end = %s / %s, want the snapshot time in UTC", old.Start, old.End)
	}
	if old.LogicalBytes != 0 || old.StoredBytes != 0 || old.Details().FileCount != 0 || old.Details().AgentVersion != "" {
		t.Errorf("sizes or version invented for a snapshot without summary: %+v", old)
	}

	// A snapshot without env tag gets no env from this collector (the
	// scheduler marks it unknown); one without the dataset tag falls back
	// to its host; a tag without "=" is kept.
	web := toBackup(src, loc, snaps[2])
	if web.Env != "" || web.Dataset != "www" || web.Release != "" {
		t.Errorf("env %q dataset %q release %q", web.Env, web.Dataset, web.Release)
	}
	if v, ok := web.Tags["nightly"]; !ok || v != "" {
		t.Errorf("tags = %v, want the bare tag nightly kept", web.Tags)
	}
	if web.Details().AgentVersion != "0.18.0" {
		t.Errorf("agent version = %q", web.Details().AgentVersion)
	}
}

func TestDataset(t *testing.T) {
	snaps, err := parseSnapshots(fixture(t, "snapshots-0.14.json"))
	if err != nil {
		t.Fatal(err)
	}
	untagged := snaps[3] // host web1, no tags
	tests := []struct {
		name        string
		fixed, from string
		s           snapshot
		want        string
	}{
		{name: "default is the host", s: snaps[0], want: "db1"},
		{name: "host", from: "host", s: snaps[0], want: "db1"},
		{name: "first path", from: "path", s: snaps[0], want: "/tmp/fx/etc"},
		{name: "tag value", from: "tag:app", s: snaps[0], want: "payments"},
		{name: "missing tag falls back to the host", from: "tag:app", s: untagged, want: "web1"},
		{name: "fixed dataset wins", fixed: "ledger", s: snaps[0], want: "ledger"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &config.Source{Name: "s", Dataset: tt.fixed, DatasetFrom: tt.from}
			if got := toBackup(src, "/repo", tt.s).Dataset; got != tt.want {
				t.Errorf("dataset = %q, want %q", got, tt.want)
			}
		})
	}
	// A fixed env wins over the snapshot's env tag.
	if got := toBackup(&config.Source{Name: "s", Env: "staging"}, "/repo", snaps[0]).Env; got != "staging" {
		t.Errorf("env = %q, want the source's", got)
	}
}

func TestLocationStripsCredentials(t *testing.T) {
	tests := []struct{ repo, want string }{
		{"/srv/restic-repo", "/srv/restic-repo"},
		{"sftp:backup@host:/srv/repo", "sftp:backup@host:/srv/repo"},
		{"s3:https://s3.eu-west-1.amazonaws.com/acme/prod", "s3:https://s3.eu-west-1.amazonaws.com/acme/prod"},
		{"rest:https://user:s3cr3t-pw@backup.example.com:8000/repo", "rest:https://user@backup.example.com:8000/repo"},
		{"rest:http://:s3cr3t-pw@10.0.0.1:8000", "rest:http://@10.0.0.1:8000"},
		{"rest:https://user:p@ss:w@rd@host/", "rest:https://user@host/"},
		{"s3:https://minio.local/bucket?token=abc", "s3:https://minio.local/bucket"},
	}
	for _, tt := range tests {
		if got := location(tt.repo); got != tt.want {
			t.Errorf("location(%q) = %q, want %q", tt.repo, got, tt.want)
		}
	}
}

// The repository label is a short name, never a path or a URL (issue #9,
// item 2): docs/metrics.md keeps paths out of label values.
func TestShortName(t *testing.T) {
	for _, tt := range []struct{ loc, want string }{
		{"/srv/restic/app", "app"},
		{"/srv/restic/app/", "app"},
		{"sftp:backup@host:/srv/repo", "repo"},
		{"s3:https://s3.eu-west-1.amazonaws.com/acme/prod", "prod"},
		{"s3:s3.amazonaws.com/bucket", "bucket"},
		{"rest:https://user@backup.example.com:8000/repo", "repo"},
		{"rest:http://@10.0.0.1:8000", "10.0.0.1"},
		{"rest:https://user@host/", "host"},
		{"b2:bucket:path/to/repo", "repo"},
		{"azure:container:/", "container"},
		{"/", "restic"},
	} {
		if got := shortName(tt.loc); got != tt.want {
			t.Errorf("shortName(%q) = %q, want %q", tt.loc, got, tt.want)
		}
	}
}

func TestSnapshotSetKey(t *testing.T) {
	snaps, err := parseSnapshots(fixture(t, "snapshots-0.14.json"))
	if err != nil {
		t.Fatal(err)
	}
	reversed := []snapshot{snaps[3], snaps[2], snaps[1], snaps[0]}
	if snapshotSetKey(snaps) != snapshotSetKey(reversed) {
		t.Error("the key depends on the order restic lists snapshots in")
	}
	if snapshotSetKey(snaps) == snapshotSetKey(snaps[:3]) {
		t.Error("forgetting a snapshot does not change the key")
	}
}
