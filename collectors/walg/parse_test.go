package walg

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// System identifiers and LSNs pass 2^53, where a float64 loses digits:
// they are read exactly.
func TestU64Exact(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
	}{
		{"7345678901234567891", 7345678901234567891},
		{"9007199254740993", 1<<53 + 1}, // the first integer a float64 cannot hold
		{"18446744073709551615", 1<<64 - 1},
		{"0", 0},
	} {
		var v struct {
			X u64 `json:"x"`
		}
		if err := json.Unmarshal([]byte(`{"x":`+tc.in+`}`), &v); err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if !v.X.Valid || v.X.V != tc.want {
			t.Errorf("%s read as %d (valid %v)", tc.in, v.X.V, v.X.Valid)
		}
	}
	for _, bad := range []string{`-1`, `1.5`, `"12"`, `18446744073709551616`} {
		var v struct {
			X u64 `json:"x"`
		}
		if err := json.Unmarshal([]byte(`{"x":`+bad+`}`), &v); err == nil {
			t.Errorf("%s accepted as %d", bad, v.X.V)
		}
	}
	var v struct {
		X u64 `json:"x"`
	}
	if err := json.Unmarshal([]byte(`{"x":null}`), &v); err != nil || v.X.Valid {
		t.Errorf("null: %v, valid %v", err, v.X.Valid)
	}
}

func TestFormatLSN(t *testing.T) {
	for in, want := range map[uint64]string{
		0:                   "0/0",
		0x16B374D848:        "16/B374D848",
		5368709160:          "1/40000028",
		0xFFFFFFFFFFFFFFFF:  "FFFFFFFF/FFFFFFFF",
		1<<53 + 1:           "200000/1",
		0x0000000100000000:  "1/0",
		0x00000000FFFFFFFF:  "0/FFFFFFFF",
		0xABCDEF0123456789:  "ABCDEF01/23456789",
		0x0000001000000010:  "10/10",
		0x00000000000000FF:  "0/FF",
		0x000000FF00000000:  "FF/0",
		0x00000001_00000001: "1/1",
	} {
		if got := FormatLSN(in); got != want {
			t.Errorf("FormatLSN(%#x) = %s, want %s", in, got, want)
		}
	}
}

// The segment of an LSN is what PostgreSQL names it (pg_walfile_name).
func TestSegmentOf(t *testing.T) {
	for _, tc := range []struct {
		tli  uint32
		lsn  uint64
		want string
	}{
		{1, 5368709160, "000000010000000100000040"},
		{1, 0x1_41000100, "000000010000000100000041"},
		{3, 0x16B374D848, "0000000300000016000000B3"},
		{1, 0x0_FF000000, "0000000100000000000000FF"},
	} {
		if got := segmentOf(tc.tli, tc.lsn, SegmentSize); got != tc.want {
			t.Errorf("segmentOf(%d, %#x) = %s, want %s", tc.tli, tc.lsn, got, tc.want)
		}
	}
}

func TestSplitName(t *testing.T) {
	for name, want := range map[string][2]string{
		"base_000000010000000100000040":                            {"000000010000000100000040", ""},
		"base_000000010000000100000046_D_000000010000000100000040": {"000000010000000100000046", "000000010000000100000040"},
		"stream_20261201T020000Z":                                  {"", ""},
	} {
		seg, from := splitName(name)
		if seg != want[0] || from != want[1] {
			t.Errorf("splitName(%s) = %q, %q", name, seg, from)
		}
	}
}

func TestParseBackupList(t *testing.T) {
	data, err := os.ReadFile("testdata/backup-list.json")
	if err != nil {
		t.Fatal(err)
	}
	list, err := parseBackupList(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 {
		t.Fatalf("%d backups, want 3", len(list))
	}
	if got := list[0].SystemIdentifier.V; got != 7345678901234567891 {
		t.Errorf("system_identifier %d, want 7345678901234567891", got)
	}
	for _, empty := range []string{"", "  \n", "null", "No backups found\n"} {
		list, err := parseBackupList([]byte(empty))
		if err != nil || len(list) != 0 {
			t.Errorf("%q: %v, %d backups", empty, err, len(list))
		}
	}
	for in, want := range map[string]string{
		`{"backup_name": "x"}`:                               "cannot unmarshal object",
		`[{"time": "2026-01-01T00:00:00Z"}]`:                 "entry 0 has no backup_name",
		`[{"backup_name": "base_000000010000000100000040"}]`: "has no finish time",
		`[{"backup_name": "b", "start_lsn": 1.5}]`:           "not an unsigned 64-bit integer",
		`[{"backup_name": "b", "time": "yesterday"}]`:        "cannot parse",
	} {
		_, err := parseBackupList([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one containing %q", in, err, want)
		}
	}
}

func TestParseWALVerify(t *testing.T) {
	for _, f := range []string{"testdata/wal-verify-ok.json", "testdata/wal-verify-lost.json"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := parseWALVerify(data); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	for in, want := range map[string]string{
		`{}`: "neither an integrity nor a timeline check",
		`[wal-verify] integrity check status: OK`:                                           "invalid character",
		`{"integrity":{"status":"OK","details":[{"start_segment":"1","end_segment":"2"}]}}`: "are not WAL segment names",
	} {
		_, err := parseWALVerify([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one containing %q", in, err, want)
		}
	}
}

// The replayable range is the newest stretch without a lost segment;
// segments merely late end it without breaking it.
func TestReplayable(t *testing.T) {
	seg := func(s string) string { return "0000000100000001000000" + s }
	for _, tc := range []struct {
		name        string
		in          []segmentRange
		first, last string
	}{
		{"all found", []segmentRange{{StartSegment: seg("40"), EndSegment: seg("70"), Status: segFound}}, seg("40"), seg("70")},
		{"lost in the middle", []segmentRange{
			{StartSegment: seg("40"), EndSegment: seg("50"), Status: segFound},
			{StartSegment: seg("51"), EndSegment: seg("52"), Status: segMissingLost},
			{StartSegment: seg("53"), EndSegment: seg("70"), Status: segFound},
		}, seg("53"), seg("70")},
		{"delayed at the end", []segmentRange{
			{StartSegment: seg("40"), EndSegment: seg("70"), Status: segFound},
			{StartSegment: seg("71"), EndSegment: seg("72"), Status: segMissingDelayed},
		}, seg("40"), seg("70")},
		{"lost at the end", []segmentRange{
			{StartSegment: seg("40"), EndSegment: seg("70"), Status: segFound},
			{StartSegment: seg("71"), EndSegment: seg("72"), Status: segMissingLost},
		}, "", ""},
		{"two timelines", []segmentRange{
			{TimelineID: 1, StartSegment: seg("40"), EndSegment: seg("70"), Status: segFound},
			{TimelineID: 2, StartSegment: "000000020000000100000071", EndSegment: "000000020000000100000080", Status: segFound},
		}, seg("40"), "000000020000000100000080"},
	} {
		first, last := replayable(tc.in)
		if first != tc.first || last != tc.last {
			t.Errorf("%s: %s..%s, want %s..%s", tc.name, first, last, tc.first, tc.last)
		}
	}
}

func TestPgMajor(t *testing.T) {
	for in, want := range map[int]string{150004: "15", 90624: "9.6", 100000: "10", 0: ""} {
		if got := pgMajor(in); got != want {
			t.Errorf("pgMajor(%d) = %q, want %q", in, got, want)
		}
	}
}
