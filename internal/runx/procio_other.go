//go:build !linux

package runx

import "syscall"

func waitReadBytes(int) int64 { return 0 }

// killTree kills the process group of pid; descendants that left the group
// are not found on this platform, and Run's WaitDelay still bounds the wait
// for the pipes they hold.
func killTree(pid int) { _ = syscall.Kill(-pid, syscall.SIGKILL) }
