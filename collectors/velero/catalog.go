package velero

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
)

// Agent is the name backups of this collector carry.
const Agent = "velero"

// Labels with a meaning: Velero's own, and the ones a user sets with
// `velero backup create --labels release=v1.4,env=prod`.
const (
	LabelSchedule        = "velero.io/schedule-name"
	LabelStorageLocation = "velero.io/storage-location"
	LabelRelease         = "release"
	LabelEnv             = "env"
)

// Tags the collector adds to every backup.
const (
	TagPhase    = "velero.phase"
	TagWarnings = "velero.warnings"
	TagErrors   = "velero.errors"
)

// Unscheduled is the dataset of backups that no schedule made, when the
// dataset comes from the schedule.
const Unscheduled = "unscheduled"

// phaseStatus maps a Velero backup phase to a status. Phases still at work
// (including those that already know they will end partially failed) are
// running; a phase this collector does not know, such as one a later
// Velero adds, is running too: neither good nor a failure, with its text
// kept in the velero.phase tag. Deleting backups are left out (ok false):
// they are on their way out and no longer restorable.
func phaseStatus(phase string) (s model.Status, ok bool) {
	switch phase {
	case "Completed":
		return model.StatusSucceeded, true
	case "PartiallyFailed":
		return model.StatusPartial, true
	case "Failed", "FailedValidation":
		return model.StatusFailed, true
	case "Deleting":
		return "", false
	default: // "", New, InProgress, WaitingForPluginOperations*, Finalizing*, unknown
		return model.StatusRunning, true
	}
}

// mapper turns Velero objects into model records for one source.
type mapper struct {
	src        *config.Source
	opts       *config.VeleroOptions
	observedAt time.Time
	locations  map[string]*storageLocation
	// intervals is the longest time between two runs of each schedule.
	intervals map[string]time.Duration
}

// newMapper prepares the mapping of one collection; warn is told of each
// schedule whose spec cannot be read (it then gives its backups no
// interval, unless the collector remembers one: Collector.rememberIntervals).
func newMapper(src *config.Source, opts *config.VeleroOptions, observedAt time.Time, locs []storageLocation, scheds []schedule, warn func(schedule string, err error)) *mapper {
	m := &mapper{src: src, opts: opts, observedAt: observedAt, locations: map[string]*storageLocation{}, intervals: map[string]time.Duration{}}
	for i := range locs {
		m.locations[locs[i].Metadata.Name] = &locs[i]
	}
	for _, s := range scheds {
		d, err := ScheduleInterval(s.Spec.Schedule, observedAt)
		if err != nil {
			warn(s.Metadata.Name, err)
			continue
		}
		m.intervals[s.Metadata.Name] = d
	}
	return m
}

func (m *mapper) catalog(bs []backup, locs []storageLocation) *model.Catalog {
	cat := &model.Catalog{Backups: make([]model.Backup, 0, len(bs)), Repositories: make([]model.Repository, 0, len(locs))}
	for i := range bs {
		if b, ok := m.backup(&bs[i]); ok {
			cat.Backups = append(cat.Backups, b)
		}
	}
	for i := range locs {
		cat.Repositories = append(cat.Repositories, m.repository(&locs[i]))
	}
	return cat
}

func (m *mapper) backup(v *backup) (model.Backup, bool) {
	st, ok := phaseStatus(v.Status.Phase)
	if !ok || v.Metadata.DeletionTimestamp != nil {
		return model.Backup{}, false
	}
	labels := v.Metadata.Labels
	loc := v.Spec.StorageLocation
	if loc == "" {
		loc = labels[LabelStorageLocation]
	}
	b := model.Backup{
		Source:      m.src.Name,
		Env:         m.src.Env,
		Dataset:     m.dataset(labels),
		ID:          v.Metadata.Name,
		Type:        model.BackupSnapshot,
		Release:     labels[LabelRelease],
		Start:       utc(v.Status.StartTimestamp),
		End:         utc(v.Status.CompletionTimestamp),
		Status:      st,
		Location:    loc,
		Region:      m.opts.Region,
		Encrypted:   m.opts.Encrypted,
		KeyID:       m.opts.KeyID,
		Immutable:   m.opts.Immutable,
		RetainUntil: utc(v.Status.Expiration),
		// The schedule that made the backup says how often its series
		// is expected: the late check's interval, unless the
		// configuration sets one. A schedule deleted since keeps the
		// last interval read of it (Collector.rememberIntervals).
		Detail:         &model.BackupDetail{Agent: Agent, ExpectedInterval: m.intervals[labels[LabelSchedule]]},
		Classification: m.src.Classification,
		Tags:           m.tags(v),
	}
	if b.Env == "" {
		b.Env = labels[LabelEnv]
	}
	if b.Start.IsZero() && v.Metadata.CreationTimestamp != nil {
		b.Start = v.Metadata.CreationTimestamp.UTC()
	}
	if l := m.locations[loc]; l != nil {
		if r := l.Spec.Config["region"]; r != "" {
			b.Region = r
		}
		// The AWS plugin writes every object of the backup with SSE-KMS
		// under this key.
		if k := l.Spec.Config["kmsKeyId"]; k != "" && b.KeyID == "" {
			b.Encrypted, b.KeyID = true, k
		}
	}
	switch st {
	case model.StatusFailed:
		b.Error = failure(v)
	case model.StatusPartial:
		b.Error = fmt.Sprintf("%d errors, %d warnings (velero backup logs %s)", v.Status.Errors, v.Status.Warnings, v.Metadata.Name)
	}
	return b, true
}

