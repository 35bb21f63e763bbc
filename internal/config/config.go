// Package config reads Restorable's one YAML configuration file.
//
// Decoding is strict: an unknown key is an error that names the file, the
// line and the section it appeared in. Defaults are applied while decoding
// and every value is validated before the configuration is used, so a
// running exporter never holds a half-valid configuration.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"

	"github.com/restorable/restorable/internal/prices"
)

// Defaults that the issue tracker and the field agree on.
const (
	DefaultReleasesKept  = 3
	DefaultArchiveAfter  = Duration(90 * 24 * time.Hour)
	DefaultInterval      = "@every 5m"
	DefaultTimeout       = Duration(2 * time.Minute)
	DefaultConcurrency   = 4
	DefaultJitter        = Duration(10 * time.Second)
	DefaultHistoryRoot   = "./var/history"
	DefaultResticStats   = Duration(24 * time.Hour)
	DefaultProbeTimeout  = Duration(time.Hour)
	DefaultProbeParallel = 1
	DefaultProbeStateDir = "./var/probes"
	DefaultProbeKeep     = 100
)

// Source types the exporter knows. The collectors package holds the list of
// constructors; this list lets the configuration reject a typo early.
const (
	TypeManifest   = "manifest"
	TypeRestic     = "restic"
	TypePgBackRest = "pgbackrest"
	TypeWALG       = "walg"
	TypeVelero     = "velero"
	TypeAWSBackup  = "awsbackup"
	TypeS3         = "s3"
	TypeBilling    = "billing"

	// TypeCostExplorer reads S3 and AWS Backup costs from the AWS Cost
	// Explorer API; TypeS3Requests reads S3 request metrics from
	// CloudWatch.
	TypeCostExplorer = "costexplorer"
	TypeS3Requests   = "s3requests"
)

// SourceTypes lists the accepted values of a source's type.
var SourceTypes = []string{TypeManifest, TypeRestic, TypePgBackRest, TypeCostExplorer, TypeS3Requests, TypeWALG, TypeVelero, TypeAWSBackup, TypeS3, TypeBilling}

// Config is the whole configuration file.
type Config struct {
	Environments    map[string]*Environment    `yaml:"environments" doc:"Policy per environment (dev, staging, prod, ...)." required:"true"`
	Classifications map[string]*Classification `yaml:"classifications,omitempty" doc:"Data classes with limits of their own (pii, phi, ...)."`
	Sources         []*Source                  `yaml:"sources" doc:"Backup catalogs to collect."`
	Probes          []*Probe                   `yaml:"probes,omitempty" doc:"Scheduled restore-verification probes."`
	Collection      Collection                 `yaml:"collection,omitempty" doc:"How sources are scheduled."`
	History         History                    `yaml:"history,omitempty" doc:"Where the long-term Parquet history is written."`
	Checks          Checks                     `yaml:"checks,omitempty" doc:"Parameters of policy checks that are not part of an environment's policy."`
	Probing         Probing                    `yaml:"probing,omitempty" doc:"Settings shared by every restore probe."`
	Access          Access                     `yaml:"access,omitempty" doc:"Who may use which route of the HTTP API, and where the audit log goes (docs/security.md)."`
	Locks           *Locks                     `yaml:"locks,omitempty" doc:"The backup/migration locks of restorable lock to watch, on their coordination database (docs/lock.md)."`
	Events          *Events                    `yaml:"events,omitempty" doc:"The release-events API: generic events and native webhooks, kept in a durable journal (docs/events.md)."`
	PricesFile      string                     `yaml:"prices_file,omitempty" doc:"Price table (YAML or JSON, the format of analyze --prices) replacing the built-in one for the exporter's cost estimates: S3 requests and its own API requests."`

	// File is the absolute path of the file the configuration was read
	// from; relative paths in the file are resolved against its directory.
	File string `yaml:"-"`

	// root is the file's YAML tree, for the lines of messages.
	root *yaml.Node
	// prices is the price table in force: PricesFile's, or the built-in.
	prices *prices.Table
}

// Environment is the policy of one environment.
type Environment struct {
	RPO              Duration  `yaml:"rpo" doc:"Largest acceptable age of the last good backup." required:"true"`
	RTO              Duration  `yaml:"rto,omitempty" doc:"Restore-time objective: the longest a restore probe may take."`
	Retention        Retention `yaml:"retention,omitempty" doc:"What must stay restorable."`
	Require          Require   `yaml:"require,omitempty" doc:"Protection every backup of this environment must have."`
	ArchiveAfter     Duration  `yaml:"archive_after,omitempty" doc:"Backups older than this should have left hot storage (default 90d)."`
	Regions          []string  `yaml:"regions,omitempty" doc:"Regions backups may be stored in; empty allows any."`
	RestoreTestEvery Duration  `yaml:"restore_test_every,omitempty" doc:"Longest time without a successful restore test: a run of a configured probe, or a restore test a source reports (AWS Backup restore testing plans)."`
	// QuietWindows are deployment blackouts: no probe starts inside them.
	QuietWindows []QuietWindow `yaml:"quiet_windows,omitempty" doc:"Times when no restore probe may start in this environment."`

	line int
}

