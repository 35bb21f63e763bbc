// Package awsbackup collects the AWS Backup vaults of one region: each
// vault becomes a model.Repository with its protection facts (Vault Lock
// mode and minimum retention, KMS key), each recovery point a
// model.Backup, each backup job that ended without a recovery point a
// failed backup, and each finished restore job of a restore testing plan
// a probe run (model.ProbeResult with Collected set).
//
// Every list is read page by page (NextToken) through the SDK's
// paginators, and every request is counted by operation in the
// collection's runx.Meter (internal/awsclient).
package awsbackup

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/backup/types"
	"github.com/aws/smithy-go"

	"github.com/restorable/restorable/internal/awsclient"
	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/runx"
)

// Service is AWS Backup's service id, the first word of its operations.
const Service = "Backup"

// The API operations a collection makes.
const (
	OpListVaults         = "ListBackupVaults"
	OpListRecoveryPoints = "ListRecoveryPointsByBackupVault"
	OpListBackupJobs     = "ListBackupJobs"
	OpListRestoreJobs    = "ListRestoreJobs"
	OpListTags           = "ListTags"
)

// TagReadsPerCollection bounds the ListTags calls one collection makes for
// recovery points not seen before (dataset_from: tag:KEY), newest first:
// a first collection of a vault of thousands of recovery points must not
// make thousands of calls. The tags of a recovery point are read once and
// kept while the exporter runs.
const TagReadsPerCollection = 100

// pageSize is the page size asked of every list (the API's maximum is
// 1000 for most lists).
const pageSize = 1000

type rule struct {
	name    string
	re      *regexp.Regexp
	env     string
	dataset string
}

// Collector reads one awsbackup source.
type Collector struct {
	src    *config.Source
	opts   *config.AWSBackupOptions
	rules  []rule
	logger *slog.Logger
	now    func() time.Time

	// tagReads bounds the recovery points whose tags one collection reads
	// (TagReadsPerCollection).
	tagReads int
	// mu guards rpTags, which outlives one collection: the tags of each
	// recovery point read so far.
	mu     sync.Mutex
	rpTags map[string]map[string]string
}

// New returns a collector for an awsbackup source.
func New(src *config.Source, logger *slog.Logger, now func() time.Time) (*Collector, error) {
	opts := src.AWSBackup
	if opts == nil {
		opts = &config.AWSBackupOptions{JobsWindow: config.DefaultAWSBackupJobs, MaxAttempts: 5}
	}
	c := &Collector{src: src, opts: opts, logger: logger, now: now, rpTags: map[string]map[string]string{}, tagReads: TagReadsPerCollection}
	for i, v := range opts.Vaults {
		re, err := v.Regexp()
		if err != nil {
			return nil, runx.Errorf(runx.KindConfig, "source %s: awsbackup.vaults[%d].name_regex: %v", src.Name, i, err)
		}
		c.rules = append(c.rules, rule{name: v.Name, re: re, env: v.Env, dataset: v.Dataset})
	}
	return c, nil
}

// Operations returns the external calls a collection can make
// (collectors.OperationDeclarer).
func (c *Collector) Operations() []string {
	ops := []string{OpListVaults, OpListRecoveryPoints}
	if c.opts.JobsWindow > 0 {
		ops = append(ops, OpListBackupJobs, OpListRestoreJobs)
	}
	ops = append(ops, OpListTags)
	out := make([]string, len(ops))
	for i, op := range ops {
		out[i] = awsclient.Operation(Service, op)
	}
	return out
}

