package config

import (
	"net/url"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/restorable/restorable/internal/keytemplate"
)

// Modes of reading an s3 source's catalog.
const (
	S3ModeList      = "list"
	S3ModeInventory = "inventory"
)

// DefaultS3Concurrency is how many prefixes an s3 source lists at once.
const DefaultS3Concurrency = 4

// DefaultInventoryDiscovery is how long an s3 source in inventory mode
// reads the newest report it found before it looks for a newer one.
const DefaultInventoryDiscovery = Duration(time.Hour)

// S3Options configures an s3 source: backups stored as objects in a
// bucket, one backup per object.
type S3Options struct {
	Bucket      string       `yaml:"bucket" doc:"Bucket holding the backups." required:"true"`
	Prefixes    []string     `yaml:"prefixes,omitempty" doc:"Key prefixes to read, listed concurrently; default: the key template's literal text before its first placeholder."`
	KeyTemplate string       `yaml:"key_template" doc:"Maps each key to env, dataset, release, type and time, such as \"{env}/{dataset}/{release}/{time}.dump\" (docs/collectors.md lists the placeholders and time formats)." required:"true"`
	BackupType  string       `yaml:"backup_type,omitempty" doc:"Type of every backup when the template has no {type} (default full)." enum:",full,diff,incr,snapshot,logical,wal"`
	Endpoint    string       `yaml:"endpoint,omitempty" doc:"Base URL of an S3-compatible store (default: AWS)."`
	Region      string       `yaml:"region,omitempty" doc:"Region of the client (default: AWS_REGION or the shared config; us-east-1 with an endpoint)."`
	Profile     string       `yaml:"profile,omitempty" doc:"Shared config profile of the credentials (default: the default chain)."`
	PathStyle   bool         `yaml:"path_style,omitempty" doc:"Address the bucket in the path (endpoint/bucket/key), as most S3-compatible stores need."`
	Mode        string       `yaml:"mode,omitempty" doc:"How the catalog is read: list (ListObjectsV2, default) or inventory (the newest S3 Inventory report)." enum:",list,inventory"`
	Inventory   *S3Inventory `yaml:"inventory,omitempty" doc:"Where the S3 Inventory reports of the bucket are delivered (mode: inventory)."`
	Concurrency int          `yaml:"concurrency,omitempty" doc:"Prefixes (list) or inventory data files (inventory) read at once (default 4)." minimum:"1"`
}

// S3Inventory locates the S3 Inventory reports of a bucket. Reports sit
// at <bucket>/<prefix>/<source bucket>/<config>/<YYYY-MM-DDTHH-MMZ>/manifest.json.
type S3Inventory struct {
	Bucket string `yaml:"bucket,omitempty" doc:"Destination bucket of the reports (default: the source's bucket)."`
	Prefix string `yaml:"prefix,omitempty" doc:"Destination prefix of the reports, as set in the inventory configuration."`
	Config string `yaml:"config,omitempty" doc:"Inventory configuration id (required unless manifest is set)."`
	// DiscoveryInterval bounds how often the report folders are listed:
	// reports come daily or weekly, and the one found is read again
	// (GetObject only) until the interval has passed.
	DiscoveryInterval Duration `yaml:"discovery_interval,omitempty" doc:"How long the newest report found is read again before the report folders are listed (one ListObjectsV2) for a newer one; 0 lists them at every collection (default 1h)."`
	Manifest          string   `yaml:"manifest,omitempty" doc:"Key of a manifest.json in the inventory bucket to read at every collection instead of the newest report: no ListObjectsV2 at all (for a report a job copies to a fixed key); not with prefix, config or discovery_interval."`

	// discoverySet says the file set discovery_interval, whatever its value.
	discoverySet bool
}

// UnmarshalYAML sets the discovery interval's default before decoding,
// so that an explicit 0 stays 0, and notes whether the file set it.
func (o *S3Inventory) UnmarshalYAML(n *yaml.Node) error {
	type plain S3Inventory
	p := plain{DiscoveryInterval: DefaultInventoryDiscovery}
	if err := n.Decode(&p); err != nil {
		return yamlError(err)
	}
	*o = S3Inventory(p)
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "discovery_interval" {
			o.discoverySet = true
		}
	}
	return nil
}

