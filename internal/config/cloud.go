package config

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Defaults of the walg, velero and awsbackup sources.
const (
	DefaultVeleroNamespace = "velero"
	DefaultVeleroPageSize  = 500
	DefaultAWSBackupJobs   = Duration(7 * 24 * time.Hour)
)

// WALGOptions configures a walg source: `wal-g backup-list --detail
// --json` for the backups and `wal-g wal-verify integrity timeline --json`
// for the continuity of the WAL archive.
type WALGOptions struct {
	Binary       string   `yaml:"binary,omitempty" doc:"wal-g program (default wal-g on PATH)."`
	Config       string   `yaml:"config,omitempty" doc:"WAL-G configuration file, passed as --config (absolute, or relative to this file)."`
	RunAs        string   `yaml:"run_as,omitempty" doc:"Run wal-g as this user through runuser (when the exporter runs as root)."`
	ExtraEnv     []string `yaml:"env,omitempty" doc:"Names of environment variables passed to wal-g (WALG_S3_PREFIX, AWS_ACCESS_KEY_ID, PGHOST, ...); their values are never logged."`
	WALVerify    bool     `yaml:"wal_verify,omitempty" doc:"Run wal-g wal-verify for the WAL archive's continuity (default true; it needs a connection to the database cluster)."`
	StorageClass string   `yaml:"storage_class,omitempty" doc:"Storage class of the backups, for cost and tiering."`
	Region       string   `yaml:"region,omitempty" doc:"Region of the storage."`
	Encrypted    bool     `yaml:"encrypted,omitempty" doc:"WAL-G encrypts the backups (libsodium, OpenPGP or a KMS key)."`
	KeyID        string   `yaml:"key_id,omitempty" doc:"KMS key protecting the storage, when there is one."`
	Immutable    bool     `yaml:"immutable,omitempty" doc:"The storage is object-locked."`
}

// UnmarshalYAML sets the defaults of a walg source before decoding it.
func (o *WALGOptions) UnmarshalYAML(n *yaml.Node) error {
	type plain WALGOptions
	p := plain{WALVerify: true}
	if err := n.Decode(&p); err != nil {
		return yamlError(err)
	}
	*o = WALGOptions(p)
	return nil
}

// VeleroOptions configures a velero source. Backups, schedules and backup
// storage locations are read from the Kubernetes API (a kubeconfig file,
// or the in-cluster service account when none is given), or backups alone
// from `velero backup get -o json` output: a file, or the velero program.
type VeleroOptions struct {
	Kubeconfig string   `yaml:"kubeconfig,omitempty" doc:"kubeconfig file whose current context reaches the cluster; empty uses the in-cluster service account (token and CA under /var/run/secrets/kubernetes.io/serviceaccount)."`
	Namespace  string   `yaml:"namespace,omitempty" doc:"Namespace of Velero's objects (default velero)."`
	PageSize   int      `yaml:"page_size,omitempty" doc:"Objects per list request to the API (limit/continue paging; default 500)." minimum:"1"`
	File       string   `yaml:"file,omitempty" doc:"Read the backups from this file of velero backup get -o json output instead of the API."`
	Binary     string   `yaml:"binary,omitempty" doc:"Run this velero program (velero backup get -o json) instead of reading the API."`
	ExtraEnv   []string `yaml:"env,omitempty" doc:"Names of environment variables passed to the velero program (KUBECONFIG, ...)."`
	Region     string   `yaml:"region,omitempty" doc:"Region of the backup storage, when the storage location does not say (its config.region)."`
	Encrypted  bool     `yaml:"encrypted,omitempty" doc:"The backup storage is encrypted."`
	KeyID      string   `yaml:"key_id,omitempty" doc:"KMS key protecting the backup storage."`
	Immutable  bool     `yaml:"immutable,omitempty" doc:"The backup storage is object-locked."`
}