// Collect reads the vaults, their recovery points and the recent backup
// and restore jobs.
func (c *Collector) Collect(ctx context.Context) (*model.Catalog, error) {
	observedAt := c.now().UTC()
	cfg, err := awsclient.Load(ctx, awsclient.Options{Region: c.opts.Region, Profile: c.opts.Profile, Endpoint: c.opts.Endpoint, MaxAttempts: c.opts.MaxAttempts})
	if err != nil {
		return nil, err
	}
	client := backup.NewFromConfig(cfg)
	vaults, err := c.vaults(ctx, client, cfg.Region)
	if err != nil {
		return nil, c.apiError(ctx, cfg, "list backup vaults", err)
	}
	m := &mapper{src: c.src, observedAt: observedAt}
	cat := &model.Catalog{Backups: []model.Backup{}, Repositories: make([]model.Repository, 0, len(vaults))}
	have := map[string]point{}
	datasets := map[string]string{}
	tagDatasets := strings.HasPrefix(c.src.DatasetFrom, "tag:") && c.src.Dataset == ""
	for i := range vaults {
		v := &vaults[i]
		points, err := c.recoveryPoints(ctx, client, v.name())
		if err != nil {
			return nil, c.apiError(ctx, cfg, "list recovery points of vault "+v.name(), err)
		}
		tags := c.tagsOf(ctx, client, points)
		var stored int64
		for j := range points {
			rp := &points[j]
			t, read := tags[aws.ToString(rp.RecoveryPointArn)]
			b, ok := m.recoveryPoint(v, rp, t)
			if !ok {
				continue
			}
			stored += b.StoredBytes
			have[b.ID] = point{env: b.Env, dataset: b.Dataset, release: b.Release, settled: read || !tagDatasets || v.dataset != ""}
			datasets[aws.ToString(rp.ResourceArn)] = b.Dataset
			cat.Backups = append(cat.Backups, b)
		}
		cat.Repositories = append(cat.Repositories, m.repository(v, stored))
	}
	if c.opts.JobsWindow > 0 && len(vaults) > 0 {
		byName, byArn := map[string]*vault{}, map[string]*vault{}
		for i := range vaults {
			byName[vaults[i].name()] = &vaults[i]
			byArn[aws.ToString(vaults[i].v.BackupVaultArn)] = &vaults[i]
		}
		restores, err := c.restoreJobs(ctx, client, observedAt.Add(-c.opts.JobsWindow.D()))
		if err != nil {
			return nil, c.apiError(ctx, cfg, "list restore jobs", err)
		}
		addRestoreFacts(cat.Backups, restores)
		cat.Probes = m.restoreTests(restores, byArn, have, datasets)
		jobs, err := c.backupJobs(ctx, client, observedAt.Add(-c.opts.JobsWindow.D()))
		if err != nil {
			return nil, c.apiError(ctx, cfg, "list backup jobs", err)
		}
		for i := range jobs {
			j := &jobs[i]
			v := byName[aws.ToString(j.BackupVaultName)]
			if _, listed := have[aws.ToString(j.RecoveryPointArn)]; v == nil || listed {
				continue
			}
			if b, ok := m.job(v, j, datasets); ok {
				cat.Backups = append(cat.Backups, b)
			}
		}
	}
	if missing := countNoEnv(cat.Backups); missing > 0 {
		c.logger.Warn("backups without environment: set env on the source, in a vault rule, or tag the vault env=NAME", "backups", missing)
	}
	return cat, nil
}

func countNoEnv(bs []model.Backup) int {
	n := 0
	for i := range bs {
		if bs[i].Env == "" {
			n++
		}
	}
	return n
}

