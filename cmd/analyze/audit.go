package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/alecthomas/kingpin/v2"

	"github.com/restorable/restorable/internal/audit"
	"github.com/restorable/restorable/internal/config"
)

// Exit code of audit verify when the log shows tampering or damage.
const exitTampered = 1

type auditVerifyOptions struct {
	file   string
	format string
}

func auditCommand(app *kingpin.Application, g *globals) subcommand {
	o := &auditVerifyOptions{}
	c := app.Command("audit", "Check the exporter's audit log.")
	v := c.Command("verify", "Verify the audit log's hash chain and head file: every edited, removed, reordered or inserted line and a cut-off tail is named. Exits 0 intact, 1 tampered or damaged, 2 error.")
	v.Flag("file", "Audit log (default: access.audit_log of the configuration, else audit/audit.log under the history root).").PlaceHolder("PATH").StringVar(&o.file)
	v.Flag("format", "Output format.").Default("text").EnumVar(&o.format, "text", "json")
	return subcommand{clause: v, run: func(_ context.Context, g *globals) (int, error) { return runAuditVerify(g, o) }}
}

// auditReport is the JSON output of audit verify.
type auditReport struct {
	File      string   `json:"file"`
	Intact    bool     `json:"intact"`
	Lines     int      `json:"lines"`
	LastSeq   int64    `json:"last_seq"`
	HeadSeq   int64    `json:"head_seq"`
	AfterHead int      `json:"after_head,omitempty"`
	Problems  []string `json:"problems"`
}

func runAuditVerify(g *globals, o *auditVerifyOptions) (int, error) {
	path := o.file
	if path == "" {
		cfg, err := g.config()
		if err != nil {
			return exitError, err
		}
		root := g.history
		var acc config.Access
		if cfg != nil {
			acc = cfg.Access
			if root == "" {
				root = cfg.History.Root
			}
		}
		if root == "" {
			root = config.DefaultHistoryRoot
		}
		if path, err = acc.AuditLogPath(root); err != nil {
			return exitError, err
		}
	}
	res, err := audit.Verify(path)
	if err != nil {
		return exitError, err
	}
	rep := auditReport{File: path, Intact: len(res.Problems) == 0, Lines: res.Lines, LastSeq: res.Last.Seq, HeadSeq: res.Head.Seq, AfterHead: res.AfterHead, Problems: []string{}}
	for _, p := range res.Problems {
		rep.Problems = append(rep.Problems, p.String())
	}
	if o.format == "json" {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return exitError, fmt.Errorf("write report: %w", err)
		}
	} else {
		for _, p := range rep.Problems {
			fmt.Fprintf(g.stdout, "%s: %s\n", path, p)
		}
		switch {
		case rep.Intact && res.AfterHead > 0:
			fmt.Fprintf(g.stdout, "%s: intact: %d entries; the last %d were written after the head file was last replaced (a crash between the two writes)\n", path, res.Last.Seq, res.AfterHead)
		case rep.Intact:
			fmt.Fprintf(g.stdout, "%s: intact: %d entries, the last one is the head file's\n", path, res.Last.Seq)
		default:
			fmt.Fprintf(g.stdout, "%s: TAMPERED or damaged: %d problems\n", path, len(rep.Problems))
		}
	}
	if !rep.Intact {
		return exitTampered, nil
	}
	return exitOK, nil
}
