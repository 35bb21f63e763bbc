// Package s3 collects backups stored as objects in an S3 bucket (or an
// S3-compatible store): one backup per object whose key fits the source's
// key template, with the bucket's protection facts (region, versioning,
// Object Lock, default encryption, lifecycle) on its model.Repository and,
// where they apply, on each backup.
//
// The catalog is read one of two ways, chosen per source: ListObjectsV2
// over the source's prefixes (at most ceil(N/1000) requests for N
// objects, prefixes listed concurrently), or the newest S3 Inventory
// report of the bucket (manifest.json and its CSV.gz or Parquet data
// files), which makes no LIST request over the backups at all: one lists
// the report folders to find the newest report, at most once per
// discovery interval, and the collections in between read the report
// found with GetObject only. Every request is counted by operation
// through internal/awsclient.
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/restorable/restorable/internal/awsclient"
	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/keytemplate"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/runx"
)

// The S3 operations a collection can make, as the request counter names
// them.
const (
	opLocation   = "GetBucketLocation"
	opVersioning = "GetBucketVersioning"
	opLock       = "GetObjectLockConfiguration"
	opEncryption = "GetBucketEncryption"
	opLifecycle  = "GetBucketLifecycleConfiguration"
	opList       = "ListObjectsV2"
	opGet        = "GetObject"
)

// Collector reads one s3 source.
type Collector struct {
	src    *config.Source
	opts   *config.S3Options
	tpl    *keytemplate.Template
	logger *slog.Logger
	now    func() time.Time
	client *s3.Client
	// custom is true when the source names an endpoint: its region is
	// whatever the store accepts, and requests are not redirected to the
	// bucket's region.
	custom bool

	// report is the key of the newest inventory report's manifest.json
	// found, at foundAt: collections read it again, without listing the
	// report folders, until the discovery interval has passed. mu guards
	// both.
	mu      sync.Mutex
	report  string
	foundAt time.Time
}

// New returns a collector for an s3 source. Credentials come from the
// default chain (or the source's profile) when a request needs them.
func New(src *config.Source, logger *slog.Logger, now func() time.Time) (*Collector, error) {
	return newCollector(src, logger, now, awsclient.Options{})
}