// Retention says how many release states and how much age must stay.
type Retention struct {
	Releases int      `yaml:"releases,omitempty" doc:"Distinct prior release states that must stay restorable (default 3)." minimum:"0"`
	MinAge   Duration `yaml:"min_age,omitempty" doc:"The oldest good backup must be at least this old."`
	MaxAge   Duration `yaml:"max_age,omitempty" doc:"No backup may be older than this."`
}

// Encryption requirements.
const (
	EncryptionNone = ""
	EncryptionAny  = "any"
	EncryptionKMS  = "kms"
)

// Require lists the protection a backup must have.
type Require struct {
	Encryption string   `yaml:"encryption,omitempty" doc:"\"any\" or \"kms\"; empty requires none." enum:",any,kms"`
	KMSKeys    []string `yaml:"kms_keys,omitempty" doc:"Allowed KMS key ids or ARNs when encryption is kms; empty allows any key."`
	Immutable  bool     `yaml:"immutable,omitempty" doc:"Backups must be immutable (object lock, append-only, vault lock)."`
}

// QuietWindow is a recurring blackout: it starts at each time the cron
// expression matches and lasts for Duration.
type QuietWindow struct {
	Start    string   `yaml:"start" doc:"Cron expression (robfig/cron syntax) at which the window opens." required:"true" schedule:"true"`
	Duration Duration `yaml:"duration" doc:"How long the window lasts." required:"true"`
}

// Classification is a data class with limits of its own.
type Classification struct {
	MaxAge  map[string]Duration `yaml:"max_age,omitempty" doc:"Longest age of a backup per environment."`
	Regions []string            `yaml:"regions,omitempty" doc:"Regions data of this class may be stored in."`
	MinLock map[string]Duration `yaml:"min_lock,omitempty" doc:"Shortest default lock retention (S3 Object Lock, vault lock) a store holding this class must apply, per environment."`
}

// Collection sets how sources run in the background.
type Collection struct {
	Concurrency int        `yaml:"concurrency,omitempty" doc:"Sources collected at the same time (default 4)." minimum:"1"`
	Jitter      Duration   `yaml:"jitter,omitempty" doc:"Largest random delay added before each scheduled run (default 10s; 0s turns it off)."`
	APIBudget   *APIBudget `yaml:"api_budget,omitempty" doc:"Monthly budget for the API requests of each source that has no api_budget of its own (docs/collectors.md, API budget)."`
}

// History sets where history is written.
type History struct {
	Root string `yaml:"root,omitempty" doc:"Directory of the Parquet history (default ./var/history)."`
	// Disabled turns history off, for read-only deployments.
	Disabled bool `yaml:"disabled,omitempty" doc:"Do not write history."`
}

// Probing holds the settings shared by every restore probe.
type Probing struct {
	Concurrency int    `yaml:"concurrency,omitempty" doc:"Probe runs at the same time across all probes (default 1)." minimum:"1"`
	StateDir    string `yaml:"state_dir,omitempty" doc:"Directory where probes record the sandboxes they create and keep run logs (default ./var/probes)."`
	KeepResults int    `yaml:"keep_results,omitempty" doc:"Recent runs (results and logs) kept for the API (default 100)." minimum:"1"`
}

// Source is one backup catalog.
type Source struct {
	Name           string            `yaml:"name" doc:"Unique name; the source label of every metric." required:"true"`
	Type           string            `yaml:"type" doc:"Collector type." required:"true" enum:"manifest,restic,pgbackrest,costexplorer,s3requests,walg,velero,awsbackup,s3,billing"`
	Env            string            `yaml:"env,omitempty" doc:"Environment of the backups; collectors may read it from the catalog when empty."`
	Classification string            `yaml:"classification,omitempty" doc:"Data classification of the backups (a key of classifications)."`
	Dataset        string            `yaml:"dataset,omitempty" doc:"Fixed dataset name for every backup of this source."`
	DatasetFrom    string            `yaml:"dataset_from,omitempty" doc:"Where a collector reads the dataset: host, path or tag:KEY (restic), stanza or tag:KEY (pgbackrest), tag:KEY (walg: a user_data key), schedule or tag:KEY (velero: a label), vault or tag:KEY (awsbackup: a recovery point tag)." pattern:"^(host|path|stanza|schedule|vault|tag:.+)$"`
	Interval       string            `yaml:"interval,omitempty" doc:"Schedule: a duration such as 5m, \"@every 5m\" or a cron spec (default @every 5m); at least 1s apart." schedule:"true"`
	Timeout        Duration          `yaml:"timeout,omitempty" doc:"Longest a collection may run (default 2m; must be greater than 0)."`
	Labels         map[string]string `yaml:"labels,omitempty" doc:"Tags added to every backup of this source."`
	// ExpectedInterval is how often backups of each series of the source
	// are expected; it wins over the interval a collector reads from the
	// backup tool's schedule (model.Backup.ExpectedInterval).
	ExpectedInterval Duration `yaml:"expected_interval,omitempty" doc:"How often a backup of each series (dataset) of this source is expected: backup.late reports a series whose newest good backup is older than this plus checks.late.grace. Wins over the interval a collector reads from the backup tool's schedule (velero); without either, a series is not judged late, only against the RPO."`

	Manifest   *ManifestOptions   `yaml:"manifest,omitempty" doc:"Options of a manifest source."`
	Restic     *ResticOptions     `yaml:"restic,omitempty" doc:"Options of a restic source."`
	PgBackRest *PgBackRestOptions `yaml:"pgbackrest,omitempty" doc:"Options of a pgbackrest source."`
	WALG       *WALGOptions       `yaml:"walg,omitempty" doc:"Options of a walg source."`
	Velero     *VeleroOptions     `yaml:"velero,omitempty" doc:"Options of a velero source."`
	AWSBackup  *AWSBackupOptions  `yaml:"awsbackup,omitempty" doc:"Options of an awsbackup source."`
	// CostExplorer and S3Requests are AWS API sources, priced per request.
	CostExplorer *CostExplorerOptions `yaml:"costexplorer,omitempty" doc:"Options of a costexplorer source."`
	S3Requests   *S3RequestsOptions   `yaml:"s3requests,omitempty" doc:"Options of an s3requests source."`
	APIBudget    *APIBudget           `yaml:"api_budget,omitempty" doc:"Monthly budget for the API requests of this source: the exporter recommends the shortest interval that stays within it (docs/collectors.md, API budget)."`
	S3           *S3Options           `yaml:"s3,omitempty" doc:"Options of an s3 source (backups stored as objects)."`
	Billing      *BillingOptions      `yaml:"billing,omitempty" doc:"Options of a billing source (docs/billing.md)."`

	line int
}

