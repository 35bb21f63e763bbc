package model

import "time"

// LockHolder is a session holding the backup/migration lock of a key on
// the coordination database (see `restorable lock`, docs/lock.md).
type LockHolder struct {
	// Key is the lock's key name, as the wrapper's --key gave it.
	Key string
	// Purpose is what the holder does: "backup" or "migration".
	Purpose string
	// PID is the holder's backend process id on the coordination server.
	PID int
	// Since is when the lock was granted (the holder session's last
	// query_start); zero when the server does not show it to the reader.
	Since time.Time
}
