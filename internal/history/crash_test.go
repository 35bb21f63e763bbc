package history

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/restorable/restorable/internal/model"
)

// The test binary runs itself as a writer that the test kills: these
// variables tell it so.
const (
	crashModeEnv = "RESTORABLE_HISTORY_CRASH_MODE"
	crashRootEnv = "RESTORABLE_HISTORY_CRASH_ROOT"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(crashModeEnv); mode != "" {
		os.Exit(crashChild(mode, os.Getenv(crashRootEnv)))
	}
	os.Exit(m.Run())
}

// crashChild writes history under root until it is killed. In "stall" mode
// it writes part of a file, says so on stdout and waits, so the kill lands
// mid-write for sure; in "loop" mode it appends large changing catalogs
// back to back, so the kill lands wherever it lands.
func crashChild(mode, root string) int {
	switch mode {
	case "stall":
		dir := filepath.Join(root, TableBackups, partitionOf(day0()))
		rows := make([]BackupRow, 0, 5000)
		for _, b := range bigCatalog("pg", 5000, 50).Backups {
			rows = append(rows, BackupRowOf(&b, day0()))
		}
		_, err := publish(dir, day0(), nil, func(w *parquet.GenericWriter[BackupRow]) error {
			if _, err := w.Write(rows); err != nil {
				return err
			}
			// Flushing puts a row group in the file, but no footer yet.
			if err := w.Flush(); err != nil {
				return err
			}
			fmt.Println("writing")
			time.Sleep(time.Hour)
			return nil
		})
		fmt.Fprintln(os.Stderr, "stall: publish returned:", err)
		return 1
	case "loop":
		c := newClock(day0())
		w, err := Open(root, Options{Now: c.Now})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		cat := bigCatalog("pg", 20000, 200)
		for i := 0; ; i++ {
			for j := range cat.Backups {
				cat.Backups[j].Detail.FileCount = int64(i)
			}
			c.Advance(time.Minute)
			if _, err := w.AppendCatalog("pg", cat); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			if i == 0 {
				fmt.Println("writing")
			}
		}
	}
	fmt.Fprintln(os.Stderr, "unknown crash mode", mode)
	return 2
}

func TestKilledWriterLeavesNoPartialFile(t *testing.T) {
	for _, mode := range []string{"stall", "loop"} {
		t.Run(mode, func(t *testing.T) {
			root := t.TempDir()
			c := newClock(day0())
			// A history with one good file and files that are not ours.
			w := openTest(t, root, c, 0)
			seed := bigCatalog("seed", 10, 2)
			mustAppend(t, w, "seed", seed)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			part := filepath.Join(root, TableBackups, partitionOf(day0()))
			foreign := []string{"notes.tmp", ".other.parquet.tmp", ".part-x.parquet.tmp", "README"}
			for _, name := range foreign {
				if err := os.WriteFile(filepath.Join(part, name), []byte("not ours"), 0o644); err != nil {
					t.Fatal(err)
				}
			}

			killMidWrite(t, mode, root)

			leftovers := ourTemps(t, root)
			t.Logf("the kill left %d unfinished file(s)", len(leftovers))
			if mode == "stall" {
				if len(leftovers) != 1 {
					t.Fatalf("temporary files after the kill = %v, want the one being written", leftovers)
				}
				if st, err := os.Stat(leftovers[0]); err != nil || st.Size() == 0 {
					t.Fatalf("the killed write left no data in %s (%v): the test did not kill it mid-write", leftovers[0], err)
				}
			}
			// Every file a reader can see is whole.
			for _, table := range []string{TableBackups, TableRepositories, TableProbes} {
				for partName, names := range files(t, root, table) {
					for _, name := range names {
						if !isDataName(name) {
							continue
						}
						assertWhole(t, filepath.Join(root, table, partName, name))
					}
				}
			}

			// Open removes the leftovers of its own writes and nothing else.
			w = openTest(t, root, c, 0)
			if got := ourTemps(t, root); len(got) != 0 {
				t.Errorf("temporary files after Open = %v, want none", got)
			}
			for _, name := range foreign {
				if _, err := os.Stat(filepath.Join(part, name)); err != nil {
					t.Errorf("Open touched a file that is not its own: %v", err)
				}
			}
			snap, err := w.Latest()
			if err != nil {
				t.Fatal(err)
			}
			if got := len(snap.Backups["seed"]); got != len(seed.Backups) {
				t.Errorf("latest has %d backups of the seed, want %d", got, len(seed.Backups))
			}
			if mode == "stall" && len(snap.Backups["pg"]) != 0 {
				t.Errorf("rows of the killed write are visible: %d", len(snap.Backups["pg"]))
			}
			// The restarted writer goes on where the killed one stopped.
			if got := mustAppend(t, w, "seed", seed); got != (Stats{}) {
				t.Errorf("seed after the crash: stats = %+v, want nothing appended", got)
			}
		})
	}
}

