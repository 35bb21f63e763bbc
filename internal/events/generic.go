package events

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/restorable/restorable/internal/model"
)

// Generic is the documented generic event (docs/events.md): what a
// pipeline step posts to POST /api/v1/events.
type Generic struct {
	ID        string          `json:"id"`
	Kind      model.EventKind `json:"kind"`
	Env       string          `json:"env"`
	Dataset   string          `json:"dataset"`
	Service   string          `json:"service"`
	Release   string          `json:"release"`
	Revision  string          `json:"revision"`
	Actor     string          `json:"actor"`
	Time      string          `json:"time"`
	Backup    *GenericBackup  `json:"backup"`
	Result    string          `json:"result"`
	Migration bool            `json:"migration"`
	Reason    string          `json:"reason"`
	URL       string          `json:"url"`
}

// GenericBackup names a backup: the one a pre_release_backup took, or the
// one a rollback restored.
type GenericBackup struct {
	Source string `json:"source"`
	ID     string `json:"id"`
}

// ParseGeneric decodes a generic event. Unknown fields are errors (a typo
// must not silently drop a fact); the delivery id is the Idempotency-Key
// header, else the body's id, else the SHA-256 of the body, so that a
// retried identical request is recognised as the same event.
func ParseGeneric(d *Delivery, sender string) (model.Event, error) {
	var g Generic
	dec := json.NewDecoder(bytes.NewReader(d.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&g); err != nil {
		return model.Event{}, jsonFieldError(err)
	}
	if dec.More() {
		return model.Event{}, fieldErr("body", "one JSON object expected, found more")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return model.Event{}, fieldErr("body", "one JSON object expected, found more")
	}
	ev := model.Event{
		ID: deliveryID(d.Header, ""), Sender: sender, Kind: g.Kind, Env: g.Env, Dataset: g.Dataset,
		Release: g.Release, Revision: g.Revision, Actor: g.Actor, Result: model.EventResult(g.Result),
		Migration: g.Migration, Reason: g.Reason, URL: g.URL,
	}
	if ev.ID == "" {
		ev.ID = g.ID
	}
	if ev.ID == "" {
		sum := sha256.Sum256(d.Body)
		ev.ID = "sha256:" + hex.EncodeToString(sum[:])
	}
	switch {
	case g.Dataset != "" && g.Service != "" && g.Dataset != g.Service:
		return model.Event{}, fieldErr("service", "%q differs from dataset %q; send one of them", g.Service, g.Dataset)
	case g.Dataset == "":
		ev.Dataset = g.Service
	}
	if ev.Result == "" {
		ev.Result = model.ResultSucceeded
	}
	if g.Backup != nil {
		ev.BackupSource, ev.BackupID = g.Backup.Source, g.Backup.ID
	}
	if g.Time == "" {
		ev.Time = d.Received.UTC()
	} else {
		t, err := parseTime("time", g.Time)
		if err != nil {
			return model.Event{}, err
		}
		ev.Time = t
	}
	return ev, Validate(&ev)
}

// jsonFieldError names the field of a JSON decoding error.
func jsonFieldError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "body"
		}
		return fieldErr(field, "must be a %s, not a JSON %s", te.Type.String(), te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fieldErr("body", "not valid JSON at byte %d: %v", se.Offset, se)
	}
	if msg, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return fieldErr(strings.Trim(msg, `"`), "unknown field")
	}
	if errors.Is(err, io.EOF) {
		return fieldErr("body", "empty; a JSON object is expected")
	}
	return fieldErr("body", "%v", err)
}
