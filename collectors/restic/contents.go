package restic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"github.com/restorable/restorable/internal/runx"
)

// What is listed of a snapshot's contents, for the ephemeral-data check.
// restic 0.14 has no depth limit for ls, but its directory filter does the
// same job: `restic ls SNAP DIR...` prints each DIR and its direct
// children and descends into nothing else, so reading two levels costs two
// calls that read only the trees on the way (which the stats walk has
// already put into restic's cache: no pack of file contents is read).
const (
	// contentsDepth is how many levels below each backup root are listed:
	// /srv/app/cache is level 1, /home/alice/.cache level 2 of /home.
	contentsDepth = 2
	// maxContentDirs bounds the level-1 directories listed further.
	maxContentDirs = 256
	// maxContents bounds the entries kept per snapshot; the shallower
	// ones are kept first. It bounds the state file and the history rows
	// too: a backup record carries its entries.
	maxContents = 500
	// listPerRun bounds the snapshots listed in one collection, newest
	// first, so that a first collection of a large repository still ends
	// in time; the others are listed by the next collections.
	listPerRun = 16
)

// lsNode is one line of `restic ls --json`: the snapshot itself
// (struct_type "snapshot") or one node of its tree. restic 0.17 added
// message_type with the same values and keeps struct_type as deprecated,
// so either is read.
type lsNode struct {
	StructType  string `json:"struct_type"`
	MessageType string `json:"message_type"`
	Type        string `json:"type"`
	Path        string `json:"path"`
}

// parseLs reads the nodes of the output of `restic ls --json`.
func parseLs(data []byte) ([]lsNode, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var nodes []lsNode
	for {
		var n lsNode
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return nodes, nil
		}
		if err != nil {
			return nil, fmt.Errorf("not a JSON listing: %w", err)
		}
		if n.StructType == "node" || n.MessageType == "node" {
			if n.Path == "" || !strings.HasPrefix(n.Path, "/") {
				return nil, fmt.Errorf("node %q: not an absolute path", n.Path)
			}
			nodes = append(nodes, n)
		}
	}
}

// rootCandidates returns where root may sit in a snapshot's tree. restic
// stores a target as it was given on the command line: /srv/app given as
// such sits at /srv/app, given as "app" from /srv at /app, and "." puts
// the directory's contents at the top of the tree. So a root sits at one
// of the suffixes of its path, or at the top.
func rootCandidates(root string) []string {
	root = path.Clean("/" + root)
	var out []string
	for p := root; p != "/"; {
		out = append(out, p)
		_, rest, _ := strings.Cut(p[1:], "/")
		p = "/" + rest
		if rest == "" {
			break
		}
	}
	return out
}

// treeRoots works out where each root of a snapshot sits in its tree from
// the first listing, which was filtered by every candidate and "/". It
// returns the tree path of each root ("" for the top of the tree), and
// false when the listing does not say.
//
// The top of a snapshot's tree holds exactly the first elements of the
// roots' tree paths: that rules out a candidate that merely names a
// directory inside a root backed up as ".".
func treeRoots(roots []string, nodes []lsNode) ([]string, bool) {
	dirs := map[string]bool{}
	top := map[string]bool{}
	for _, n := range nodes {
		if n.Type == "dir" {
			dirs[n.Path] = true
		}
		if strings.Count(n.Path, "/") == 1 {
			top[n.Path] = true
		}
	}
	out := make([]string, len(roots))
	firsts := map[string]bool{}
	for i, r := range roots {
		for _, c := range rootCandidates(r) {
			if dirs[c] {
				out[i] = c
				break
			}
		}
		if out[i] != "" {
			first, _, _ := strings.Cut(out[i][1:], "/")
			firsts["/"+first] = true
		}
	}
	if !slices.Contains(out, "") && mapsEqual(firsts, top) {
		return out, true
	}
	// A single root backed up as "." (or "/") has its contents at the top.
	if len(roots) == 1 {
		return []string{""}, true
	}
	return nil, false
}

