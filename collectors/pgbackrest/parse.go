package pgbackrest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// stanza is one element of `pgbackrest info --output=json`. Only the fields
// Restorable reads are declared; everything else (db system ids,
// database-ref, link, tablespace, size-map, ...) is ignored, so that newer
// pgBackRest releases that add fields keep working.
type stanza struct {
	Name    string       `json:"name"`
	Cipher  string       `json:"cipher"`
	Status  stanzaStatus `json:"status"`
	DB      []dbRef      `json:"db"`
	Archive []archive    `json:"archive"`
	Backup  []backup     `json:"backup"`
	// Repo is absent before pgBackRest 2.33 (one repository only).
	Repo []repo `json:"repo"`
}

// status is a pgBackRest status: code 0 is "ok", 1 "missing stanza path",
// 2 "no valid backups", 3 "missing stanza data", 4 "different across
// repos", 5 "database mismatch across repos", 99 "other".
type status struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

type stanzaStatus struct {
	status
	Lock struct {
		Backup backupLock `json:"backup"`
		// Restore is reported from pgBackRest 2.48 on.
		Restore *lock `json:"restore"`
	} `json:"lock"`
}

type lock struct {
	Held bool `json:"held"`
}

// backupLock is the backup lock of a stanza. The sizes of the running
// backup are reported from pgBackRest 2.48 on; 2.45 shows only a
// percentage, in its text output.
type backupLock struct {
	Held     bool   `json:"held"`
	Size     *int64 `json:"size"`
	SizeDone *int64 `json:"size-cplt"`
}

// dbRef names a database (cluster) history entry of a repository. RepoKey
// is 0 in output of pgBackRest before 2.33, which means repository 1.
type dbRef struct {
	ID      int `json:"id"`
	RepoKey int `json:"repo-key"`
	// Version is the PostgreSQL major version, in the db list only.
	Version string `json:"version"`
}

// repoKey returns the repository the entry belongs to.
func (d dbRef) repoKey() int { return max(d.RepoKey, 1) }

type archive struct {
	Database dbRef  `json:"database"`
	ID       string `json:"id"`
	Min      string `json:"min"`
	Max      string `json:"max"`
}

type repo struct {
	Key    int    `json:"key"`
	Cipher string `json:"cipher"`
	Status status `json:"status"`
}

type backup struct {
	Label string `json:"label"`
	Type  string `json:"type"`
	// Prior is the backup this one was taken against: the full for a diff,
	// the previous backup for an incr.
	Prior string `json:"prior"`
	// Error is true when pgBackRest found problems while copying, such as
	// page checksum failures (2.36 and later).
	Error      bool              `json:"error"`
	Annotation map[string]string `json:"annotation"`
	Archive    struct {
		Start string `json:"start"`
		Stop  string `json:"stop"`
	} `json:"archive"`
	Backrest struct {
		Version string `json:"version"`
	} `json:"backrest"`
	Database dbRef `json:"database"`
	// DatabaseRef lists the databases of the backup; pgBackRest prints it
	// only for `info --set=LABEL`.
	DatabaseRef []struct {
		Name string `json:"name"`
	} `json:"database-ref"`
	Info struct {
		// Size is the size of the database at backup time, Delta what
		// this backup copied of it.
		Size       int64 `json:"size"`
		Delta      int64 `json:"delta"`
		Repository struct {
			// Size is what a restore of this backup reads from the
			// repository (it and everything it references); it is
			// left out for bundled, block-incremental repositories.
			Size *int64 `json:"size"`
			// Delta is what this backup added to the repository.
			Delta int64 `json:"delta"`
		} `json:"repository"`
	} `json:"info"`
	LSN struct {
		Start string `json:"start"`
		Stop  string `json:"stop"`
	} `json:"lsn"`
	Timestamp struct {
		Start int64 `json:"start"`
		Stop  int64 `json:"stop"`
	} `json:"timestamp"`
}