func failure(v *backup) string {
	var parts []string
	if v.Status.FailureReason != "" {
		parts = append(parts, v.Status.FailureReason)
	}
	parts = append(parts, v.Status.ValidationErrors...)
	if len(parts) == 0 {
		return "phase " + v.Status.Phase
	}
	return strings.Join(parts, "; ")
}

// dataset reads a backup's dataset: the source's fixed one, a label
// (dataset_from tag:KEY), else the schedule that made it.
func (m *mapper) dataset(labels map[string]string) string {
	if m.src.Dataset != "" {
		return m.src.Dataset
	}
	if key, ok := strings.CutPrefix(m.src.DatasetFrom, "tag:"); ok {
		if v := labels[key]; v != "" {
			return v
		}
	}
	if s := labels[LabelSchedule]; s != "" {
		return s
	}
	return Unscheduled
}

func (m *mapper) tags(v *backup) map[string]string {
	out := make(map[string]string, len(m.src.Labels)+len(v.Metadata.Labels)+4)
	for k, val := range m.src.Labels {
		out[k] = val
	}
	for k, val := range v.Metadata.Labels {
		out[k] = val
	}
	out[TagPhase] = v.Status.Phase
	if v.Status.Phase == "" {
		out[TagPhase] = "New"
	}
	if v.Status.Warnings > 0 {
		out[TagWarnings] = strconv.Itoa(v.Status.Warnings)
	}
	if v.Status.Errors > 0 {
		out[TagErrors] = strconv.Itoa(v.Status.Errors)
	}
	return out
}

// Repository status codes of a backup storage location.
const (
	StatusAvailable   = 0
	StatusUnavailable = 1
	StatusUnknown     = 2
)

// repository describes one backup storage location: where it is, whether
// Velero can reach it.
func (m *mapper) repository(l *storageLocation) model.Repository {
	r := model.Repository{
		Source:     m.src.Name,
		Env:        m.src.Env,
		Name:       l.Metadata.Name,
		ObservedAt: m.observedAt,
		Region:     m.opts.Region,
		Status:     l.Status.Phase,
		// Velero reports no locks of a storage location.
		LocksUnknown: true,
	}
	if reg := l.Spec.Config["region"]; reg != "" {
		r.Region = reg
	}
	if ob := l.Spec.ObjectStorage; ob != nil {
		r.Location = l.Spec.Provider + ":" + strings.TrimSuffix(ob.Bucket+"/"+ob.Prefix, "/")
	}
	switch l.Status.Phase {
	case "Available":
		r.Healthy, r.StatusCode = true, StatusAvailable
	case "Unavailable":
		r.StatusCode = StatusUnavailable
	default:
		r.StatusCode = StatusUnknown
		if r.Status == "" {
			r.Status = "not validated yet"
		}
	}
	if l.Status.Message != "" {
		r.Status += ": " + l.Status.Message
	}
	if l.Spec.AccessMode == "ReadOnly" {
		r.Status += " (read-only)"
	}
	return r
}

// ScheduleInterval is the longest time between two consecutive runs of a
// Velero schedule (a cron spec, optionally after CRON_TZ=, or @every)
// over the year after from: the age its newest backup can reach just
// before the next run, and so the least RPO the schedule can meet. A spec
// without CRON_TZ is read in UTC, the time zone of Velero's server image.
func ScheduleInterval(spec string, from time.Time) (time.Duration, error) {
	full := spec
	if !strings.HasPrefix(spec, "CRON_TZ=") && !strings.HasPrefix(spec, "TZ=") {
		full = "CRON_TZ=UTC " + spec
	}
	s, err := cron.ParseStandard(full)
	if err != nil {
		return 0, fmt.Errorf("schedule %q: %w", spec, err)
	}
	end := from.AddDate(1, 0, 0)
	prev := s.Next(from)
	if prev.IsZero() {
		return 0, fmt.Errorf("schedule %q never fires", spec)
	}
	var longest time.Duration
	for i := 0; i < 100_000 && prev.Before(end); i++ {
		next := s.Next(prev)
		if next.IsZero() {
			break
		}
		longest = max(longest, next.Sub(prev))
		prev = next
	}
	if longest == 0 {
		return 0, fmt.Errorf("schedule %q fires once a year or less", spec)
	}
	return longest, nil
}

func utc(t *time.Time) time.Time {
	if t == nil || t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}