// vaults lists the vaults and keeps the selected ones with their env and
// dataset. A vault whose env no rule or source sets gets its "env" tag
// (and "dataset" tag) with one ListTags call.
func (c *Collector) vaults(ctx context.Context, client *backup.Client, region string) ([]vault, error) {
	var out []vault
	p := backup.NewListBackupVaultsPaginator(client, &backup.ListBackupVaultsInput{MaxResults: aws.Int32(pageSize)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, v := range page.BackupVaultList {
			sel, ok := c.selectVault(v)
			if !ok {
				continue
			}
			sel.region = cmp.Or(regionOf(aws.ToString(v.BackupVaultArn)), region)
			out = append(out, sel)
		}
	}
	for i := range out {
		v := &out[i]
		if v.env != "" {
			continue
		}
		tags, err := c.listTags(ctx, client, aws.ToString(v.v.BackupVaultArn))
		if err != nil {
			return nil, fmt.Errorf("tags of vault %s: %w", v.name(), err)
		}
		v.env = tags[TagEnv]
		if v.dataset == "" && c.src.Dataset == "" && c.src.DatasetFrom == "" {
			v.dataset = tags[TagDataset]
		}
	}
	slices.SortFunc(out, func(a, b vault) int { return strings.Compare(a.name(), b.name()) })
	return out, nil
}

// selectVault applies the source's vault rules: the first rule that
// matches wins; without rules every vault is selected.
func (c *Collector) selectVault(v types.BackupVaultListMember) (vault, bool) {
	name := aws.ToString(v.BackupVaultName)
	if len(c.rules) == 0 {
		return vault{v: v, env: c.src.Env}, true
	}
	for _, r := range c.rules {
		sel := vault{v: v, env: cmp.Or(c.src.Env, r.env), dataset: r.dataset}
		if r.re == nil {
			if r.name == name {
				return sel, true
			}
			continue
		}
		m := r.re.FindStringSubmatch(name)
		if m == nil {
			continue
		}
		if i := r.re.SubexpIndex("env"); i > 0 && c.src.Env == "" {
			sel.env = m[i]
		}
		if i := r.re.SubexpIndex("dataset"); i > 0 {
			sel.dataset = m[i]
		}
		return sel, true
	}
	return vault{}, false
}

func (c *Collector) recoveryPoints(ctx context.Context, client *backup.Client, name string) ([]types.RecoveryPointByBackupVault, error) {
	var out []types.RecoveryPointByBackupVault
	p := backup.NewListRecoveryPointsByBackupVaultPaginator(client, &backup.ListRecoveryPointsByBackupVaultInput{BackupVaultName: aws.String(name), MaxResults: aws.Int32(pageSize)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, page.RecoveryPoints...)
	}
	return out, nil
}

func (c *Collector) backupJobs(ctx context.Context, client *backup.Client, after time.Time) ([]types.BackupJob, error) {
	var out []types.BackupJob
	p := backup.NewListBackupJobsPaginator(client, &backup.ListBackupJobsInput{ByCreatedAfter: aws.Time(after), MaxResults: aws.Int32(pageSize)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, page.BackupJobs...)
	}
	return out, nil
}

func (c *Collector) restoreJobs(ctx context.Context, client *backup.Client, after time.Time) ([]types.RestoreJobsListMember, error) {
	var out []types.RestoreJobsListMember
	p := backup.NewListRestoreJobsPaginator(client, &backup.ListRestoreJobsInput{ByCreatedAfter: aws.Time(after), MaxResults: aws.Int32(pageSize)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, page.RestoreJobs...)
	}
	return out, nil
}

// listTags reads every tag of a resource, page by page.
func (c *Collector) listTags(ctx context.Context, client *backup.Client, arn string) (map[string]string, error) {
	out := map[string]string{}
	p := backup.NewListTagsPaginator(client, &backup.ListTagsInput{ResourceArn: aws.String(arn)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for k, v := range page.Tags {
			out[k] = v
		}
	}
	return out, nil
}

// tagsOf returns the tags of the recovery points that are known, when the
// dataset comes from a tag: those read before, and those of at most
// TagReadsPerCollection points not read yet, newest first. A failed read
// is logged and retried in a later collection; the point meanwhile gets
// its dataset from its resource.
func (c *Collector) tagsOf(ctx context.Context, client *backup.Client, points []types.RecoveryPointByBackupVault) map[string]map[string]string {
	if !strings.HasPrefix(c.src.DatasetFrom, "tag:") {
		return nil
	}
	known := map[string]map[string]string{}
	var todo []*types.RecoveryPointByBackupVault
	c.mu.Lock()
	for i := range points {
		if _, retained := recoveryPointStatus(points[i].Status); !retained {
			continue
		}
		arn := aws.ToString(points[i].RecoveryPointArn)
		if t, ok := c.rpTags[arn]; ok {
			known[arn] = t
		} else {
			todo = append(todo, &points[i])
		}
	}
	c.mu.Unlock()
	slices.SortFunc(todo, func(a, b *types.RecoveryPointByBackupVault) int {
		return utc(b.CreationDate).Compare(utc(a.CreationDate))
	})
	for _, rp := range todo[:min(len(todo), c.tagReads)] {
		arn := aws.ToString(rp.RecoveryPointArn)
		t, err := c.listTags(ctx, client, arn)
		if err != nil {
			c.logger.Warn("cannot read the tags of a recovery point", "recovery_point", arn, "err", err)
			continue
		}
		known[arn] = t
		c.mu.Lock()
		c.rpTags[arn] = t
		c.mu.Unlock()
	}
	return known
}

// apiError classifies a failed call: rejected or expired credentials are a
// configuration error that names where the credentials came from
// (environment, shared file, role), throttling that outlived the retries
// and other API errors are I/O errors with AWS's own code and message.
func (c *Collector) apiError(ctx context.Context, cfg aws.Config, what string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "ExpiredTokenException", "ExpiredToken", "UnrecognizedClientException", "InvalidSignatureException",
			"InvalidClientTokenId", "SignatureDoesNotMatch":
			return runx.Errorf(runx.KindConfig, "%s: AWS Backup rejects the credentials from %s (%s): %s", what, credentialSource(ctx, cfg), ae.ErrorCode(), ae.ErrorMessage())
		case "AccessDeniedException", "AccessDenied":
			return runx.Errorf(runx.KindConfig, "%s: the credentials from %s may not make this call (%s): %s", what, credentialSource(ctx, cfg), ae.ErrorCode(), ae.ErrorMessage())
		case "ResourceNotFoundException":
			return runx.Errorf(runx.KindConfig, "%s: %s: %s", what, ae.ErrorCode(), ae.ErrorMessage())
		}
		return runx.Errorf(runx.KindIO, "%s: %s: %s", what, ae.ErrorCode(), ae.ErrorMessage())
	}
	if strings.Contains(err.Error(), "failed to retrieve credentials") || strings.Contains(err.Error(), "no EC2 IMDS role found") {
		return runx.Errorf(runx.KindConfig, "%s: no AWS credentials: %v", what, err)
	}
	return runx.Errorf(runx.KindIO, "%s: %v", what, err)
}

// credentialSource names where the default chain found the credentials
// (EnvConfigCredentials, SharedConfigCredentials: /root/.aws/credentials,
// AssumeRoleProvider, ...), never the credentials themselves.
func credentialSource(ctx context.Context, cfg aws.Config) string {
	if cfg.Credentials == nil {
		return "no credential provider"
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return "the default chain (which now fails: " + err.Error() + ")"
	}
	src := creds.Source
	if src == "" {
		src = "the default chain"
	}
	if c := profileOf(cfg); c != "" {
		src += ", profile " + c
	}
	return src
}

func profileOf(cfg aws.Config) string {
	for _, s := range cfg.ConfigSources {
		if p, ok := s.(interface{ GetSharedConfigProfile() (string, bool) }); ok {
			if name, found := p.GetSharedConfigProfile(); found {
				return name
			}
		}
	}
	return ""
}