// validateS3 checks an s3 source's options (validateOptions has made sure
// they are present); i is the source's index, for the lines of messages.
func (c *Config) validateS3(i int, s *Source, where string) error {
	o := s.S3
	at := func(keys ...any) int { return c.lineOf(append([]any{"sources", i, "s3"}, keys...)...) }
	if o.Bucket == "" {
		return errAt(at("bucket"), "%s.s3.bucket: required", where)
	}
	if o.KeyTemplate == "" {
		return errAt(at("key_template"), "%s.s3.key_template: required", where)
	}
	tpl, err := keytemplate.Parse(o.KeyTemplate)
	if err != nil {
		return errAt(at("key_template"), "%s.s3.key_template: %v", where, err)
	}
	if s.Env == "" && !tpl.Has("env") {
		return errAt(at("key_template"), "%s: set env, or name the environment in s3.key_template as {env}", where)
	}
	if s.Dataset == "" && !tpl.Has("dataset") {
		return errAt(at("key_template"), "%s: set dataset, or name the dataset in s3.key_template as {dataset}", where)
	}
	if o.BackupType != "" && tpl.Has("type") {
		return errAt(at("backup_type"), "%s.s3.backup_type: the key template names the type as {type}; set one or the other", where)
	}
	if o.Endpoint != "" {
		u, err := url.Parse(o.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return errAt(at("endpoint"), "%s.s3.endpoint: %q is not an http(s) URL", where, o.Endpoint)
		}
		if u.User != nil {
			return errAt(at("endpoint"), "%s.s3.endpoint: credentials do not belong in the URL; use the default credential chain", where)
		}
	}
	for j, p := range o.Prefixes {
		if !strings.HasPrefix(p, tpl.Prefix()) && !strings.HasPrefix(tpl.Prefix(), p) {
			return errAt(at("prefixes", j), "%s.s3.prefixes[%d]: %q can hold no key the template %q matches", where, j, p, o.KeyTemplate)
		}
		// Keys under a prefix that lies within another would be listed,
		// and counted as backups, twice.
		if k := slices.IndexFunc(o.Prefixes[:j], func(q string) bool { return strings.HasPrefix(p, q) || strings.HasPrefix(q, p) }); k >= 0 {
			return errAt(at("prefixes", j), "%s.s3.prefixes[%d]: %q overlaps prefixes[%d] %q (keys would be read twice)", where, j, p, k, o.Prefixes[k])
		}
	}
	switch o.Mode {
	case S3ModeList:
		if o.Inventory != nil {
			return errAt(at("inventory"), "%s.s3.inventory: set mode: inventory to read the catalog from it", where)
		}
	case S3ModeInventory:
		if o.Inventory == nil {
			return errAt(at("mode"), "%s.s3.inventory.config: required with mode: inventory (or name one report's manifest.json in inventory.manifest)", where)
		}
		inv := o.Inventory
		if inv.Config == "" && inv.Manifest == "" {
			return errAt(at("inventory"), "%s.s3.inventory.config: required with mode: inventory (or name one report's manifest.json in inventory.manifest)", where)
		}
		if strings.Contains(inv.Config, "/") {
			return errAt(at("inventory", "config"), "%s.s3.inventory.config: %q is an id, not a path", where, inv.Config)
		}
		if inv.Manifest != "" {
			for _, k := range []struct {
				key string
				set bool
			}{{"prefix", inv.Prefix != ""}, {"config", inv.Config != ""}, {"discovery_interval", inv.discoverySet}} {
				if k.set {
					return errAt(at("inventory", k.key), "%s.s3.inventory.%s: with inventory.manifest no report is looked for; set one or the other", where, k.key)
				}
			}
		}
	}
	if o.Concurrency < 1 {
		return errAt(at("concurrency"), "%s.s3.concurrency: must be at least 1", where)
	}
	return nil
}

// applyS3Defaults fills the defaults of an s3 source's options.
func (o *S3Options) applyDefaults() {
	if o.Mode == "" {
		o.Mode = S3ModeList
	}
	if o.BackupType == "" {
		o.BackupType = "full"
	}
	if o.Concurrency == 0 {
		o.Concurrency = DefaultS3Concurrency
	}
	if o.Inventory != nil && o.Inventory.Bucket == "" {
		o.Inventory.Bucket = o.Bucket
	}
}

// UnmarshalYAML sets the defaults of an s3 source that an explicit value
// must not silently replace before decoding it.
func (o *S3Options) UnmarshalYAML(n *yaml.Node) error {
	type plain S3Options
	p := plain{Concurrency: DefaultS3Concurrency, Mode: S3ModeList}
	if err := n.Decode(&p); err != nil {
		return yamlError(err)
	}
	*o = S3Options(p)
	return nil
}
