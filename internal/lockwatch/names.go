// Package lockwatch holds the conventions of the backup/migration lock that
// `restorable lock` takes on a coordination database, and the exporter's
// watcher that reads who holds those locks.
//
// A lock is a PostgreSQL session-level advisory lock on a 64-bit key
// derived from a key name (Key). Its holder is the session whose
// application_name is ApplicationName(purpose, name); the wrapper sets that
// name only once the lock is granted and sends no query afterwards, so the
// session's query_start is when it got the lock.
package lockwatch

import (
	"crypto/sha256"
	"encoding/binary"
	"strings"
)

// Purposes a lock is taken for.
const (
	PurposeBackup    = "backup"
	PurposeMigration = "migration"
)

// Purposes lists the accepted purposes, in the order metrics show them.
var Purposes = []string{PurposeBackup, PurposeMigration}

// HolderPrefix starts the application_name of every session holding a
// lock; WaiterPrefix that of a session still waiting for one.
const (
	HolderPrefix = "restorable-lock:"
	WaiterPrefix = "restorable-lock-wait:"
)

// maxApplicationName is the longest application_name PostgreSQL keeps
// (NAMEDATALEN - 1 bytes); longer names are truncated by the server.
const maxApplicationName = 63

// Key is the advisory lock key of a key name: the first 8 bytes of the
// SHA-256 digest of the name's UTF-8 bytes, read as a big-endian signed
// 64-bit integer. Other tools compute it the same way, for example in SQL:
//
//	SELECT ('x' || left(encode(sha256(convert_to('payments-db', 'UTF8')), 'hex'), 16))::bit(64)::bigint;
func Key(name string) int64 {
	sum := sha256.Sum256([]byte(name))
	return int64(binary.BigEndian.Uint64(sum[:8]))
}

// ApplicationName is the application_name of a session holding the lock on
// name for purpose: "restorable-lock:<purpose>:<name>", cut to the 63
// bytes PostgreSQL keeps. The key name is there for people reading
// pg_stat_activity; the watcher identifies the key by its number.
func ApplicationName(purpose, name string) string {
	return truncate(HolderPrefix + purpose + ":" + name)
}

// WaitingName is the application_name of a session waiting for the lock.
func WaitingName(purpose, name string) string {
	return truncate(WaiterPrefix + purpose + ":" + name)
}

func truncate(s string) string {
	if len(s) <= maxApplicationName {
		return s
	}
	s = s[:maxApplicationName]
	// Never cut a UTF-8 sequence in half.
	for len(s) > 0 && s[len(s)-1]&0xC0 == 0x80 {
		s = s[:len(s)-1]
	}
	if len(s) > 0 && s[len(s)-1] >= 0xC0 {
		s = s[:len(s)-1]
	}
	return s
}

// PurposeOf returns the purpose named in a holder's application_name, or
// "" when the name is not a holder's.
func PurposeOf(applicationName string) string {
	rest, ok := strings.CutPrefix(applicationName, HolderPrefix)
	if !ok {
		return ""
	}
	p, _, _ := strings.Cut(rest, ":")
	for _, q := range Purposes {
		if p == q {
			return p
		}
	}
	return ""
}