// UnmarshalYAML sets the defaults of a velero source before decoding it.
func (o *VeleroOptions) UnmarshalYAML(n *yaml.Node) error {
	type plain VeleroOptions
	p := plain{Namespace: DefaultVeleroNamespace, PageSize: DefaultVeleroPageSize}
	if err := n.Decode(&p); err != nil {
		return yamlError(err)
	}
	*o = VeleroOptions(p)
	return nil
}

// AWSBackupOptions configures an awsbackup source: the vaults of one
// region, their recovery points, and the backup and restore jobs.
type AWSBackupOptions struct {
	Region      string           `yaml:"region,omitempty" doc:"AWS region (default: AWS_REGION or the shared config)."`
	Profile     string           `yaml:"profile,omitempty" doc:"Shared-config profile; credentials come from the default chain."`
	Endpoint    string           `yaml:"endpoint,omitempty" doc:"Base URL that replaces AWS Backup's (a VPC endpoint, a test server)."`
	Vaults      []AWSBackupVault `yaml:"vaults,omitempty" doc:"Vaults to collect and how their names give env and dataset; empty collects every vault."`
	JobsWindow  Duration         `yaml:"jobs_window,omitempty" doc:"How far back backup and restore jobs are listed (default 7d; 0s lists none)."`
	MaxAttempts int              `yaml:"max_attempts,omitempty" doc:"Attempts of one API call, throttling retries included (default 5)." minimum:"1"`
}

// AWSBackupVault selects vaults by name or by a regular expression whose
// named groups env and dataset give a vault's backups their env and
// dataset.
type AWSBackupVault struct {
	Name      string `yaml:"name,omitempty" doc:"A vault's exact name."`
	NameRegex string `yaml:"name_regex,omitempty" doc:"Regular expression (Go syntax) matching whole vault names; its named groups env and dataset, when present, set them."`
	Env       string `yaml:"env,omitempty" doc:"Environment of the matching vaults' backups (instead of a group)."`
	Dataset   string `yaml:"dataset,omitempty" doc:"Dataset of the matching vaults' backups (instead of a group)."`
}

// Regexp compiles NameRegex anchored at both ends; nil when the vault is
// selected by Name.
func (v *AWSBackupVault) Regexp() (*regexp.Regexp, error) {
	if v.NameRegex == "" {
		return nil, nil
	}
	// The expression as written first, so that an error quotes it.
	if _, err := regexp.Compile(v.NameRegex); err != nil {
		return nil, err
	}
	return regexp.Compile(`^(?:` + v.NameRegex + `)$`)
}

// UnmarshalYAML sets the defaults of an awsbackup source before decoding it.
func (o *AWSBackupOptions) UnmarshalYAML(n *yaml.Node) error {
	type plain AWSBackupOptions
	p := plain{JobsWindow: DefaultAWSBackupJobs, MaxAttempts: 5}
	if err := n.Decode(&p); err != nil {
		return yamlError(err)
	}
	*o = AWSBackupOptions(p)
	return nil
}