func mapsEqual(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

// below returns the depth of tree path p below the tree path of a root
// ("" is the top), and the path relative to it; depth 0 when p is not
// below.
func belowTree(rootTree, p string) (int, string) {
	var rel string
	if rootTree == "" {
		rel = strings.TrimPrefix(p, "/")
	} else {
		var ok bool
		if rel, ok = strings.CutPrefix(p, rootTree+"/"); !ok {
			return 0, ""
		}
	}
	if rel == "" {
		return 0, ""
	}
	return strings.Count(rel, "/") + 1, rel
}

// contentsOf maps the nodes of the listings to absolute entries below the
// roots, at most contentsDepth levels deep, and returns the level-1
// directories' tree paths for the next listing.
func contentsOf(roots, trees []string, nodes []lsNode, seen map[string]bool, out [][]string) (nextDirs []string) {
	for _, n := range nodes {
		// The deepest matching root wins, for roots inside roots.
		best, bestRel, bestDepth := -1, "", 0
		for i, t := range trees {
			d, rel := belowTree(t, n.Path)
			if d > 0 && (best < 0 || len(t) > len(trees[best])) {
				best, bestRel, bestDepth = i, rel, d
			}
		}
		if best < 0 || bestDepth > contentsDepth {
			continue
		}
		abs := path.Join(path.Clean("/"+roots[best]), bestRel)
		if seen[abs] {
			continue
		}
		seen[abs] = true
		out[bestDepth-1] = append(out[bestDepth-1], abs)
		if bestDepth == 1 && n.Type == "dir" && bestDepth < contentsDepth {
			nextDirs = append(nextDirs, n.Path)
		}
	}
	return nextDirs
}

// refreshContents lists the contents of the snapshots not listed before,
// newest first and at most listPerRun of them. A snapshot whose listing
// fails is tried again at the next collection; only the end of ctx itself
// is returned.
func (c *Collector) refreshContents(ctx context.Context, inv *invocation, snaps []snapshot) error {
	var todo []snapshot
	for _, s := range snaps {
		if _, ok := c.contents[s.ID]; !ok && len(s.Paths) > 0 {
			todo = append(todo, s)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	slices.SortFunc(todo, func(a, b snapshot) int { return b.Time.Compare(a.Time) })
	lctx, cancel := statsContext(ctx)
	defer cancel()
	for i, s := range todo {
		if i == listPerRun {
			c.logger.Debug("snapshot contents left for the next collections", "location", c.location, "snapshots", len(todo)-i)
			break
		}
		entries, err := c.listContents(lctx, inv, s)
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			c.logger.Warn("list snapshot contents", "location", c.location, "snapshot", s.ID, "kind", runx.KindOf(err), "err", err)
			if lctx.Err() != nil {
				return nil
			}
			continue
		}
		c.contents[s.ID] = c.intern(entries)
		c.dirty = true
	}
	return nil
}

// intern makes entries share the strings of equal paths listed before:
// successive snapshots of one root mostly hold the same top levels, so a
// repository of many snapshots keeps each path once.
func (c *Collector) intern(entries []string) []string {
	for i, e := range entries {
		if s, ok := c.paths[e]; ok {
			entries[i] = s
		} else {
			c.paths[e] = e
		}
	}
	return entries
}

// listContents returns the entries below the roots of snapshot s, at most
// contentsDepth levels deep, shallower ones first.
func (c *Collector) listContents(ctx context.Context, inv *invocation, s snapshot) ([]string, error) {
	var filter []string
	for _, r := range s.Paths {
		filter = append(filter, rootCandidates(r)...)
	}
	filter = append(filter, "/")
	nodes, err := c.ls(ctx, inv, s.ID, filter)
	if err != nil {
		return nil, err
	}
	trees, ok := treeRoots(s.Paths, nodes)
	if !ok {
		// Several roots, one of them backed up as ".": where each sits
		// cannot be told, so nothing is claimed about the contents.
		c.logger.Debug("snapshot roots not found in its tree", "location", c.location, "snapshot", s.ID)
		return []string{}, nil
	}
	levels := make([][]string, contentsDepth)
	seen := map[string]bool{}
	next := contentsOf(s.Paths, trees, nodes, seen, levels)
	if len(next) > maxContentDirs {
		next = next[:maxContentDirs]
	}
	if len(next) > 0 {
		nodes, err := c.ls(ctx, inv, s.ID, next)
		if err != nil {
			return nil, err
		}
		contentsOf(s.Paths, trees, nodes, seen, levels)
	}
	out := []string{}
	for _, l := range levels {
		slices.Sort(l)
		out = append(out, l...)
	}
	if len(out) > maxContents {
		out = out[:maxContents]
	}
	return out, nil
}

// ls runs `restic ls --json` on snapshot id filtered by dirs. The source's
// host and tag filters are left out: they select snapshots, and the id
// already names one.
func (c *Collector) ls(ctx context.Context, inv *invocation, id string, dirs []string) ([]lsNode, error) {
	args := append([]string{"ls", "--json", "--no-lock", "--quiet", id}, dirs...)
	res, err := inv.run(ctx, args)
	if err != nil {
		return nil, fmt.Errorf("list contents of snapshot %s in %s: %w", id, c.location, err)
	}
	nodes, err := parseLs(res.Stdout)
	if err != nil {
		return nil, runx.ParseError(fmt.Errorf("read the output of restic ls for snapshot %s in %s: %w", id, c.location, err))
	}
	return nodes, nil
}
