package probe

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/restorable/restorable/internal/runx"
)

// ChecksumsFormat is the version of the checksums file format.
const ChecksumsFormat = 1

// ChecksumsSuffix is added to a dump's path to name the checksums of its
// source taken at the dump's snapshot: "payments.dump.checksums.json".
const ChecksumsSuffix = ".checksums.json"

// Checksums describe a database's content at one moment: its schema and,
// per table, the row count and an order-independent content checksum (the
// sum of 64-bit hashes of each row's text, as data-diff computes it). A
// probe compares the checksums of the source, taken in the dump's snapshot,
// with those of the restore.
type Checksums struct {
	Format int `json:"format"`
	// Engine is "postgres" or "mysql"; Algorithm names the row hash.
	Engine    string    `json:"engine"`
	Algorithm string    `json:"algorithm"`
	Database  string    `json:"database"`
	TakenAt   time.Time `json:"taken_at"`
	// Snapshot is the exported PostgreSQL snapshot the dump and the
	// checksums share, when there was one.
	Snapshot string `json:"snapshot,omitempty"`
	// SchemaFingerprint is "sha256:" and the hash of Schema, the sorted
	// normalised description of tables, columns, constraints and indexes.
	SchemaFingerprint string          `json:"schema_fingerprint"`
	Schema            []string        `json:"schema"`
	Tables            []TableChecksum `json:"tables"`
}

// TableChecksum is the count and content checksum of one table.
type TableChecksum struct {
	Name string `json:"name"`
	Rows int64  `json:"rows"`
	// Sum is a decimal number: the sum of 64-bit row hashes overflows
	// 64 bits.
	Sum string `json:"sum"`
	// Method is the row hash, when the engine has more than one.
	Method string `json:"method,omitempty"`
}

// methods returns the row hash of every table.
func (c *Checksums) methods() map[string]string {
	m := make(map[string]string, len(c.Tables))
	for _, t := range c.Tables {
		m[t.Name] = t.Method
	}
	return m
}

// ChecksumsPath returns where the checksums of a dump are kept.
func ChecksumsPath(dump string) string { return dump + ChecksumsSuffix }

// ParseChecksums decodes a checksums file.
func ParseChecksums(data []byte) (*Checksums, error) {
	var c Checksums
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, runx.ParseError(fmt.Errorf("decode checksums: %w", err))
	}
	if c.Format != ChecksumsFormat {
		return nil, runx.ParseError(fmt.Errorf("checksums format %d is not %d", c.Format, ChecksumsFormat))
	}
	if c.Engine == "" || c.Algorithm == "" {
		return nil, runx.ParseError(errors.New("checksums: engine and algorithm are required"))
	}
	return &c, nil
}

// readChecksums reads the checksums kept next to a dump.
func readChecksums(dump string) (*Checksums, error) {
	data, err := os.ReadFile(ChecksumsPath(dump))
	if err != nil {
		return nil, runx.Errorf(runx.KindIO, "read the checksums of the dump: %w", err)
	}
	c, err := ParseChecksums(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ChecksumsPath(dump), err)
	}
	return c, nil
}

// WriteFile writes the checksums atomically to path.
func (c *Checksums) WriteFile(path string) error {
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("encode checksums: %w", err)
	}
	if err := writeFileSync(path, append(data, '\n')); err != nil {
		return fmt.Errorf("write checksums: %w", err)
	}
	return nil
}