// newCollector is New with the AWS options' timeouts and retries given
// (tests shorten the backoff).
func newCollector(src *config.Source, logger *slog.Logger, now func() time.Time, ao awsclient.Options) (*Collector, error) {
	opts := src.S3
	if opts == nil || opts.Bucket == "" {
		return nil, runx.Errorf(runx.KindConfig, "source %s: s3.bucket is required", src.Name)
	}
	tpl, err := keytemplate.Parse(opts.KeyTemplate)
	if err != nil {
		return nil, runx.Errorf(runx.KindConfig, "source %s: s3.key_template: %v", src.Name, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ao.Region, ao.Profile, ao.Endpoint = opts.Region, opts.Profile, opts.Endpoint
	cfg, err := awsclient.Load(ctx, ao)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", src.Name, err)
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = opts.PathStyle
		// S3-compatible stores often send no checksum with GetObject;
		// the SDK would print a line about it for every inventory file.
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	return &Collector{src: src, opts: opts, tpl: tpl, logger: logger, now: now, client: client, custom: opts.Endpoint != ""}, nil
}

// Operations returns every request a collection can count
// (collectors.OperationDeclarer).
func (c *Collector) Operations() []string {
	ops := []string{opLocation, opVersioning, opLock, opEncryption, opLifecycle, opList}
	if c.opts.Mode == config.S3ModeInventory {
		ops = append(ops, opGet)
	}
	out := make([]string, len(ops))
	for i, op := range ops {
		out[i] = awsclient.Operation("S3", op)
	}
	return out
}

// Collect reads the bucket's facts and its catalog.
func (c *Collector) Collect(ctx context.Context) (*model.Catalog, error) {
	observedAt := c.now().UTC()
	facts, err := c.readFacts(ctx)
	if err != nil {
		return nil, err
	}
	m := newMapper(c.src, c.opts, c.tpl, facts)
	// Matched objects are kept per page as entries (a sixth of a
	// model.Backup) and the backups built once at the end into a slice of
	// the exact size: a catalog of a million backups is a third of a
	// gigabyte of records, and growing one slice as pages arrive would
	// copy it over and over.
	var (
		mu      sync.Mutex
		chunks  [][]entry
		total   int
		scratch []entry
	)
	add := func(objs []object) error {
		mu.Lock()
		defer mu.Unlock()
		scratch = scratch[:0]
		for i := range objs {
			if !m.inScope(objs[i].Key) {
				continue
			}
			e, ok, err := m.match(&objs[i])
			if err != nil {
				return runx.ParseError(fmt.Errorf("source %s: bucket %s: %w", c.src.Name, c.opts.Bucket, err))
			}
			if ok {
				scratch = append(scratch, e)
			}
		}
		if len(scratch) > 0 {
			// A copy of the exact size: a page where one key in twenty
			// is a backup keeps fifty entries, not room for a thousand.
			chunks = append(chunks, slices.Clone(scratch))
			total += len(scratch)
		}
		return nil
	}
	if c.opts.Mode == config.S3ModeInventory {
		err = c.readInventory(ctx, add)
	} else {
		err = c.list(ctx, facts.Region, add)
	}
	if err != nil {
		return nil, err
	}
	if m.rejected > 0 {
		if total == 0 {
			return nil, runx.Errorf(runx.KindParse, "source %s: none of the %d keys under %s matches the key template; for one, %v", c.src.Name, m.rejected, c.where(m), m.example)
		}
		c.logger.Warn("keys that do not match the key template are not backups", "keys", m.rejected, "example", m.example.Error())
	}
	scratch = nil
	backups := m.backups(chunks, total)
	return &model.Catalog{Backups: backups, Repositories: m.repositories(backups, observedAt)}, nil
}

func (c *Collector) prefixes() []string { return prefixesOf(c.opts, c.tpl) }

func (c *Collector) where(m *mapper) string {
	return "s3://" + c.opts.Bucket + "/" + strings.Join(m.prefixes, ", s3://"+c.opts.Bucket+"/")
}

// inRegion makes requests go to the bucket's own region on AWS (a
// request to another region is answered with a redirect).
func (c *Collector) inRegion(region string) func(*s3.Options) {
	return func(o *s3.Options) {
		if region != "" && !c.custom {
			o.Region = region
		}
	}
}

// readFacts reads the bucket's region and protection configuration. A
// call the store does not implement or does not let the credentials make
// leaves its fact unknown; a call that fails otherwise fails the
// collection.
func (c *Collector) readFacts(ctx context.Context) (*bucketFacts, error) {
	b := aws.String(c.opts.Bucket)
	f := &bucketFacts{Bucket: c.opts.Bucket}
	p := &f.Protection
	loc, err := c.client.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: b})
	if err := c.fact(opLocation, err); err != nil {
		return nil, err
	}
	if loc != nil {
		f.Region = regionOf(loc)
	}
	in := c.inRegion(f.Region)
	ver, err := c.client.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: b}, in)
	if err := c.fact(opVersioning, err); err != nil {
		return nil, err
	}
	if ver != nil {
		p.Versioning = versioningOf(ver)
	}
	lock, err := c.client.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: b}, in)
	switch classify(err) {
	case answered:
		p.LockMode, p.LockRetention = lockOf(lock)
	case notConfigured:
		p.LockMode = none
	}
	if err := c.fact(opLock, err); err != nil {
		return nil, err
	}
	enc, err := c.client.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: b}, in)
	switch classify(err) {
	case answered:
		p.Encryption, p.KMSKey = encryptionOf(enc)
	case notConfigured:
		p.Encryption = none
	}
	if err := c.fact(opEncryption, err); err != nil {
		return nil, err
	}
	lc, err := c.client.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: b}, in)
	switch classify(err) {
	case answered:
		lifecycleOf(lc.Rules, c.prefixes()).apply(p)
	case notConfigured:
		lifecycle{}.apply(p)
	}
	if err := c.fact(opLifecycle, err); err != nil {
		return nil, err
	}
	return f, nil
}

// fact returns the error that fails a collection for a configuration
// call's error, or nil when the call answered or its fact is merely
// unknown (which is logged once per collection at debug level).
func (c *Collector) fact(op string, err error) error {
	switch classify(err) {
	case answered, notConfigured:
		return nil
	case unknown:
		c.logger.Debug("bucket fact unknown", "operation", op, "bucket", c.opts.Bucket, "reason", errorCode(err))
		return nil
	}
	return c.requestError(op, c.opts.Bucket, err)
}

