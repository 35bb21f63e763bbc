//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package history

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockRoot takes an exclusive advisory lock on path, so that two exporters
// configured with the same history root cannot both write to it: their
// duplicate filters would not see each other's rows, and each would take
// the other's unfinished files for leftovers. The kernel drops the lock when
// the process dies, so a killed writer never blocks the next one.
func lockRoot(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock file %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("lock %s: another writer holds it", path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}