// Line is the line of the source in its file, for messages.
func (s *Source) Line() int { return s.line }

// Schedule parses Interval.
func (s *Source) Schedule() (cron.Schedule, error) { return ParseSchedule(s.Interval) }

// ManifestOptions configures a manifest source.
type ManifestOptions struct {
	Dir string `yaml:"dir" doc:"Directory of JSON and NDJSON manifest files." required:"true"`
	// Demo makes times in the files relative to the moment of collection;
	// only the bundled demo uses it.
	RelativeTo string `yaml:"relative_to,omitempty" doc:"\"now\": read times as offsets from the collection time (the demo uses this)." enum:",now"`
}

// ResticOptions configures a restic source.
type ResticOptions struct {
	Repository    string   `yaml:"repository" doc:"Repository location, as restic -r takes it." required:"true"`
	PasswordFile  string   `yaml:"password_file,omitempty" doc:"File holding the repository password."`
	PasswordEnv   string   `yaml:"password_env,omitempty" doc:"Environment variable holding the repository password."`
	Binary        string   `yaml:"binary,omitempty" doc:"restic program (default restic on PATH)."`
	StatsInterval Duration `yaml:"stats_interval,omitempty" doc:"Least time between whole-repository stats runs while the snapshot set is unchanged (default 24h)."`
	Host          string   `yaml:"host,omitempty" doc:"Only snapshots of this host."`
	Tags          []string `yaml:"tags,omitempty" doc:"Only snapshots with these tags."`
	StorageClass  string   `yaml:"storage_class,omitempty" doc:"Storage class of the repository, for cost and tiering."`
	Region        string   `yaml:"region,omitempty" doc:"Region of the repository."`
	Immutable     bool     `yaml:"immutable,omitempty" doc:"The repository is append-only or object-locked."`
	KeyID         string   `yaml:"key_id,omitempty" doc:"KMS key protecting the repository's storage, when there is one."`
	ExtraEnv      []string `yaml:"env,omitempty" doc:"Names of environment variables passed to restic (for example AWS_ACCESS_KEY_ID)."`
	CacheDir      string   `yaml:"cache_dir,omitempty" doc:"restic's local cache directory (default: the user's cache directory, as restic uses it); keeping it is what spares the repository re-reads."`
}

// PgBackRestOptions configures a pgbackrest source.
type PgBackRestOptions struct {
	Config       string   `yaml:"config,omitempty" doc:"pgbackrest.conf to use (absolute path)."`
	Stanzas      []string `yaml:"stanzas,omitempty" doc:"Stanzas to collect; empty collects all."`
	Binary       string   `yaml:"binary,omitempty" doc:"pgbackrest program (default pgbackrest on PATH)."`
	RunAs        string   `yaml:"run_as,omitempty" doc:"Run pgbackrest as this user through runuser (when the exporter runs as root)."`
	StorageClass string   `yaml:"storage_class,omitempty" doc:"Storage class of the repository."`
	Region       string   `yaml:"region,omitempty" doc:"Region of the repository."`
	Encrypted    bool     `yaml:"encrypted,omitempty" doc:"The repository is encrypted (repo-cipher-type)."`
	KeyID        string   `yaml:"key_id,omitempty" doc:"KMS key protecting the repository storage."`
	Immutable    bool     `yaml:"immutable,omitempty" doc:"The repository storage is object-locked."`
}

// BillingFormats are the values of billing.format ("" is auto); the
// billing package reads them.
var BillingFormats = []string{"auto", "focus", "cur", "cur2"}

