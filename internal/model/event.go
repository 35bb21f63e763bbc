package model

import (
	"slices"
	"time"
)

// EventKind is what a release event says happened.
type EventKind string

// The release events Restorable understands.
const (
	// EventDeploy is a release deployed (or a deployment attempted) to an
	// environment.
	EventDeploy EventKind = "deploy"
	// EventRollback is a return to an earlier release; whether the data
	// came back too is told by BackupID (the backup restored with it).
	EventRollback EventKind = "rollback"
	// EventPreReleaseBackup is a backup taken just before a release, named
	// by BackupID.
	EventPreReleaseBackup EventKind = "pre_release_backup"
	// EventFreezeAck is a person's acknowledgement that ends a deploy
	// freeze; Actor and Reason are required.
	EventFreezeAck EventKind = "freeze_ack"
	// EventMigration is a schema migration run against a dataset.
	EventMigration EventKind = "migration"
)

// EventKinds lists every valid EventKind in a stable order.
var EventKinds = []EventKind{EventDeploy, EventRollback, EventPreReleaseBackup, EventFreezeAck, EventMigration}

// Valid reports whether k is one of EventKinds.
func (k EventKind) Valid() bool { return slices.Contains(EventKinds, k) }

// EventResult is the outcome an event reports.
type EventResult string

// The results of an event.
const (
	ResultSucceeded EventResult = "succeeded"
	ResultFailed    EventResult = "failed"
	ResultRunning   EventResult = "running"
	ResultCanceled  EventResult = "canceled"
)

// EventResults lists every valid EventResult in a stable order.
var EventResults = []EventResult{ResultSucceeded, ResultFailed, ResultRunning, ResultCanceled}

// Valid reports whether r is one of EventResults.
func (r EventResult) Valid() bool { return slices.Contains(EventResults, r) }

// Event is one release event (deploy, rollback, pre-release backup, freeze
// acknowledgement, migration), from a webhook or the generic API, as the
// journal keeps it. Times are UTC.
type Event struct {
	// ID identifies the delivery (the sender's delivery id or the
	// Idempotency-Key); a second delivery with the same ID is the same
	// event.
	ID string `json:"id"`
	// Sender is the adapter that accepted it: generic, gitlab, github,
	// argocd or jenkins.
	Sender string    `json:"sender"`
	Kind   EventKind `json:"kind"`
	Env    string    `json:"env"`
	// Dataset is the dataset (or service) the release concerns.
	Dataset  string      `json:"dataset"`
	Release  string      `json:"release,omitempty"`
	Revision string      `json:"revision,omitempty"`
	Actor    string      `json:"actor,omitempty"`
	Result   EventResult `json:"result"`
	// Time is when the event happened by the sender's clock; Received is
	// when the exporter acknowledged it.
	Time     time.Time `json:"time"`
	Received time.Time `json:"received"`
	// BackupSource and BackupID name a backup: the one a
	// pre_release_backup took, or the one a rollback restored.
	BackupSource string `json:"backup_source,omitempty"`
	BackupID     string `json:"backup_id,omitempty"`
	// Migration is true when the deploy or rollback ran a schema migration.
	Migration bool `json:"migration,omitempty"`
	// Reason is a freeze_ack's reason, or a free-text note.
	Reason string `json:"reason,omitempty"`
	// URL links to the pipeline, job or application that sent it.
	URL string `json:"url,omitempty"`
	// Principal is who delivered the event: the access principal that
	// posted a generic event, or "sender:<name>" for a webhook, which its
	// sender's secret authenticated. The journal keeps it as the record of
	// that use of the events:write permission.
	Principal string `json:"principal,omitempty"`
}
