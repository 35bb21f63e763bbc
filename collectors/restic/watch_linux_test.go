package restic

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// repoWatcher counts what restic opens inside a local repository, through
// inotify watches on each of its directories. inotify reports opens, not
// byte counts, so the bytes of a pack that was opened are its size: an
// upper bound of what was read from it. That is precise enough for the
// question that matters, whether pack data is read at all.
type repoWatcher struct {
	repo string
	fd   int
	dirs map[int32]string // watch descriptor to directory, relative to repo
}

// repoReads is what restic did in a repository between two reads of the
// watcher.
type repoReads struct {
	// Packs are the pack files under data/ that were opened, with their
	// sizes.
	Packs map[string]int64
	// Opens counts the other files opened, by top-level entry (config,
	// keys, snapshots, index).
	Opens map[string]int
	// LockCreates counts files created under locks/.
	LockCreates int
}

func (r repoReads) packBytes() int64 {
	var n int64
	for _, size := range r.Packs {
		n += size
	}
	return n
}

// watchRepo starts watching repo. Events caused by setting up the watches
// are discarded.
func watchRepo(tb testing.TB, repo string) *repoWatcher {
	tb.Helper()
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		tb.Fatalf("inotify: %v", err)
	}
	tb.Cleanup(func() { _ = unix.Close(fd) })
	w := &repoWatcher{repo: repo, fd: fd, dirs: map[int32]string{}}
	err = filepath.WalkDir(repo, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		wd, err := unix.InotifyAddWatch(fd, path, unix.IN_OPEN|unix.IN_CREATE)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repo, path)
		w.dirs[int32(wd)] = rel
		return nil
	})
	if err != nil {
		tb.Fatalf("watch %s: %v", repo, err)
	}
	w.read(tb)
	return w
}

// read returns what happened since the last read.
func (w *repoWatcher) read(tb testing.TB) repoReads {
	tb.Helper()
	r := repoReads{Packs: map[string]int64{}, Opens: map[string]int{}}
	buf := make([]byte, 64<<10)
	for {
		n, err := unix.Read(w.fd, buf)
		if errors.Is(err, unix.EAGAIN) {
			return r
		}
		if err != nil {
			tb.Fatalf("read inotify events: %v", err)
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			name := strings.TrimRight(string(buf[off+unix.SizeofInotifyEvent:off+unix.SizeofInotifyEvent+int(ev.Len)]), "\x00")
			off += unix.SizeofInotifyEvent + int(ev.Len)
			if ev.Mask&unix.IN_Q_OVERFLOW != 0 {
				tb.Fatal("inotify queue overflowed: the counts would be wrong")
			}
			dir, ok := w.dirs[ev.Wd]
			if !ok || name == "" || ev.Mask&unix.IN_ISDIR != 0 {
				// Listing a directory opens it; that reads names,
				// not data.
				continue
			}
			rel := filepath.Join(dir, name)
			switch {
			case ev.Mask&unix.IN_CREATE != 0:
				if dir == "locks" {
					r.LockCreates++
				}
			case strings.HasPrefix(rel, "data"+string(filepath.Separator)):
				fi, err := os.Stat(filepath.Join(w.repo, rel))
				if err == nil {
					r.Packs[name] = fi.Size()
				}
			default:
				top, _, _ := strings.Cut(rel, string(filepath.Separator))
				r.Opens[top]++
			}
		}
	}
}

// watchSupported reports whether this platform can watch repositories.
const watchSupported = true
