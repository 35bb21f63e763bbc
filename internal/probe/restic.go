package probe

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/runx"
)

// resticOptions are the options of a restic probe. The repository and how
// to open it default to the probe's restic source.
type resticOptions struct {
	Repository   string   `yaml:"repository,omitempty"`
	PasswordFile string   `yaml:"password_file,omitempty"`
	PasswordEnv  string   `yaml:"password_env,omitempty"`
	Binary       string   `yaml:"binary,omitempty"`
	Env          []string `yaml:"env,omitempty"`
	// Snapshot is a fixed snapshot id; by default the latest good backup
	// in the source's catalog, or restic's latest (filtered by Host and
	// Tags).
	Snapshot string   `yaml:"snapshot,omitempty"`
	Host     string   `yaml:"host,omitempty"`
	Tags     []string `yaml:"tags,omitempty"`
	// Check runs restic check (the repository's structure: every pack
	// the index names exists) before restoring (default true).
	Check *bool `yaml:"check,omitempty"`
	// ReadDataSubset adds --read-data-subset to the check ("5%", "1/20").
	ReadDataSubset string `yaml:"read_data_subset,omitempty"`
	// SampleFiles is how many restored files are compared byte for byte
	// with restic dump of the same file (default 20).
	SampleFiles int `yaml:"sample_files,omitempty"`
	// SampleMaxBytes skips larger files when sampling (default 64 MiB):
	// restic dump is held in memory.
	SampleMaxBytes int64 `yaml:"sample_max_bytes,omitempty"`
	// WorkDir is where the restore directory is created (default the
	// system's temp dir).
	WorkDir string `yaml:"work_dir,omitempty"`
}

// resticProbe restores a snapshot into a directory it creates and checks
// what came back against the snapshot's own listing.
type resticProbe struct {
	opts resticOptions
}

func newRestic(b *builder) (Prober, error) {
	p := &resticProbe{opts: resticOptions{SampleFiles: 20, SampleMaxBytes: 64 << 20}}
	if err := b.decode(&p.opts); err != nil {
		return nil, err
	}
	o := &p.opts
	if s := b.source(); s != nil && s.Restic != nil && o.Repository == "" {
		so := s.Restic
		o.Repository, o.PasswordFile, o.PasswordEnv = so.Repository, so.PasswordFile, so.PasswordEnv
		o.Binary = cmp.Or(o.Binary, so.Binary)
		o.Host = cmp.Or(o.Host, so.Host)
		if len(o.Tags) == 0 {
			o.Tags = so.Tags
		}
		o.Env = append(o.Env, so.ExtraEnv...)
	}
	o.Binary = cmp.Or(o.Binary, "restic")
	if o.Repository == "" {
		return nil, b.errorf("repository: required (or a restic source)")
	}
	if (o.PasswordFile == "") == (o.PasswordEnv == "") {
		return nil, b.errorf("set one of password_file, password_env (a password is never accepted inline)")
	}
	if o.PasswordFile != "" && !filepath.IsAbs(o.PasswordFile) {
		o.PasswordFile = filepath.Join(configDir(b.cfg), o.PasswordFile)
	}
	if !strings.Contains(o.Repository, ":") && !filepath.IsAbs(o.Repository) {
		o.Repository = filepath.Join(configDir(b.cfg), o.Repository)
	}
	if o.Check == nil {
		v := true
		o.Check = &v
	}
	if o.SampleFiles < 0 || o.SampleMaxBytes < 0 {
		return nil, b.errorf("sample_files and sample_max_bytes must not be negative")
	}
	if o.WorkDir != "" {
		o.WorkDir = resolveDir(b, o.WorkDir)
	}
	return p, nil
}

