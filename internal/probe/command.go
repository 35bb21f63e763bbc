package probe

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/runx"
)

// commandOptions are the options of a command probe.
type commandOptions struct {
	// Command is the program and its arguments; no shell is involved.
	Command []string `yaml:"command"`
	// Dir is the working directory (default the configuration's).
	Dir string `yaml:"dir,omitempty"`
	// Env names environment variables of the exporter passed on to the
	// program, in addition to PATH, HOME, LANG, TMPDIR and TZ.
	Env []string `yaml:"env,omitempty"`
	// RunAs runs the program as this OS user (through runuser).
	RunAs string `yaml:"run_as,omitempty"`
	// OutputTail is how many bytes of output the result keeps (default 2048).
	OutputTail int `yaml:"output_tail,omitempty"`
}

// command runs a user's check (an application's re-initialisation after a
// rollback, a third party's integration test) with the run's timeout;
// exit 0 is success.
type command struct {
	opts commandOptions
}

func newCommand(b *builder) (Prober, error) {
	c := &command{opts: commandOptions{OutputTail: 2048}}
	if err := b.decode(&c.opts); err != nil {
		return nil, err
	}
	if len(c.opts.Command) == 0 || c.opts.Command[0] == "" {
		return nil, b.errorf("command: required (a list: program and arguments)")
	}
	if c.opts.OutputTail < 1 {
		return nil, b.errorf("output_tail: must be at least 1")
	}
	c.opts.Dir = resolveDir(b, c.opts.Dir)
	prog := c.opts.Command[0]
	if strings.Contains(prog, "/") && !filepath.IsAbs(prog) {
		c.opts.Command[0] = filepath.Join(configDir(b.cfg), prog)
	}
	return c, nil
}

func (c *command) Run(ctx context.Context, r *run) error {
	p := r.probe
	env := []string{"RESTORABLE_RUN_ID=" + r.id, "RESTORABLE_PROBE=" + p.Name, "RESTORABLE_ENV=" + r.result.Env, "RESTORABLE_DATASET=" + r.result.Dataset, "RESTORABLE_RELEASE=" + p.Release}
	// A command probe may act on what a catalog names (the release to
	// re-initialise from), but does not have to.
	if p.Source != "" {
		b, err := r.pickBackup(func(*model.Backup) bool { return true })
		if err != nil {
			return runx.Errorf(runx.KindConfig, "choose a backup: %w", err)
		}
		env = append(env, "RESTORABLE_BACKUP_ID="+b.ID, "RESTORABLE_BACKUP_LOCATION="+b.Location, "RESTORABLE_RELEASE="+b.Release)
	}
	for _, k := range c.opts.Env {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	// The last of two assignments to one variable wins for exec; keep it
	// simple for readers of the run log by removing earlier ones.
	env = dedupEnv(env)
	r.log.Info("running command", "program", c.opts.Command[0], "dir", c.opts.Dir)
	// Only the tail of the output is kept, as it is written: a check that
	// prints gigabytes costs the exporter no more memory than one that
	// prints a line.
	stdout := runx.NewHeadTail(0, c.opts.OutputTail)
	res, err := runx.Run(ctx, runx.Cmd{Path: c.opts.Command[0], Args: c.opts.Command[1:], Env: env, Dir: c.opts.Dir, RunAs: c.opts.RunAs, StderrTail: c.opts.OutputTail, Stdout: stdout})
	if res != nil {
		out := strings.TrimSpace(string(stdout.Tail()))
		if e := strings.TrimSpace(string(res.Stderr)); e != "" {
			out = strings.TrimSpace(out + "\n" + e)
		}
		r.result.Details = runx.Tail(out, c.opts.OutputTail)
		r.log.Info("command output", "output", r.result.Details)
	}
	if err != nil {
		return fmt.Errorf("command failed: %w", err)
	}
	return nil
}

func dedupEnv(env []string) []string {
	seen := map[string]bool{}
	out := make([]string, 0, len(env))
	for _, kv := range slices.Backward(env) {
		k, _, _ := strings.Cut(kv, "=")
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, kv)
	}
	slices.Reverse(out)
	return out
}
