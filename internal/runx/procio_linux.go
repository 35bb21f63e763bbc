package runx

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// waitReadBytes waits for pid to exit without reaping it, so that its
// /proc/PID/io can still be read, and returns the bytes it read.
func waitReadBytes(pid int) int64 {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			if err != nil {
				return 0
			}
			break
		}
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0
	}
	defer f.Close() //nolint:errcheck // read-only procfs file
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "rchar: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// killTree kills the process group of pid and every descendant of pid,
// including those that left the group through setsid(1) and would
// otherwise outlive the run while holding its pipes. Descendants are found
// before anything is killed: once a parent dies its children are adopted
// by init and can no longer be told apart from other processes.
func killTree(pid int) {
	desc := descendants(pid)
	_ = unix.Kill(-pid, unix.SIGKILL)
	for _, d := range desc {
		_ = unix.Kill(d, unix.SIGKILL)
	}
}

// descendants returns the processes below pid, children first, from
// /proc/PID/task/TID/children. Missing entries (a process that just
// exited) are skipped.
func descendants(pid int) []int {
	var out []int
	queue := []int{pid}
	seen := map[int]bool{pid: true}
	for len(queue) > 0 && len(out) < 4096 {
		p := queue[0]
		queue = queue[1:]
		tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", p))
		if err != nil {
			continue
		}
		for _, t := range tasks {
			data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", p, t.Name()))
			if err != nil {
				continue
			}
			for _, f := range strings.Fields(string(data)) {
				c, err := strconv.Atoi(f)
				if err != nil || seen[c] {
					continue
				}
				seen[c] = true
				out = append(out, c)
				queue = append(queue, c)
			}
		}
	}
	return out
}
