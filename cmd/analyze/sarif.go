package main

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/common/version"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/policy"
)

// SARIF 2.1.0 (OASIS), the format code-scanning services import. Each check
// is a rule; each finding a result located logically at
// env/source/dataset and physically at the line of the configuration file
// that defines its source, probe or environment: code-scanning services
// show only results with a physical location.
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
	PhysicalLocation *sarifPhysical `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogical `json:"logicalLocations"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId,omitempty"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
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

// sarifLog writes rep as SARIF; cfg, when not nil, gives each result the
// configuration line it rests on.
func sarifLog(rep *report, cfg *config.Config) sarifDoc {
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
			Locations:           []sarifLocation{{PhysicalLocation: sarifPhysicalOf(cfg, f), LogicalLocations: []sarifLogical{{FullyQualifiedName: where, Kind: "resource"}}}},
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

// sarifPhysicalOf locates a finding in the configuration file: at the
// line of its source, else of its probe, else of its (first) environment,
// else at the file as a whole. A relative path stays relative to the
// directory analyze runs in, marked %SRCROOT%, which is how code-scanning
// services expect a file of the repository they scan; run analyze from the
// repository's root with a relative --config.file for them.
func sarifPhysicalOf(cfg *config.Config, f policy.Finding) *sarifPhysical {
	if cfg == nil || cfg.File == "" {
		return nil
	}
	p := &sarifPhysical{ArtifactLocation: sarifArtifactOf(cfg.File)}
	line := 0
	for _, s := range cfg.Sources {
		if f.Subject.Source != "" && s.Name == f.Subject.Source {
			line = s.Line()
		}
	}
	for _, pr := range cfg.Probes {
		if line == 0 && f.Subject.Probe != "" && pr.Name == f.Subject.Probe {
			line = pr.Line()
		}
	}
	if env, _, _ := strings.Cut(f.Env, ","); line == 0 && cfg.Environments[env] != nil {
		line = cfg.Environments[env].Line()
	}
	if line > 0 {
		p.Region = &sarifRegion{StartLine: line}
	}
	return p
}

// sarifArtifactOf names the configuration file: relative to the working
// directory when it is inside it, else as an absolute file URI.
func sarifArtifactOf(file string) sarifArtifact {
	abs, err := filepath.Abs(file)
	if err != nil {
		return sarifArtifact{URI: filepath.ToSlash(file)}
	}
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, abs); err == nil && filepath.IsLocal(rel) {
			return sarifArtifact{URI: (&url.URL{Path: filepath.ToSlash(rel)}).String(), URIBaseID: "%SRCROOT%"}
		}
	}
	return sarifArtifact{URI: (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String()}
}