// BillingOptions configures a billing source: bill files (FOCUS, AWS CUR,
// CUR 2.0) in a directory.
type BillingOptions struct {
	Path        string           `yaml:"path" doc:"A bill file, or a directory whose .csv, .csv.gz and .parquet files (at any depth) are bills." required:"true"`
	Format      string           `yaml:"format,omitempty" doc:"Format of the bills: auto (from their columns), focus, cur (legacy CSV) or cur2 (CUR 2.0 Parquet); default auto." enum:",auto,focus,cur,cur2"`
	Attribution *CostAttribution `yaml:"attribution,omitempty" doc:"How cost lines are attributed to an environment and a dataset."`
}

// CostAttribution attributes cost lines to an environment and a dataset:
// first by the bucket or vault a line names, then by its tags for what
// the bucket did not say.
type CostAttribution struct {
	Buckets map[string]AttributionTarget `yaml:"buckets,omitempty" doc:"Bucket or backup-vault names and the env and dataset their costs belong to."`
	Tags    AttributionTags              `yaml:"tags,omitempty" doc:"Tag keys, as the bill names them, whose values are the env and the dataset."`
}

// AttributionTarget is the env and dataset of a bucket's costs.
type AttributionTarget struct {
	Env     string `yaml:"env,omitempty" doc:"Environment (a key of environments)."`
	Dataset string `yaml:"dataset,omitempty" doc:"Dataset."`
}

// AttributionTags names the tag keys that carry the env and the dataset
// (user:env in a legacy CUR, user_env in CUR 2.0, env in FOCUS).
type AttributionTags struct {
	Env     string `yaml:"env,omitempty" doc:"Tag key whose value is the environment."`
	Dataset string `yaml:"dataset,omitempty" doc:"Tag key whose value is the dataset."`
}

// Probe is a scheduled restore-verification probe.
type Probe struct {
	Name     string   `yaml:"name" doc:"Unique name; the probe label of its metrics. No colon: names with one are those of the restore tests sources report (aws-backup:...)." required:"true" pattern:"^[^:]+$"`
	Kind     string   `yaml:"kind" doc:"Probe kind." required:"true"`
	Env      string   `yaml:"env,omitempty" doc:"Environment (default: the source's)."`
	Dataset  string   `yaml:"dataset,omitempty" doc:"Dataset restored (default: the latest good backup's)."`
	Source   string   `yaml:"source,omitempty" doc:"Source whose catalog names what to restore."`
	Release  string   `yaml:"release,omitempty" doc:"Restore the latest good backup of this release instead of the latest."`
	Schedule string   `yaml:"schedule,omitempty" doc:"Cron spec, a duration or @every (at least 1s apart); without it the probe runs only on demand." schedule:"true"`
	Timeout  Duration `yaml:"timeout,omitempty" doc:"Longest a run may take before it is cancelled and cleaned up (default 1h; must be greater than 0)."`
	// OnDeploy makes successful deploy events run the probe: post-deploy
	// validation of the backups a rollback would restore.
	OnDeploy *OnDeploy `yaml:"on_deploy,omitempty" doc:"Run the probe when a successful deploy event of this environment and dataset arrives (post-deploy validation)."`
	// Options holds the kind-specific settings; the probe package decodes
	// and validates them strictly.
	Options yaml.Node `yaml:"options,omitempty" doc:"Kind-specific options." schema:"object"`

	line int
}

// OnDeploy names the deploys that trigger a probe.
type OnDeploy struct {
	Env     string `yaml:"env,omitempty" doc:"Environment whose deploys trigger the probe (default: the probe's environment, else its source's)."`
	Dataset string `yaml:"dataset,omitempty" doc:"Dataset or service whose deploys trigger the probe (default: the probe's dataset; when the probe names none either, a deploy of any dataset of the environment)."`
}

// Line is the line of the probe in its file.
func (p *Probe) Line() int { return p.line }

// Load reads and validates the configuration file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes and validates a configuration; name is used in messages
// and to resolve relative paths.
func Parse(name string, data []byte) (*Config, error) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty configuration", name)
		}
		return nil, prefixFile(name, yamlError(err))
	}
	if len(root.Content) == 0 || isNull(root.Content[0]) {
		return nil, fmt.Errorf("%s: empty configuration", name)
	}
	// A second document ("---") would be ignored by a single Decode: what
	// a user wrote there would silently not apply. An empty one (a
	// trailing "---") holds nothing that could be lost.
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		if len(extra.Content) > 0 && !isNull(extra.Content[0]) {
			return nil, prefixFile(name, errAt(extra.Content[0].Line, "a second YAML document: Restorable reads one document per file; merge it into the first or remove the ---"))
		}
	} else if !errors.Is(err, io.EOF) {
		return nil, prefixFile(name, yamlError(err))
	}
	c := &Config{
		File: absFile(name),
		// Defaults of values for which 0 is meaningful or an error are set
		// before decoding, so that a value written explicitly is kept.
		Collection: Collection{Concurrency: DefaultConcurrency, Jitter: DefaultJitter},
		Probing:    Probing{Concurrency: DefaultProbeParallel, KeepResults: DefaultProbeKeep},
		root:       &root,
	}
	if err := decodeStrict(&root, c, ""); err != nil {
		return nil, prefixFile(name, err)
	}
	c.applyDefaults()
	if err := c.validate(); err != nil {
		return nil, prefixFile(name, err)
	}
	c.resolvePaths()
	return c, nil
}