// killMidWrite runs a writer in a child process and SIGKILLs it while it
// writes.
func killMidWrite(t *testing.T, mode, root string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashModeEnv+"="+mode, crashRootEnv+"="+root)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "writing" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("child writer did not start writing (%q, %v): %s", line, err, stderr.String())
	}
	if mode == "loop" {
		// Wait until a write is in flight, so that the kill most likely
		// cuts one short; the assertions hold wherever it lands.
		for range 5000 {
			if len(ourTemps(t, root)) > 0 {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
}

// ourTemps lists the temporary files this package names, under root.
func ourTemps(t *testing.T, root string) []string {
	t.Helper()
	return slices.DeleteFunc(tempFiles(t, root), func(p string) bool { return !isTempName(filepath.Base(p)) })
}

// assertWhole fails unless path is a complete Parquet file whose rows all
// read back.
func assertWhole(t *testing.T, path string) {
	t.Helper()
	f, pf, err := openParquet(path)
	if err != nil {
		t.Errorf("visible file is not whole: %v", err)
		return
	}
	want := pf.NumRows()
	_ = f.Close()
	var got int64
	if err := readFile(path, func(rows []BackupRow) error { got += int64(len(rows)); return nil }); err != nil {
		t.Errorf("visible file is not readable: %v", err)
	}
	if got != want {
		t.Errorf("%s: read %d rows, footer says %d", path, got, want)
	}
}

func TestOpenFinishesInterruptedCompaction(t *testing.T) {
	root := t.TempDir()
	c := newClock(day0())
	w := openTest(t, root, c, 2)
	cat := bigCatalog("pg", 20, 2)
	for i := range 5 {
		cat.Backups[i].Status = model.StatusFailed
		mustAppend(t, w, "pg", cat)
		c.Advance(time.Minute)
	}
	part := filepath.Join(root, TableBackups, partitionOf(day0()))
	before := files(t, root, TableBackups)[partitionOf(day0())]
	saved := map[string][]byte{}
	for _, name := range before {
		b, err := os.ReadFile(filepath.Join(part, name))
		if err != nil {
			t.Fatal(err)
		}
		saved[name] = b
	}
	rows := sortedBackupRows(readRows[BackupRow](t, root, TableBackups))
	if err := w.Compact(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// Put the inputs back, as if the compaction had been killed after
	// publishing its output and before removing them.
	for name, b := range saved {
		if err := os.WriteFile(filepath.Join(part, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	openTest(t, root, c, 2)
	if got := files(t, root, TableBackups)[partitionOf(day0())]; len(got) != 1 {
		t.Errorf("files after Open = %v, want only the merged one", got)
	}
	if got := sortedBackupRows(readRows[BackupRow](t, root, TableBackups)); !rowsEqual(got, rows) {
		t.Errorf("rows after Open differ from before the compaction: %d rows, want %d", len(got), len(rows))
	}
}
