package probe

import (
	"context"
	"crypto/md5"  //nolint:gosec // md5 is one of the digests manifests may carry, not used for security here
	"crypto/sha1" //nolint:gosec // sha1 likewise
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/runx"
)

// artifactOptions are the options of an artifact probe.
type artifactOptions struct {
	// BaseDir resolves relative locations.
	BaseDir string `yaml:"base_dir,omitempty"`
	// AllowMissingChecksum accepts a record without a checksum (only the
	// size is then verified).
	AllowMissingChecksum bool `yaml:"allow_missing_checksum,omitempty"`
}

// artifact verifies that a backup artifact that a catalog record names
// exists, has the recorded size and the recorded checksum. It needs no
// external service.
type artifact struct {
	opts    artifactOptions
	baseDir string
}

func newArtifact(b *builder) (Prober, error) {
	a := &artifact{}
	if err := b.decode(&a.opts); err != nil {
		return nil, err
	}
	if b.probe.Source == "" {
		return nil, b.errorf("an artifact probe needs a source whose catalog names the artifacts")
	}
	a.baseDir = a.opts.BaseDir
	if a.baseDir == "" {
		// A manifest's relative locations are most naturally relative to
		// the manifest directory; otherwise to the configuration file.
		if s := b.source(); s != nil && s.Manifest != nil && s.Manifest.Dir != "" {
			a.baseDir = s.Manifest.Dir
		}
	}
	if !filepath.IsAbs(a.baseDir) {
		a.baseDir = filepath.Join(configDir(b.cfg), a.baseDir)
	}
	return a, nil
}

func (a *artifact) Run(ctx context.Context, r *run) error {
	b, err := r.pickBackup(func(b *model.Backup) bool { return b.Location != "" })
	if err != nil {
		return runx.Errorf(runx.KindConfig, "choose an artifact: %w", err)
	}
	path, err := localPath(b.Location, a.baseDir)
	if err != nil {
		return runx.Errorf(runx.KindConfig, "backup %s: %w", b.ID, err)
	}
	checksum := b.Details().Checksum
	alg, want, _ := strings.Cut(checksum, ":")
	if checksum == "" && !a.opts.AllowMissingChecksum {
		return runx.Errorf(runx.KindConfig, "backup %s has no checksum in its catalog record (set allow_missing_checksum to verify the size only)", b.ID)
	}
	var h hash.Hash
	if checksum != "" {
		if h = newHash(alg); h == nil {
			return runx.Errorf(runx.KindConfig, "backup %s: checksum algorithm %q is not one of sha256, sha512, sha1, md5", b.ID, alg)
		}
	}
	r.log.Info("verifying artifact", "backup_id", b.ID, "path", path, "checksum", alg, "stored_bytes", b.StoredBytes)
	n, sum, err := digestFile(ctx, path, h)
	r.result.BytesVerified = n
	if err != nil {
		return err
	}
	var problems []string
	if b.StoredBytes > 0 && n != b.StoredBytes {
		problems = append(problems, fmt.Sprintf("size is %d bytes, the catalog records %d (truncated or replaced)", n, b.StoredBytes))
	}
	if h != nil && !strings.EqualFold(sum, want) {
		problems = append(problems, fmt.Sprintf("%s checksum is %s, the catalog records %s", alg, sum, strings.ToLower(want)))
	}
	details := fmt.Sprintf("artifact %s: %d bytes", path, n)
	if h != nil {
		details += fmt.Sprintf(", %s %s", alg, sum)
	}
	if b.StoredBytes == 0 {
		details += " (no stored_bytes in the catalog: size not compared)"
	}
	r.result.Details = details
	if len(problems) > 0 {
		return fmt.Errorf("artifact of backup %s does not match its catalog record: %s", b.ID, strings.Join(problems, "; "))
	}
	r.result.FilesVerified = 1
	return nil
}

// localPath turns a catalog location into a local file path: "file://"
// URLs, absolute paths, and paths relative to base.
func localPath(loc, base string) (string, error) {
	if strings.Contains(loc, "://") {
		u, err := url.Parse(loc)
		if err != nil {
			return "", fmt.Errorf("location %q is not a URL or path", loc)
		}
		if u.Scheme != "file" {
			return "", fmt.Errorf("location %q: only local files (file:// or a path) can be verified", loc)
		}
		if u.Host != "" && u.Host != "localhost" {
			return "", fmt.Errorf("location %q names another host", loc)
		}
		return filepath.Clean(u.Path), nil
	}
	if filepath.IsAbs(loc) {
		return filepath.Clean(loc), nil
	}
	return filepath.Join(base, loc), nil
}

func newHash(alg string) hash.Hash {
	switch strings.ToLower(alg) {
	case "sha256":
		return sha256.New()
	case "sha512":
		return sha512.New()
	case "sha1":
		return sha1.New() //nolint:gosec // see import
	case "md5":
		return md5.New() //nolint:gosec // see import
	}
	return nil
}

// digestFile reads path through h and returns the bytes read and the hex
// digest; reading stops when ctx is done.
func digestFile(ctx context.Context, path string, h hash.Hash) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", runx.Errorf(runx.KindIO, "open artifact: %w", err)
	}
	defer f.Close() //nolint:errcheck // read-only
	w := io.Discard
	if h != nil {
		w = h
	}
	n, err := io.Copy(w, ctxReader{ctx, f})
	if err != nil {
		return n, "", runx.Errorf(runx.KindIO, "read artifact %s: %w", path, err)
	}
	if h == nil {
		return n, "", nil
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// ctxReader stops a long read when its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Compile-time check that the kinds' probers satisfy the contract.
var _ Prober = (*artifact)(nil)

// configDir is the directory relative paths of the configuration resolve
// against.
func configDir(cfg *config.Config) string {
	if cfg.File == "" {
		return "."
	}
	return filepath.Dir(cfg.File)
}
