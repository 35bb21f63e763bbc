package main

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/prometheus/common/version"

	"github.com/restorable/restorable/internal/policy"
)

// SARIF 2.1.0 (OASIS), the format code-scanning services import. Each check
// is a rule; each finding a result located logically at
// env/source/dataset.
type sarifDoc struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool        sarifTool         `json:"tool"`
	Invocations []sarifInvocation `json:"invocations"`
	Results     []sarifResult     `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri"`
	Version        string      `json:"version,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifRule struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name"`
	ShortDescription     sarifText      `json:"shortDescription"`
	FullDescription      sarifText      `json:"fullDescription"`
	DefaultConfiguration sarifLevel     `json:"defaultConfiguration"`
	Properties           map[string]any `json:"properties"`
}

type sarifLevel struct {
	Level string `json:"level"`
}

type sarifInvocation struct {
	ExecutionSuccessful bool   `json:"executionSuccessful"`
	EndTimeUTC          string `json:"endTimeUtc"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Level               string            `json:"level"`
	Message             sarifText         `json:"message"`
	Locations           []sarifLocation   `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
	Properties          map[string]any    `json:"properties"`
}

type sarifLocation struct {
	LogicalLocations []sarifLogical `json:"logicalLocations"`
}

type sarifLogical struct {
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
}

// sarifLevelOf maps severities onto SARIF's levels.
func sarifLevelOf(s policy.Severity) string {
	switch s {
	case policy.SeverityCritical:
		return "error"
	case policy.SeverityWarning:
		return "warning"
	}
	return "note"
}

func sarifLog(rep *report) sarifDoc {
	checks := policy.Checks()
	index := map[string]int{}
	rules := make([]sarifRule, len(checks))
	for i, c := range checks {
		index[c.ID] = i
		rules[i] = sarifRule{
			ID: c.ID, Name: ruleName(c.ID),
			ShortDescription:     sarifText{c.Title},
			FullDescription:      sarifText{c.Help},
			DefaultConfiguration: sarifLevel{sarifLevelOf(c.Severity)},
			Properties:           map[string]any{"controls": c.Controls, "parameters": c.Params, "tags": []string{"backup", "policy"}},
		}
	}
	results := make([]sarifResult, 0, len(rep.Findings))
	for _, f := range rep.Findings {
		where := strings.Trim(f.Env+"/"+f.Subject.String(), "/")
		props := map[string]any{"env": f.Env, "subject": f.Subject, "expected": f.Expected, "observed": f.Observed, "controls": f.Controls, "evidence": f.Evidence}
		if !f.Start.IsZero() {
			props["start"] = f.Start.UTC().Format(time.RFC3339)
		}
		if !f.End.IsZero() {
			props["end"] = f.End.UTC().Format(time.RFC3339)
		}
		sum := sha256.Sum256([]byte(f.Check + "\x00" + where + "\x00" + timeText(f.Start)))
		results = append(results, sarifResult{
			RuleID: f.Check, RuleIndex: index[f.Check], Level: sarifLevelOf(f.Severity),
			Message:             sarifText{where + ": " + f.Observed + " (expected: " + f.Expected + ")"},
			Locations:           []sarifLocation{{LogicalLocations: []sarifLogical{{FullyQualifiedName: where, Kind: "resource"}}}},
			PartialFingerprints: map[string]string{"restorableFinding/v1": hex.EncodeToString(sum[:16])},
			Properties:          props,
		})
	}
	return sarifDoc{
		Schema:  "https://json.schemastore.org/sarif-2.1.0.json",
		Version: "2.1.0",
		Runs: []sarifRun{{
			Tool:        sarifTool{Driver: sarifDriver{Name: "restorable-analyze", InformationURI: "https://github.com/restorable/restorable", Version: version.Version, Rules: rules}},
			Invocations: []sarifInvocation{{ExecutionSuccessful: true, EndTimeUTC: rep.At.UTC().Format(time.RFC3339)}},
			Results:     results,
		}},
	}
}

// ruleName turns "restore_test.rto" into "RestoreTestRto", the PascalCase
// name SARIF viewers show.
func ruleName(id string) string {
	var b strings.Builder
	for _, part := range strings.FieldsFunc(id, func(r rune) bool { return r == '.' || r == '_' }) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}