// setSchema sorts the schema lines and computes their fingerprint.
func (c *Checksums) setSchema(lines []string) {
	slices.Sort(lines)
	c.Schema = lines
	h := sha256.New()
	for _, l := range lines {
		h.Write([]byte(l))
		h.Write([]byte{'\n'})
	}
	c.SchemaFingerprint = "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// comparison is how a restore compares with its source.
type comparison struct {
	compared   int
	mismatched []string
	details    []string
	schemaDiff []string
	gotSchema  string
}

// maxSchemaDiff bounds the schema lines a result lists.
const maxSchemaDiff = 20

// compareChecksums compares the source's checksums (want) with the
// restore's (got). Every table of either side counts as compared; a table
// whose count or checksum differs, that is missing from the restore, or
// that only the restore has, is mismatched.
func compareChecksums(want, got *Checksums) comparison {
	cmp := comparison{gotSchema: got.SchemaFingerprint}
	gotT := map[string]TableChecksum{}
	for _, t := range got.Tables {
		gotT[t.Name] = t
	}
	seen := map[string]bool{}
	for _, w := range want.Tables {
		seen[w.Name] = true
		cmp.compared++
		g, ok := gotT[w.Name]
		switch {
		case !ok:
			cmp.mismatched = append(cmp.mismatched, w.Name)
			cmp.details = append(cmp.details, fmt.Sprintf("%s: missing from the restore (source has %d rows)", w.Name, w.Rows))
		case g.Rows != w.Rows:
			cmp.mismatched = append(cmp.mismatched, w.Name)
			cmp.details = append(cmp.details, fmt.Sprintf("%s: %d rows restored, source has %d", w.Name, g.Rows, w.Rows))
		case g.Sum != w.Sum:
			cmp.mismatched = append(cmp.mismatched, w.Name)
			cmp.details = append(cmp.details, fmt.Sprintf("%s: content checksum differs (%d rows on both sides): rows were changed", w.Name, w.Rows))
		}
	}
	for _, g := range got.Tables {
		if !seen[g.Name] {
			cmp.compared++
			cmp.mismatched = append(cmp.mismatched, g.Name)
			cmp.details = append(cmp.details, fmt.Sprintf("%s: only in the restore (%d rows)", g.Name, g.Rows))
		}
	}
	if want.SchemaFingerprint != got.SchemaFingerprint {
		cmp.schemaDiff = diffLines(want.Schema, got.Schema, maxSchemaDiff)
	}
	slices.Sort(cmp.mismatched)
	return cmp
}

// diffLines lists lines only in a ("-") or only in b ("+"), at most n.
func diffLines(a, b []string, n int) []string {
	inA, inB := map[string]bool{}, map[string]bool{}
	for _, l := range a {
		inA[l] = true
	}
	for _, l := range b {
		inB[l] = true
	}
	var out []string
	for _, l := range a {
		if !inB[l] {
			out = append(out, "- "+l)
		}
	}
	for _, l := range b {
		if !inA[l] {
			out = append(out, "+ "+l)
		}
	}
	if len(out) == 0 {
		out = append(out, "schema descriptions differ only in order or duplicates")
	}
	if len(out) > n {
		out = append(out[:n], fmt.Sprintf("... and %d more", len(out)-n))
	}
	return out
}

// apply records a comparison on the result and returns the error that
// fails the run when anything differs.
func (cmp comparison) apply(r *run, want *Checksums) error {
	res := r.result
	res.TablesCompared = cmp.compared
	res.TablesMismatched = cmp.mismatched
	var b strings.Builder
	fmt.Fprintf(&b, "compared %d tables with the source's checksums taken at %s", cmp.compared, want.TakenAt.UTC().Format(time.RFC3339))
	for _, d := range cmp.details {
		b.WriteString("\n")
		b.WriteString(d)
	}
	if len(cmp.schemaDiff) > 0 {
		b.WriteString("\nschema differs from the source (- source only, + restore only):")
		for _, d := range cmp.schemaDiff {
			b.WriteString("\n  ")
			b.WriteString(d)
		}
	}
	res.Details = b.String()
	switch {
	case len(cmp.mismatched) > 0:
		return fmt.Errorf("restore differs from the source in %d of %d tables: %s", len(cmp.mismatched), cmp.compared, strings.Join(cmp.mismatched, ", "))
	case len(cmp.schemaDiff) > 0:
		return fmt.Errorf("restored schema differs from the source's (fingerprint %s, source %s)", cmp.gotSchema, want.SchemaFingerprint)
	}
	return nil
}

// parallel calls fn(worker, i) for every i in [0, n) on workers goroutines,
// each call of a worker after the one before it, so that fn can use the
// worker's own connection. A worker that failed skips the rest of its
// share; feeding stops once ctx is done. It returns the workers' errors
// joined, else ctx's error.
func parallel(ctx context.Context, workers, n int, fn func(worker, i int) error) error {
	work := make(chan int)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range work {
				if errs[w] == nil {
					errs[w] = fn(w, i)
				}
			}
		})
	}
	for i := range n {
		select {
		case work <- i:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(work)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return ctx.Err()
}