// absFile makes the configuration's path absolute, so that paths resolved
// against its directory are absolute too: "./helper.sh" next to a
// restorable.yml read from the working directory must not become
// "helper.sh", which exec looks up on PATH.
func absFile(name string) string {
	if name == "" {
		return ""
	}
	abs, err := filepath.Abs(name)
	if err != nil {
		return name
	}
	return abs
}

// lineOf returns the line of the value at path (map keys and list indexes)
// in the file, or of the deepest part of path that exists; 0 when the
// configuration was not read from a file.
func (c *Config) lineOf(path ...any) int {
	if c.root == nil {
		return 0
	}
	n := c.root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, p := range path {
		for n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		var next *yaml.Node
		switch k := p.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == k {
						line = n.Content[i].Line
						next = n.Content[i+1]
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && k < len(n.Content) {
				next = n.Content[k]
				line = next.Line
			}
		}
		if next == nil {
			return line
		}
		n = next
	}
	return line
}

// resolvePaths makes relative paths in the file relative to the file's
// directory, so that the exporter behaves the same from any working
// directory.
func (c *Config) resolvePaths() {
	c.History.Root = c.Path(c.History.Root)
	c.Probing.StateDir = c.Path(c.Probing.StateDir)
	if c.Locks != nil {
		c.Locks.DSNFile = c.Path(c.Locks.DSNFile)
	}
	c.PricesFile = c.Path(c.PricesFile)
	for _, s := range c.Sources {
		if s.Manifest != nil {
			s.Manifest.Dir = c.Path(s.Manifest.Dir)
		}
		if s.Restic != nil {
			s.Restic.PasswordFile = c.Path(s.Restic.PasswordFile)
			s.Restic.CacheDir = c.Path(s.Restic.CacheDir)
		}
		if s.PgBackRest != nil && s.PgBackRest.Config != "" {
			s.PgBackRest.Config = c.Path(s.PgBackRest.Config)
		}
		if s.Billing != nil {
			s.Billing.Path = c.Path(s.Billing.Path)
		}
		// A program given as a relative path ("tools/restic") is relative
		// to the file too; a bare name is looked up on PATH.
		if s.Restic != nil && strings.Contains(s.Restic.Binary, "/") {
			s.Restic.Binary = c.Path(s.Restic.Binary)
		}
		if s.PgBackRest != nil && strings.Contains(s.PgBackRest.Binary, "/") {
			s.PgBackRest.Binary = c.Path(s.PgBackRest.Binary)
		}
		c.resolveCloudPaths(s)
	}
}

// Path resolves p against the directory of the configuration file into an
// absolute path; an absolute p, or a URL such as s3://bucket/prefix, is
// returned unchanged.
func (c *Config) Path(p string) string {
	if p == "" || filepath.IsAbs(p) || strings.Contains(p, "://") || c.File == "" {
		return p
	}
	// Absolute, because programs such as pgbackrest resolve relative
	// paths from their own working directory.
	abs, err := filepath.Abs(filepath.Join(filepath.Dir(c.File), p))
	if err != nil {
		return filepath.Join(filepath.Dir(c.File), p)
	}
	return abs
}

func prefixFile(name string, err error) error {
	var le *lineError
	if errors.As(err, &le) {
		return fmt.Errorf("%s:%d: %s", name, le.line, le.msg)
	}
	return fmt.Errorf("%s: %w", name, err)
}

// lineError is an error at a known line of the file.
type lineError struct {
	line int
	msg  string
}