// credentialCodes are the error codes with which S3 rejects credentials.
var credentialCodes = map[string]bool{
	"ExpiredToken": true, "ExpiredTokenException": true, "InvalidAccessKeyId": true, "InvalidToken": true,
	"SignatureDoesNotMatch": true, "AccessDenied": true, "TokenRefreshRequired": true,
}

// requestError wraps a failed request with the source, the operation and
// the bucket, and a kind: rejected credentials and a missing bucket are
// configuration, the rest I/O.
func (c *Collector) requestError(op, bucket string, err error) error {
	code := errorCode(err)
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		// runx.KindOf tells a timeout from a cancellation.
		return fmt.Errorf("source %s: S3 %s of bucket %s: %w", c.src.Name, op, bucket, err)
	case credentialCodes[code]:
		return runx.Errorf(runx.KindConfig, "source %s: S3 %s of bucket %s: the credentials were rejected (%s); renew them or check the source's profile: %w", c.src.Name, op, bucket, code, err)
	case code == "NoSuchBucket":
		return runx.Errorf(runx.KindConfig, "source %s: S3 %s: bucket %s does not exist: %w", c.src.Name, op, bucket, err)
	}
	return runx.Errorf(runx.KindIO, "source %s: S3 %s of bucket %s: %w", c.src.Name, op, bucket, err)
}

func errorCode(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

// list reads the source's prefixes with ListObjectsV2, at most
// opts.Concurrency prefixes at once, 1,000 keys a request, handing each
// page to add.
func (c *Collector) list(ctx context.Context, region string, add func([]object) error) error {
	prefixes := c.prefixes()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, c.opts.Concurrency)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for _, prefix := range prefixes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			if err := c.listPrefix(ctx, prefix, c.inRegion(region), add); err != nil {
				once.Do(func() { first = err; cancel(err) })
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

func (c *Collector) listPrefix(ctx context.Context, prefix string, in func(*s3.Options), add func([]object) error) error {
	input := &s3.ListObjectsV2Input{Bucket: aws.String(c.opts.Bucket), MaxKeys: aws.Int32(1000)}
	if prefix != "" {
		input.Prefix = aws.String(prefix)
	}
	p := s3.NewListObjectsV2Paginator(c.client, input)
	var page []object
	for p.HasMorePages() {
		out, err := p.NextPage(ctx, in)
		if err != nil {
			return c.requestError(opList, c.opts.Bucket, err)
		}
		page = page[:0]
		for _, o := range out.Contents {
			page = append(page, object{
				Key:          aws.ToString(o.Key),
				Size:         aws.ToInt64(o.Size),
				LastModified: aws.ToTime(o.LastModified),
				StorageClass: string(o.StorageClass),
			})
		}
		if err := add(page); err != nil {
			return err
		}
	}
	return nil
}

// readInventory reads the newest inventory report of the bucket and hands
// its current objects to add.
func (c *Collector) readInventory(ctx context.Context, add func([]object) error) error {
	inv := c.opts.Inventory
	key, remembered, err := c.reportManifest(ctx, false)
	if err != nil {
		return err
	}
	data, err := c.get(ctx, inv.Bucket, key)
	if remembered && errorCode(err) == "NoSuchKey" {
		// The report found earlier is gone (reports expire): look for
		// the newest again.
		if key, _, err = c.reportManifest(ctx, true); err != nil {
			return err
		}
		data, err = c.get(ctx, inv.Bucket, key)
	}
	if err != nil {
		return err
	}
	man, err := parseManifest(data, c.opts.Bucket)
	if err != nil {
		return runx.ParseError(fmt.Errorf("source %s: s3://%s/%s: %w", c.src.Name, inv.Bucket, key, err))
	}
	// The first failure stops the other readers.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	files := make(chan string)
	errs := make(chan error, len(man.Files))
	var wg sync.WaitGroup
	for range min(c.opts.Concurrency, max(len(man.Files), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range files {
				if err := c.readDataFile(ctx, inv.Bucket, k, man, add); err != nil {
					errs <- err
				}
			}
		}()
	}
	for _, f := range man.Files {
		select {
		case files <- f.Key:
		case err := <-errs:
			cancel()
			close(files)
			wg.Wait()
			return err
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(files)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	return ctx.Err()
}

// reportManifest returns the key of the manifest.json to read: the one
// the source pins, the newest report found less than the discovery
// interval ago (remembered is then true), or the newest report found now
// with one ListObjectsV2 request over the report folders (also when
// again is true).
func (c *Collector) reportManifest(ctx context.Context, again bool) (key string, remembered bool, err error) {
	inv := c.opts.Inventory
	if inv.Manifest != "" {
		return inv.Manifest, false, nil
	}
	now := c.now()
	c.mu.Lock()
	key, at := c.report, c.foundAt
	c.mu.Unlock()
	if !again && key != "" && now.Sub(at) < time.Duration(inv.DiscoveryInterval) {
		return key, true, nil
	}
	base := path.Join(inv.Prefix, c.opts.Bucket, inv.Config) + "/"
	folder, err := c.newestReport(ctx, inv.Bucket, base)
	if err != nil {
		return "", false, err
	}
	key = base + folder + "/manifest.json"
	c.logger.Debug("newest inventory report", "bucket", inv.Bucket, "manifest", key)
	c.mu.Lock()
	c.report, c.foundAt = key, now
	c.mu.Unlock()
	return key, false, nil
}

// newestReport returns the newest dated folder (YYYY-MM-DDTHH-MMZ) under
// base: one ListObjectsV2 request with a delimiter per 1,000 folders.
func (c *Collector) newestReport(ctx context.Context, bucket, base string) (string, error) {
	p := s3.NewListObjectsV2Paginator(c.client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(base), Delimiter: aws.String("/")})
	newest := ""
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return "", c.requestError(opList, bucket, err)
		}
		for _, cp := range out.CommonPrefixes {
			name := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(cp.Prefix), base), "/")
			if reportFolder.MatchString(name) && name > newest {
				newest = name
			}
		}
	}
	if newest == "" {
		return "", runx.Errorf(runx.KindConfig, "source %s: no inventory report under s3://%s/%s (expected YYYY-MM-DDTHH-MMZ/manifest.json there)", c.src.Name, bucket, base)
	}
	return newest, nil
}

