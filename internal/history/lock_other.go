//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package history

import (
	"fmt"
	"os"
)

// lockRoot opens the lock file without locking it: this platform has no
// flock, so keeping one writer per root is up to the deployment.
func lockRoot(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock file %s: %w", path, err)
	}
	return f, nil
}