func (e *lineError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

func errAt(line int, format string, args ...any) error {
	return &lineError{line: line, msg: fmt.Sprintf(format, args...)}
}

func (c *Config) applyDefaults() {
	for _, e := range c.Environments {
		if e.Retention.Releases == 0 {
			e.Retention.Releases = DefaultReleasesKept
		}
		if e.ArchiveAfter == 0 {
			e.ArchiveAfter = DefaultArchiveAfter
		}
	}
	// Interval, timeouts, stats_interval, jitter, concurrency and
	// keep_results got their defaults before decoding (see Parse and the
	// UnmarshalYAML methods).
	if c.History.Root == "" {
		c.History.Root = DefaultHistoryRoot
	}
	c.applyCheckDefaults()
	c.applyEventDefaults()
	if c.Probing.StateDir == "" {
		c.Probing.StateDir = DefaultProbeStateDir
	}
}

func (c *Config) validate() error {
	if len(c.Environments) == 0 {
		return errAt(c.lineOf("environments"), "environments: at least one environment is required")
	}
	for _, name := range c.EnvNames() {
		e := c.Environments[name]
		if e.RPO <= 0 {
			return errAt(e.line, "environments.%s.rpo: must be greater than 0", name)
		}
		if e.Retention.Releases < 0 {
			return errAt(e.line, "environments.%s.retention.releases: must not be negative", name)
		}
		if e.Retention.MaxAge > 0 && e.Retention.MinAge > e.Retention.MaxAge {
			return errAt(e.line, "environments.%s.retention: min_age %s is larger than max_age %s", name, e.Retention.MinAge, e.Retention.MaxAge)
		}
		switch e.Require.Encryption {
		case EncryptionNone, EncryptionAny, EncryptionKMS:
		default:
			return errAt(e.line, "environments.%s.require.encryption: %q is not one of \"any\", \"kms\"", name, e.Require.Encryption)
		}
		if len(e.Require.KMSKeys) > 0 && e.Require.Encryption != EncryptionKMS {
			return errAt(e.line, "environments.%s.require.kms_keys: set encryption: kms to use a key allowlist", name)
		}
		for i, w := range e.QuietWindows {
			if _, err := ParseSchedule(w.Start); err != nil {
				return errAt(c.lineOf("environments", name, "quiet_windows", i, "start"), "environments.%s.quiet_windows[%d].start: %v", name, i, err)
			}
			if w.Duration <= 0 {
				return errAt(c.lineOf("environments", name, "quiet_windows", i, "duration"), "environments.%s.quiet_windows[%d].duration: must be greater than 0", name, i)
			}
		}
	}
	for _, cname := range sortedKeys(c.Classifications) {
		for _, env := range sortedKeys(c.Classifications[cname].MaxAge) {
			if _, ok := c.Environments[env]; !ok {
				return errAt(c.lineOf("classifications", cname, "max_age", env), "classifications.%s.max_age: unknown environment %q", cname, env)
			}
		}
		for _, env := range sortedKeys(c.Classifications[cname].MinLock) {
			if _, ok := c.Environments[env]; !ok {
				return errAt(c.lineOf("classifications", cname, "min_lock", env), "classifications.%s.min_lock: unknown environment %q", cname, env)
			}
		}
	}
	seen := map[string]int{}
	for i, s := range c.Sources {
		where, err := namedEntry("sources", "source", i, s.Name, s.line, seen)
		if err != nil {
			return err
		}
		if !slices.Contains(SourceTypes, s.Type) {
			return errAt(s.line, "%s.type: %q is not one of %s", where, s.Type, strings.Join(SourceTypes, ", "))
		}
		if s.Env != "" {
			if _, ok := c.Environments[s.Env]; !ok {
				return errAt(s.line, "%s.env: unknown environment %q", where, s.Env)
			}
		}
		if s.Classification != "" {
			if _, ok := c.Classifications[s.Classification]; !ok {
				return errAt(s.line, "%s.classification: unknown classification %q", where, s.Classification)
			}
		}
		if _, err := ParseSchedule(s.Interval); err != nil {
			return errAt(c.lineOf("sources", i, "interval"), "%s.interval: %v", where, err)
		}
		if s.Timeout <= 0 {
			return errAt(c.lineOf("sources", i, "timeout"), "%s.timeout: must be greater than 0 (every collection needs a deadline)", where)
		}
		if s.Restic != nil && s.Restic.StatsInterval <= 0 {
			return errAt(c.lineOf("sources", i, "restic", "stats_interval"), "%s.restic.stats_interval: must be greater than 0", where)
		}
		if err := s.validateOptions(where); err != nil {
			return err
		}
		if s.S3 != nil {
			if err := c.validateS3(i, s, where); err != nil {
				return err
			}
			s.S3.applyDefaults()
		}
		if s.Billing != nil && s.Billing.Attribution != nil {
			for _, b := range sortedKeys(s.Billing.Attribution.Buckets) {
				if env := s.Billing.Attribution.Buckets[b].Env; env != "" {
					if _, ok := c.Environments[env]; !ok {
						return errAt(c.lineOf("sources", i, "billing", "attribution", "buckets", b), "%s.billing.attribution.buckets.%s.env: unknown environment %q", where, b, env)
					}
				}
			}
		}
	}
	probes := map[string]int{}
	for i, p := range c.Probes {
		where, err := namedEntry("probes", "probe", i, p.Name, p.line, probes)
		if err != nil {
			return err
		}
		// The restore tests that sources report are probe runs named
		// KIND:..., which must not merge with a configured probe's.
		if strings.Contains(p.Name, ":") {
			return errAt(p.line, "%s.name: may not contain a colon: names with one are those of the restore tests sources report (aws-backup:...)", where)
		}
		if p.Kind == "" {
			return errAt(p.line, "%s.kind: required", where)
		}
		if p.Source != "" {
			if _, ok := seen[p.Source]; !ok {
				return errAt(p.line, "%s.source: unknown source %q", where, p.Source)
			}
		}
		if p.Env != "" {
			if _, ok := c.Environments[p.Env]; !ok {
				return errAt(p.line, "%s.env: unknown environment %q", where, p.Env)
			}
		}
		if p.Schedule != "" {
			if _, err := ParseSchedule(p.Schedule); err != nil {
				return errAt(c.lineOf("probes", i, "schedule"), "%s.schedule: %v", where, err)
			}
		}
		if p.Timeout <= 0 {
			return errAt(c.lineOf("probes", i, "timeout"), "%s.timeout: must be greater than 0 (every probe run needs a deadline)", where)
		}
		if p.OnDeploy != nil {
			if p.OnDeploy.Env != "" {
				if _, ok := c.Environments[p.OnDeploy.Env]; !ok {
					return errAt(c.lineOf("probes", i, "on_deploy", "env"), "%s.on_deploy.env: unknown environment %q", where, p.OnDeploy.Env)
				}
			} else if p.Env == "" && (p.Source == "" || c.Source(p.Source).Env == "") {
				return errAt(c.lineOf("probes", i, "on_deploy"), "%s.on_deploy.env: required when neither the probe nor its source names an environment", where)
			}
		}
	}
	if c.Collection.Concurrency < 1 {
		return errAt(c.lineOf("collection", "concurrency"), "collection.concurrency: must be at least 1")
	}
	if err := c.validateChecks(); err != nil {
		return err
	}
	if err := c.validateLocks(); err != nil {
		return err
	}
	if c.Probing.Concurrency < 1 {
		return errAt(c.lineOf("probing", "concurrency"), "probing.concurrency: must be at least 1")
	}
	if c.Probing.KeepResults < 1 {
		return errAt(c.lineOf("probing", "keep_results"), "probing.keep_results: must be at least 1")
	}
	if err := c.validateEvents(); err != nil {
		return err
	}
	if err := c.validatePrices(); err != nil {
		return err
	}
	return c.validateAccess()
}

func (s *Source) validateOptions(where string) error {
	set := map[string]bool{TypeManifest: s.Manifest != nil, TypeRestic: s.Restic != nil, TypePgBackRest: s.PgBackRest != nil,
		TypeWALG: s.WALG != nil, TypeVelero: s.Velero != nil, TypeAWSBackup: s.AWSBackup != nil,
		TypeCostExplorer: s.CostExplorer != nil, TypeS3Requests: s.S3Requests != nil, TypeS3: s.S3 != nil, TypeBilling: s.Billing != nil}
	for t, ok := range set {
		if ok && t != s.Type {
			return errAt(s.line, "%s.%s: options of another type; this source's type is %s", where, t, s.Type)
		}
	}
	switch s.Type {
	case TypeManifest:
		if s.Manifest == nil || s.Manifest.Dir == "" {
			return errAt(s.line, "%s.manifest.dir: required for a manifest source", where)
		}
	case TypeRestic:
		if s.Restic == nil || s.Restic.Repository == "" {
			return errAt(s.line, "%s.restic.repository: required for a restic source", where)
		}
		if s.Restic.PasswordFile == "" && s.Restic.PasswordEnv == "" {
			return errAt(s.line, "%s.restic: set password_file or password_env (a password is never accepted inline)", where)
		}
	case TypePgBackRest:
		if s.PgBackRest == nil {
			s.PgBackRest = &PgBackRestOptions{}
		}
	case TypeWALG, TypeVelero, TypeAWSBackup:
		if err := s.validateCloud(where); err != nil {
			return err
		}
	case TypeCostExplorer:
		if s.CostExplorer == nil {
			s.CostExplorer = defaultCostExplorer()
		}
		if err := s.CostExplorer.validate(where); err != nil {
			return errAt(s.line, "%v", err)
		}
	case TypeS3Requests:
		if s.S3Requests == nil || len(s.S3Requests.Buckets) == 0 {
			return errAt(s.line, "%s.s3requests.buckets: at least one bucket is required for an s3requests source", where)
		}
		if err := s.S3Requests.validate(where); err != nil {
			return errAt(s.line, "%v", err)
		}
	case TypeS3:
		if s.S3 == nil {
			return errAt(s.line, "%s.s3: bucket and key_template are required for an s3 source", where)
		}
	case TypeBilling:
		if s.Billing == nil || s.Billing.Path == "" {
			return errAt(s.line, "%s.billing.path: required for a billing source", where)
		}
		if s.Billing.Format != "" && !slices.Contains(BillingFormats, s.Billing.Format) {
			return errAt(s.line, "%s.billing.format: %q is not one of %s", where, s.Billing.Format, strings.Join(BillingFormats, ", "))
		}
		if s.DatasetFrom != "" {
			return errAt(s.line, "%s.dataset_from: does not apply to a billing source; use billing.attribution", where)
		}
	}
	if s.DatasetFrom != "" {
		if !validDatasetFrom(s.DatasetFrom) {
			return errAt(s.line, "%s.dataset_from: %q is not host, path, stanza, schedule, vault or tag:KEY", where, s.DatasetFrom)
		}
		// Each collector reads the dataset from what its catalog has: a
		// value another type understands would fail the start.
		switch {
		case s.Type == TypeManifest:
			return errAt(s.line, "%s.dataset_from: does not apply to a manifest source (each manifest record names its dataset; set dataset to fix one)", where)
		case s.Type == TypeCostExplorer || s.Type == TypeS3Requests:
			return errAt(s.line, "%s.dataset_from: does not apply to a %s source; set dataset, or a dataset per bucket (s3requests)", where, s.Type)
		case s.Type == TypeS3:
			return errAt(s.line, "%s.dataset_from: does not apply to an s3 source (name the dataset in s3.key_template as {dataset}, or set dataset to fix one)", where)
		case s.Type == TypeRestic && s.DatasetFrom == "stanza":
			return errAt(s.line, "%s.dataset_from: stanza does not apply to a restic source; use host, path or tag:KEY", where)
		case s.Type == TypePgBackRest && (s.DatasetFrom == "host" || s.DatasetFrom == "path"):
			return errAt(s.line, "%s.dataset_from: %s does not apply to a pgbackrest source; use stanza or tag:KEY (a backup annotation)", where, s.DatasetFrom)
		case (s.Type == TypeRestic || s.Type == TypePgBackRest) && (s.DatasetFrom == "schedule" || s.DatasetFrom == "vault"):
			return errAt(s.line, "%s.dataset_from: %s does not apply to a %s source", where, s.DatasetFrom, s.Type)
		}
		if err := s.validateCloudDatasetFrom(where); err != nil {
			return err
		}
		if s.Dataset != "" {
			return errAt(s.line, "%s: set dataset or dataset_from, not both", where)
		}
	}
	return nil
}

func validDatasetFrom(v string) bool {
	switch v {
	case "host", "path", "stanza", "schedule", "vault":
		return true
	}
	k, ok := strings.CutPrefix(v, "tag:")
	return ok && k != ""
}

// EnvNames returns the environment names in sorted order.
func (c *Config) EnvNames() []string {
	names := make([]string, 0, len(c.Environments))
	for n := range c.Environments {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Source returns the source with the given name, or nil.
func (c *Config) Source(name string) *Source {
	for _, s := range c.Sources {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// MinScheduleInterval is the shortest time between two runs a schedule may
// ask for. robfig/cron counts in whole seconds: "@every 1ns" or
// "@every 1500ms" would silently run every second, so they are errors.
const MinScheduleInterval = time.Second

// ParseSchedule parses a schedule: a duration ("5m", meaning every five
// minutes), "@every 5m", a descriptor such as @hourly, or a five-field
// robfig/cron spec (optionally after CRON_TZ=Zone). A duration must be a
// whole number of seconds and at least MinScheduleInterval; a cron spec
// that never fires (30 February) is an error.
func ParseSchedule(spec string) (cron.Schedule, error) {
	s, err := parseSchedule(spec)
	if err != nil {
		return nil, err
	}
	// The JSON Schema checks SchedulePattern; the loader accepts nothing
	// outside it ("@every" after a time zone, which would skip the
	// minimum, tabs, extra spaces, descriptors robfig/cron reads loosely).
	if !regexp.MustCompile(SchedulePattern).MatchString(spec) {
		return nil, fmt.Errorf("invalid schedule %q: use a duration (5m), @every 5m, a descriptor such as @hourly, or five cron fields separated by spaces", spec)
	}
	return s, nil
}

func parseSchedule(spec string) (cron.Schedule, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, errors.New("empty schedule")
	}
	every, isEvery := strings.CutPrefix(spec, "@every ")
	if !isEvery && spec[0] >= '0' && spec[0] <= '9' && !strings.ContainsAny(spec, " \t") {
		// A bare duration, as most exporters write intervals.
		every, isEvery = spec, true
	}
	if isEvery {
		d, err := ParseDuration(every)
		if err != nil {
			return nil, fmt.Errorf("invalid schedule %q: %v", spec, err)
		}
		if d < MinScheduleInterval {
			return nil, fmt.Errorf("invalid schedule %q: runs must be at least %s apart", spec, Duration(MinScheduleInterval))
		}
		if d%time.Second != 0 {
			return nil, fmt.Errorf("invalid schedule %q: use a whole number of seconds", spec)
		}
		return cron.Every(d), nil
	}
	// robfig/cron slices "TZ=Zone" up to the first space and panics when
	// there is none.
	if (strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=")) && !strings.Contains(spec, " ") {
		return nil, fmt.Errorf("invalid schedule %q: a time zone must be followed by a space and the schedule", spec)
	}
	p := cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
	s, err := p.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("invalid schedule %q: %v", spec, err)
	}

	// robfig/cron gives up looking five years ahead and returns the zero
	// time; such a schedule would silently never run.
	if s.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return nil, fmt.Errorf("invalid schedule %q: it never fires", spec)
	}
	return s, nil
}

// sortedKeys returns the keys of m in order, so that the first error of a
// map section is the same on every run.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// namedEntry checks the name of entry i of a list whose entries are named
// (sources, probes, principals): it is required and unique. seen maps the
// names so far to their lines and gains this one. It returns how messages
// name the entry, "list[i] (name)".
func namedEntry(list, what string, i int, name string, line int, seen map[string]int) (string, error) {
	where := fmt.Sprintf("%s[%d]", list, i)
	if name == "" {
		return where, errAt(line, "%s.name: required", where)
	}
	where = fmt.Sprintf("%s[%d] (%s)", list, i, name)
	if prev, dup := seen[name]; dup {
		return where, errAt(line, "%s.name: duplicate of the %s on line %d", where, what, prev)
	}
	seen[name] = line
	return where, nil
}
