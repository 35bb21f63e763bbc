package velero

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// objectMeta is the part of a Kubernetes object's metadata the collector
// reads.
type objectMeta struct {
	Name              string            `json:"name"`
	Namespace         string            `json:"namespace"`
	Labels            map[string]string `json:"labels"`
	CreationTimestamp *time.Time        `json:"creationTimestamp"`
	DeletionTimestamp *time.Time        `json:"deletionTimestamp"`
}

// backup is a velero.io/v1 Backup.
type backup struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   objectMeta `json:"metadata"`
	Spec       struct {
		IncludedNamespaces []string `json:"includedNamespaces"`
		StorageLocation    string   `json:"storageLocation"`
		TTL                string   `json:"ttl"`
		SnapshotVolumes    *bool    `json:"snapshotVolumes"`
	} `json:"spec"`
	Status struct {
		Version             int        `json:"version"`
		FormatVersion       string     `json:"formatVersion"`
		Expiration          *time.Time `json:"expiration"`
		Phase               string     `json:"phase"`
		ValidationErrors    []string   `json:"validationErrors"`
		StartTimestamp      *time.Time `json:"startTimestamp"`
		CompletionTimestamp *time.Time `json:"completionTimestamp"`
		Errors              int        `json:"errors"`
		Warnings            int        `json:"warnings"`
		FailureReason       string     `json:"failureReason"`
		Progress            *struct {
			TotalItems    int64 `json:"totalItems"`
			ItemsBackedUp int64 `json:"itemsBackedUp"`
		} `json:"progress"`
		VolumeSnapshotsAttempted int `json:"volumeSnapshotsAttempted"`
		VolumeSnapshotsCompleted int `json:"volumeSnapshotsCompleted"`
	} `json:"status"`
}

// schedule is a velero.io/v1 Schedule.
type schedule struct {
	Metadata objectMeta `json:"metadata"`
	Spec     struct {
		Schedule string `json:"schedule"`
		Paused   bool   `json:"paused"`
		Template struct {
			StorageLocation string `json:"storageLocation"`
			TTL             string `json:"ttl"`
		} `json:"template"`
	} `json:"spec"`
	Status struct {
		Phase            string     `json:"phase"`
		LastBackup       *time.Time `json:"lastBackup"`
		ValidationErrors []string   `json:"validationErrors"`
	} `json:"status"`
}

// storageLocation is a velero.io/v1 BackupStorageLocation.
type storageLocation struct {
	Metadata objectMeta `json:"metadata"`
	Spec     struct {
		Provider      string                           `json:"provider"`
		ObjectStorage *struct{ Bucket, Prefix string } `json:"objectStorage"`
		Config        map[string]string                `json:"config"`
		Default       bool                             `json:"default"`
		AccessMode    string                           `json:"accessMode"`
	} `json:"spec"`
	Status struct {
		Phase              string     `json:"phase"`
		Message            string     `json:"message"`
		LastValidationTime *time.Time `json:"lastValidationTime"`
		LastSyncedTime     *time.Time `json:"lastSyncedTime"`
	} `json:"status"`
}

// list is a Kubernetes list: its items and the token of the next page.
type list[T any] struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Continue string `json:"continue"`
	} `json:"metadata"`
	Items []T `json:"items"`
}

// parseList reads one page of a list answer.
func parseList[T any](data []byte) (*list[T], error) {
	var l list[T]
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// parseBackupGet reads `velero backup get -o json` output: a BackupList
// normally, and the bare Backup when exactly one matches (velero prints
// the one item of a list instead of the list).
func parseBackupGet(data []byte) ([]backup, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, errors.New("empty output")
	}
	var head struct {
		Kind  string          `json:"kind"`
		Items json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, err
	}
	switch {
	case head.Kind == "Backup":
		var b backup
		if err := json.Unmarshal(data, &b); err != nil {
			return nil, err
		}
		if b.Metadata.Name == "" {
			return nil, errors.New("a Backup without metadata.name")
		}
		return []backup{b}, nil
	case head.Kind == "BackupList" || head.Kind == "List" || (head.Kind == "" && head.Items != nil):
		l, err := parseList[backup](data)
		if err != nil {
			return nil, err
		}
		for i := range l.Items {
			if l.Items[i].Metadata.Name == "" {
				return nil, fmt.Errorf("item %d has no metadata.name", i)
			}
			if k := l.Items[i].Kind; k != "" && k != "Backup" {
				return nil, fmt.Errorf("item %d is a %s, not a Backup", i, k)
			}
		}
		return l.Items, nil
	default:
		return nil, fmt.Errorf("a %q object, neither a BackupList nor a Backup", head.Kind)
	}
}