// cmd builds a restic run. The password goes through the environment (a
// file path or the exporter's variable), never the command line; --no-cache
// makes every read come from the repository itself.
func (p *resticProbe) cmd(args ...string) (runx.Cmd, error) {
	o := &p.opts
	env := []string{"RESTIC_REPOSITORY=" + o.Repository}
	if o.PasswordFile != "" {
		env = append(env, "RESTIC_PASSWORD_FILE="+o.PasswordFile)
	} else {
		v, ok := os.LookupEnv(o.PasswordEnv)
		if !ok {
			return runx.Cmd{}, runx.Errorf(runx.KindConfig, "password_env: environment variable %s is not set", o.PasswordEnv)
		}
		env = append(env, "RESTIC_PASSWORD="+v)
	}
	for _, k := range o.Env {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return runx.Cmd{Path: o.Binary, Args: append([]string{"--no-cache", "--quiet"}, args...), Env: env, StderrTail: 2048}, nil
}

func (p *resticProbe) restic(ctx context.Context, args ...string) (*runx.Result, error) {
	c, err := p.cmd(args...)
	if err != nil {
		return nil, err
	}
	return runx.Run(ctx, c)
}

func (p *resticProbe) Run(ctx context.Context, r *run) error {
	o := &p.opts
	if *o.Check {
		// The structure check first: it names a missing pack within a
		// second, where reading data retries a missing pack for a minute.
		r.log.Info("checking the repository's structure")
		if _, err := p.restic(ctx, "check"); err != nil {
			return fmt.Errorf("restic check found the repository damaged: %w", err)
		}
	}
	if o.ReadDataSubset != "" {
		r.log.Info("reading a subset of the repository's data", "read_data_subset", o.ReadDataSubset)
		if _, err := p.restic(ctx, "check", "--read-data-subset="+o.ReadDataSubset); err != nil {
			return fmt.Errorf("restic check --read-data-subset=%s found the repository damaged: %w", o.ReadDataSubset, err)
		}
	}
	snap := o.Snapshot
	if snap == "" && r.probe.Source != "" {
		b, err := r.pickBackup(func(*model.Backup) bool { return true })
		if err != nil {
			return runx.Errorf(runx.KindConfig, "choose a snapshot: %w", err)
		}
		snap = b.ID
	}
	lsArgs := []string{"ls", "--json"}
	if snap == "" {
		snap = "latest"
		if o.Host != "" {
			lsArgs = append(lsArgs, "--host="+o.Host)
		}
		for _, t := range o.Tags {
			lsArgs = append(lsArgs, "--tag="+t)
		}
	}
	res, err := p.restic(ctx, append(lsArgs, snap)...)
	if err != nil {
		return fmt.Errorf("list snapshot %s: %w", snap, err)
	}
	listing, err := parseResticLs(res.Stdout)
	if err != nil {
		return err
	}
	r.result.BackupID = cmp.Or(r.result.BackupID, listing.id)
	if r.result.RestoredPoint.IsZero() {
		r.result.RestoredPoint = listing.time
	}
	dir, err := r.makeSandboxDir(ctx, o.WorkDir, "-restic", sandboxDir, "", "")
	if err != nil {
		return err
	}
	r.log.Info("restoring snapshot", "snapshot", listing.id, "files", len(listing.files), "into", dir)
	if _, err := p.restic(ctx, "restore", listing.id, "--target", dir); err != nil {
		return fmt.Errorf("restore snapshot %s: %w", listing.short(), err)
	}
	problems, files, bytes := compareRestore(dir, listing)
	r.result.FilesVerified, r.result.BytesVerified = files, bytes
	sampled, sampleProblems, err := p.sample(ctx, dir, listing)
	if err != nil {
		return err
	}
	problems = append(problems, sampleProblems...)
	r.result.Details = fmt.Sprintf("snapshot %s: %d files, %d bytes restored and matched the snapshot's listing; %d files compared byte for byte with restic dump",
		listing.short(), files, bytes, sampled)
	if len(problems) > 0 {
		r.result.Details += "\n" + strings.Join(problems, "\n")
		return fmt.Errorf("restore of snapshot %s differs from the snapshot: %s", listing.short(), strings.Join(first(problems, 5), "; "))
	}
	return nil
}

// resticListing is a snapshot as restic ls --json lists it.
type resticListing struct {
	id    string
	time  time.Time
	files map[string]int64 // path -> size of regular files
	dirs  []string
}

func (l *resticListing) short() string { return l.id[:min(8, len(l.id))] }

// parseResticLs reads restic ls --json: a snapshot line, then one line per
// node.
func parseResticLs(data []byte) (*resticListing, error) {
	l := &resticListing{files: map[string]int64{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var n struct {
			StructType string    `json:"struct_type"`
			ID         string    `json:"id"`
			Time       time.Time `json:"time"`
			Type       string    `json:"type"`
			Path       string    `json:"path"`
			Size       int64     `json:"size"`
		}
		if err := json.Unmarshal(line, &n); err != nil {
			return nil, runx.ParseError(fmt.Errorf("parse restic ls: %w", err))
		}
		switch {
		case n.StructType == "snapshot":
			l.id, l.time = n.ID, n.Time.UTC()
		case n.Type == "file":
			l.files[n.Path] = n.Size
		case n.Type == "dir":
			l.dirs = append(l.dirs, n.Path)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, runx.ParseError(fmt.Errorf("read restic ls: %w", err))
	}
	if l.id == "" {
		return nil, runx.ParseError(errors.New("restic ls printed no snapshot"))
	}
	return l, nil
}

// compareRestore checks every file of the listing in the restore: present,
// a regular file, of the listed size; and that nothing else was restored.
func compareRestore(dir string, l *resticListing) (problems []string, files, total int64) {
	for path, size := range l.files {
		info, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(path)))
		switch {
		case err != nil:
			problems = append(problems, path+": missing from the restore")
		case !info.Mode().IsRegular():
			problems = append(problems, path+": restored as "+info.Mode().Type().String()+", not a file")
		case info.Size() != size:
			problems = append(problems, fmt.Sprintf("%s: %d bytes restored, the snapshot has %d", path, info.Size(), size))
		default:
			files++
			total += size
		}
	}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		if _, ok := l.files["/"+filepath.ToSlash(rel)]; !ok {
			problems = append(problems, "/"+filepath.ToSlash(rel)+": restored but not in the snapshot")
		}
		return nil
	})
	slices.Sort(problems)
	return problems, files, total
}

// sample compares up to SampleFiles restored files, spread evenly over the
// sorted listing, with restic dump of the same file.
func (p *resticProbe) sample(ctx context.Context, dir string, l *resticListing) (int, []string, error) {
	var candidates []string
	for path, size := range l.files {
		if size <= p.opts.SampleMaxBytes {
			candidates = append(candidates, path)
		}
	}
	slices.Sort(candidates)
	n := min(p.opts.SampleFiles, len(candidates))
	var problems []string
	for i := range n {
		path := candidates[i*len(candidates)/n]
		res, err := p.restic(ctx, "dump", l.id, path)
		if err != nil {
			return i, nil, fmt.Errorf("restic dump %s: %w", path, err)
		}
		restored, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(path)))
		if err != nil {
			problems = append(problems, path+": unreadable in the restore")
			continue
		}
		a, b := sha256.Sum256(res.Stdout), sha256.Sum256(restored)
		if a != b {
			problems = append(problems, fmt.Sprintf("%s: restored content (sha256 %s) differs from the repository's (%s)", path, hex.EncodeToString(b[:8]), hex.EncodeToString(a[:8])))
		}
	}
	return n, problems, nil
}

func first(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], fmt.Sprintf("and %d more", len(s)-n))
	}
	return s
}