// validateCloud checks the options of a walg, velero or awsbackup source.
func (s *Source) validateCloud(where string) error {
	switch s.Type {
	case TypeWALG:
		if s.WALG == nil {
			s.WALG = &WALGOptions{WALVerify: true}
		}
		if err := envNames(s.WALG.ExtraEnv); err != nil {
			return errAt(s.line, "%s.walg.env: %v", where, err)
		}
	case TypeVelero:
		if s.Velero == nil {
			s.Velero = &VeleroOptions{Namespace: DefaultVeleroNamespace, PageSize: DefaultVeleroPageSize}
		}
		o := s.Velero
		if o.File != "" && o.Binary != "" {
			return errAt(s.line, "%s.velero: set file or binary, not both", where)
		}
		if o.Kubeconfig != "" && (o.File != "" || o.Binary != "") {
			return errAt(s.line, "%s.velero.kubeconfig: applies to the API only; the velero program reads KUBECONFIG (pass it with env)", where)
		}
		if o.PageSize < 1 {
			return errAt(s.line, "%s.velero.page_size: must be at least 1", where)
		}
		if o.Namespace == "" {
			return errAt(s.line, "%s.velero.namespace: must not be empty", where)
		}
		if err := envNames(o.ExtraEnv); err != nil {
			return errAt(s.line, "%s.velero.env: %v", where, err)
		}
	case TypeAWSBackup:
		if s.AWSBackup == nil {
			s.AWSBackup = &AWSBackupOptions{JobsWindow: DefaultAWSBackupJobs, MaxAttempts: 5}
		}
		o := s.AWSBackup
		if o.MaxAttempts < 1 {
			return errAt(s.line, "%s.awsbackup.max_attempts: must be at least 1", where)
		}
		if o.Endpoint != "" && !strings.HasPrefix(o.Endpoint, "https://") && !strings.HasPrefix(o.Endpoint, "http://") {
			return errAt(s.line, "%s.awsbackup.endpoint: %q is not an http:// or https:// URL", where, o.Endpoint)
		}
		for i := range o.Vaults {
			v := &o.Vaults[i]
			at := fmt.Sprintf("%s.awsbackup.vaults[%d]", where, i)
			if (v.Name == "") == (v.NameRegex == "") {
				return errAt(s.line, "%s: set name or name_regex (one of them)", at)
			}
			re, err := v.Regexp()
			if err != nil {
				return errAt(s.line, "%s.name_regex: %v", at, err)
			}
			if re == nil {
				continue
			}
			for _, g := range re.SubexpNames()[1:] {
				switch g {
				case "":
				case "env", "dataset":
					if (g == "env" && v.Env != "") || (g == "dataset" && v.Dataset != "") {
						return errAt(s.line, "%s: the group %s and %s: both set the %s; keep one", at, g, g, g)
					}
				default:
					return errAt(s.line, "%s.name_regex: named group %q is neither env nor dataset", at, g)
				}
			}
		}
	}
	return nil
}

// validateCloudDatasetFrom rejects a dataset_from the source's type cannot
// read.
func (s *Source) validateCloudDatasetFrom(where string) error {
	_, isTag := strings.CutPrefix(s.DatasetFrom, "tag:")
	ok := isTag
	switch s.Type {
	case TypeVelero:
		ok = ok || s.DatasetFrom == "schedule"
	case TypeAWSBackup:
		ok = ok || s.DatasetFrom == "vault"
	case TypeWALG:
	default:
		return nil
	}
	if !ok {
		hint := map[string]string{TypeWALG: "tag:KEY (a key of the backup's user_data)", TypeVelero: "schedule or tag:KEY (a label of the backup)", TypeAWSBackup: "vault or tag:KEY (a tag of the recovery point)"}[s.Type]
		return errAt(s.line, "%s.dataset_from: %s does not apply to a %s source; use %s", where, s.DatasetFrom, s.Type, hint)
	}
	return nil
}

// envNames checks names of environment variables passed to a program.
func envNames(names []string) error {
	for _, n := range names {
		if !regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`).MatchString(n) {
			return fmt.Errorf("%q is not the name of an environment variable (values are never written here; name the variable)", n)
		}
	}
	return nil
}

// resolveCloudPaths makes the files of walg and velero sources relative to
// the configuration file.
func (c *Config) resolveCloudPaths(s *Source) {
	if o := s.WALG; o != nil {
		o.Config = c.Path(o.Config)
		if strings.Contains(o.Binary, "/") {
			o.Binary = c.Path(o.Binary)
		}
	}
	if o := s.Velero; o != nil {
		o.Kubeconfig = c.Path(o.Kubeconfig)
		o.File = c.Path(o.File)
		if strings.Contains(o.Binary, "/") {
			o.Binary = c.Path(o.Binary)
		}
	}
}
