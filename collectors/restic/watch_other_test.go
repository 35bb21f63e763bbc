//go:build !linux

package restic

import "testing"

// repoWatcher needs inotify; elsewhere it sees nothing and the tests that
// use it check watchSupported before drawing conclusions.
type repoWatcher struct{}

type repoReads struct {
	Packs       map[string]int64
	Opens       map[string]int
	LockCreates int
}

func (r repoReads) packBytes() int64 { return 0 }

func watchRepo(testing.TB, string) *repoWatcher { return &repoWatcher{} }

func (w *repoWatcher) read(testing.TB) repoReads { return repoReads{} }

const watchSupported = false
