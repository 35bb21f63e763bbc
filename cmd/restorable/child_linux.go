package main

import (
	"os/exec"
	"runtime"
	"syscall"
)

// childAttr asks the kernel to send the command SIGTERM when the wrapper
// dies (even by SIGKILL): its lock is gone with the wrapper's session.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}

// startChild starts cmd from a locked OS thread: Pdeathsig follows the
// thread that forked, and a locked thread is not retired while it runs.
func startChild(cmd *exec.Cmd) error {
	runtime.LockOSThread()
	return cmd.Start()
}
