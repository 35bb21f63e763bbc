package model

import (
	"testing"
	"time"
)

// Two good backups that ended in the same second rank the same way in
// every order a catalog lists them: end, then start, then source, dataset
// and id.
func TestCompareRecencyIsATotalOrder(t *testing.T) {
	end := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	mk := func(id string, start time.Time) Backup {
		return Backup{Source: "s", Env: "prod", Dataset: "d", ID: id, Type: BackupFull, Status: StatusSucceeded, Start: start, End: end}
	}
	early, late := end.Add(-time.Hour), end.Add(-time.Minute)
	for _, order := range [][]Backup{
		{mk("a", early), mk("b", early), mk("c", late)},
		{mk("c", late), mk("b", early), mk("a", early)},
		{mk("b", early), mk("c", late), mk("a", early)},
	} {
		s := Summarize(order)[0]
		if s.LastGood.ID != "c" || s.OldestGood.ID != "a" || s.LastFinished.ID != "c" || s.LastAttempt.ID != "c" {
			t.Errorf("order %s%s%s: last good %s, oldest %s, last finished %s, last attempt %s; want c, a, c, c",
				order[0].ID, order[1].ID, order[2].ID, s.LastGood.ID, s.OldestGood.ID, s.LastFinished.ID, s.LastAttempt.ID)
		}
	}
	a, b := mk("a", early), mk("b", early)
	if CompareRecency(&a, &b) >= 0 || CompareRecency(&b, &a) <= 0 || CompareRecency(&a, &a) != 0 || !Newer(&b, &a) || !Newer(&a, nil) {
		t.Error("CompareRecency does not break the tie on id")
	}
}