// parseInfo decodes the output of `pgbackrest info --output=json` and checks
// that every stanza and backup carries what the catalog needs.
func parseInfo(data []byte) ([]stanza, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, errors.New("empty output, expected a JSON array of stanzas")
	}
	if data[0] != '[' {
		return nil, fmt.Errorf("expected a JSON array of stanzas, output starts with %q", prefix(data, 40))
	}
	var stanzas []stanza
	if err := json.Unmarshal(data, &stanzas); err != nil {
		return nil, jsonError(data, err)
	}
	for i := range stanzas {
		st := &stanzas[i]
		if st.Name == "" {
			return nil, fmt.Errorf("stanza %d: name is missing", i)
		}
		for j := range st.Backup {
			if err := checkBackup(&st.Backup[j]); err != nil {
				return nil, fmt.Errorf("stanza %s: backup %d: %w", st.Name, j, err)
			}
		}
	}
	return stanzas, nil
}

func checkBackup(b *backup) error {
	switch {
	case b.Label == "":
		return errors.New("label is missing")
	case b.Type != "full" && b.Type != "diff" && b.Type != "incr":
		return fmt.Errorf("%s: type %q is not one of full, diff, incr", b.Label, b.Type)
	case b.Timestamp.Start <= 0:
		return fmt.Errorf("%s: timestamp.start is missing", b.Label)
	case b.Timestamp.Stop != 0 && b.Timestamp.Stop < b.Timestamp.Start:
		return fmt.Errorf("%s: timestamp.stop %d is before timestamp.start %d", b.Label, b.Timestamp.Stop, b.Timestamp.Start)
	case b.Info.Size < 0 || b.Info.Delta < 0 || b.Info.Repository.Delta < 0:
		return fmt.Errorf("%s: negative size", b.Label)
	}
	return nil
}

// jsonError says where decoding stopped, which encoding/json reports as a
// byte offset only.
func jsonError(data []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		if int(se.Offset) >= len(data) {
			return fmt.Errorf("truncated JSON after %d bytes: %w", len(data), err)
		}
		line := 1 + bytes.Count(data[:min(int(se.Offset), len(data))], []byte("\n"))
		return fmt.Errorf("line %d: %w", line, err)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("field %s: %s where %s was expected", te.Field, te.Value, te.Type)
	}
	return err
}

func prefix(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// parseTextProgress returns the completed fraction of the running backup
// that the text output of `pgbackrest info --stanza=S` shows
// ("status: ok (backup/expire running - 34.12% complete)"), and false when
// it shows none (no backup running, or one that has not reported yet).
func parseTextProgress(out []byte) (float64, bool) {
	const marker = "(backup/expire running - "
	_, rest, ok := bytes.Cut(out, []byte(marker))
	if !ok {
		return 0, false
	}
	num, _, ok := bytes.Cut(rest, []byte("% complete)"))
	if !ok {
		return 0, false
	}
	pct, err := strconv.ParseFloat(string(num), 64)
	if err != nil || pct < 0 || pct > 100 {
		return 0, false
	}
	return pct / 100, true
}

// parseSetDatabases returns the databases of backup label in the output of
// `pgbackrest info --stanza=S --set=LABEL --output=json`.
func parseSetDatabases(data []byte, stanza, label string) ([]string, error) {
	stanzas, err := parseInfo(data)
	if err != nil {
		return nil, err
	}
	for i := range stanzas {
		if stanzas[i].Name != stanza {
			continue
		}
		for j := range stanzas[i].Backup {
			b := &stanzas[i].Backup[j]
			if b.Label != label {
				continue
			}
			if b.DatabaseRef == nil {
				return nil, fmt.Errorf("backup %s has no database-ref", label)
			}
			out := make([]string, 0, len(b.DatabaseRef))
			for _, d := range b.DatabaseRef {
				out = append(out, d.Name)
			}
			return out, nil
		}
	}
	return nil, fmt.Errorf("no backup %s in stanza %s", label, stanza)
}