// maxManifest bounds the size of a manifest.json read into memory.
const maxManifest = 64 << 20

func (c *Collector) get(ctx context.Context, bucket, key string) ([]byte, error) {
	out, err := c.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, c.requestError(opGet+" "+key, bucket, err)
	}
	defer out.Body.Close() //nolint:errcheck // read-only
	data, err := io.ReadAll(io.LimitReader(out.Body, maxManifest+1))
	if err != nil {
		return nil, runx.Errorf(runx.KindIO, "source %s: read s3://%s/%s: %w", c.src.Name, bucket, key, err)
	}
	if len(data) > maxManifest {
		return nil, runx.Errorf(runx.KindLimit, "source %s: s3://%s/%s is larger than %d bytes", c.src.Name, bucket, key, maxManifest)
	}
	return data, nil
}

// readDataFile reads one inventory data file. CSV is read as it streams;
// Parquet needs random access and goes through a temporary file that is
// removed afterwards.
func (c *Collector) readDataFile(ctx context.Context, bucket, key string, man *manifest, add func([]object) error) error {
	out, err := c.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return c.requestError(opGet+" "+key, bucket, err)
	}
	defer out.Body.Close() //nolint:errcheck // read-only
	batch := make([]object, 0, 1000)
	var addErr error
	fn := func(o object) error {
		batch = append(batch, o)
		if len(batch) == cap(batch) {
			if addErr = add(batch); addErr != nil {
				return addErr
			}
			batch = batch[:0]
		}
		return ctx.Err()
	}
	where := fmt.Sprintf("source %s: inventory data file s3://%s/%s", c.src.Name, bucket, key)
	if strings.EqualFold(man.FileFormat, "CSV") {
		err = readCSV(out.Body, man.FileSchema, fn)
	} else {
		err = c.readParquetBody(out.Body, fn)
	}
	switch {
	case addErr != nil:
		return addErr
	case err != nil && ctx.Err() != nil:
		return fmt.Errorf("%s: %w", where, ctx.Err())
	case err != nil:
		return runx.ParseError(fmt.Errorf("%s: %w", where, err))
	}
	return add(batch)
}

func (c *Collector) readParquetBody(body io.Reader, fn func(object) error) (err error) {
	tmp, err := os.CreateTemp("", "restorable-inventory-*.parquet")
	if err != nil {
		return err
	}
	defer func() {
		err = errors.Join(err, tmp.Close(), os.Remove(tmp.Name()))
	}()
	n, err := io.Copy(tmp, body)
	if err != nil {
		return fmt.Errorf("download: %w", err)
	}
	return readParquet(tmp, n, fn)
}
