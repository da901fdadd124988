package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/trackskills/trackskills/claudecode/hookcmd"
	"github.com/trackskills/trackskills/ingest"
	"github.com/trackskills/trackskills/skillscan"
)

const skillsSummary = `Registers the skills and MCP servers installed here with a Track Skills
server, for GET /analytics/portfolio (installed against used):

  trackskills skills scan [DIR...] [--dry-run] [--if-changed]

It reads the SKILL.md front matter (name, description, size) of every skill
in ~/.claude/skills, the project's .claude/skills (CLAUDE_PROJECT_DIR, else
the current directory) and the installed plugins' skills folders (plugin
skills are named <plugin>:<skill>); DIRs replace those folders. It reads only
the names of the MCP servers in ~/.claude.json, the project's .mcp.json and
the plugins' .mcp.json: never their commands, env or URLs. A SKILL.md with
bad front matter is a warning naming the file and line; the scan goes on.

--if-changed sends only when the folders changed since the last send (or
the last send is a day old), so that a SessionStart hook can run it at every
session: hook install adds that hook. Environment: TRACKSKILLS_URL,
TRACKSKILLS_KEY, TRACKSKILLS_USER (as for the hook).`

// skillsRefresh is how old a send may get before --if-changed sends the
// same inventory again, so that the server's last_seen stays recent.
const skillsRefresh = 24 * time.Hour

func runSkills(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "scan":
			return runSkillsScan(ctx, args[1:], getenv, stdout, stderr)
		case "-h", "--help", "help":
			fmt.Fprintf(stdout, "Usage: trackskills skills scan [DIR...] [flags]\n\n%s\n", skillsSummary)
			return nil
		}
	}
	fmt.Fprintf(stderr, "Usage: trackskills skills scan [DIR...] [flags]\n\n%s\n", skillsSummary)
	return errUsage
}

// scanState is what --if-changed remembers of the last send.
type scanState struct {
	Fingerprint string    `json:"fingerprint"`
	SentAt      time.Time `json:"sent_at"`
}

func runSkillsScan(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	f := newPlainFlags("skills scan [DIR...]", skillsSummary, stderr)
	url := f.String("url", hookcmd.FirstNonEmpty(getenv("TRACKSKILLS_URL"), hookcmd.DefaultURL), "the Track Skills server")
	dryRun := f.Bool("dry-run", false, "print what the scan found, send nothing")
	ifChanged := f.Bool("if-changed", false, "send only when the folders changed since the last send (for a SessionStart hook)")
	timeout := f.Duration("timeout", 5*time.Second, "how long to wait for the server")
	// DIRs and flags may come in any order.
	var dirs []string
	for {
		if err := f.FlagSet.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return errHelp
			}
			return errUsage
		}
		if f.NArg() == 0 {
			break
		}
		dirs, args = append(dirs, f.Arg(0)), f.Args()[1:]
	}
	home := getenv("HOME")
	if home == "" {
		var err error
		if home, err = os.UserHomeDir(); err != nil {
			return fmt.Errorf("find the home directory: %w", err)
		}
	}
	project := getenv("CLAUDE_PROJECT_DIR")
	if project == "" {
		project, _ = os.Getwd() // no project folder then
	}
	inv, err := skillscan.Scan(skillscan.Config{Home: home, ProjectDir: project, Dirs: dirs})
	if err != nil {
		return err
	}
	for _, w := range inv.Warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	if *dryRun {
		printInventory(stdout, inv)
		return nil
	}
	target := strings.TrimRight(*url, "/")
	sum := sha256.Sum256([]byte(target + "\n" + inv.Fingerprint))
	fp := hex.EncodeToString(sum[:])
	statePath := skillsStatePath(getenv)
	if *ifChanged {
		if st, ok := readScanState(statePath); ok && st.Fingerprint == fp && time.Since(st.SentAt) < skillsRefresh {
			fmt.Fprintf(stdout, "unchanged since the send of %s: nothing sent\n", st.SentAt.UTC().Format(time.RFC3339))
			return nil
		}
	}
	if len(inv.Skills) == 0 && len(inv.MCPServers) == 0 {
		fmt.Fprintln(stdout, "no skills and no MCP servers found: nothing sent")
		return nil
	}
	user := hookcmd.New(getenv, io.Discard).User()
	if err := sendInventory(ctx, target, getenv("TRACKSKILLS_KEY"), user, *timeout, inv); err != nil {
		return fmt.Errorf("send to %s: %w", target, err)
	}
	fmt.Fprintf(stdout, "sent %d skills and %d MCP servers to %s\n", len(inv.Skills), len(inv.MCPServers), target)
	if statePath != "" {
		data, _ := json.Marshal(scanState{Fingerprint: fp, SentAt: time.Now().UTC()}) // a struct of strings always encodes
		if err := os.MkdirAll(filepath.Dir(statePath), 0o700); err != nil {
			return fmt.Errorf("create %s: %w", filepath.Dir(statePath), err)
		}
		if err := hookcmd.WriteFileAtomic(statePath, data); err != nil {
			return fmt.Errorf("write %s: %w", statePath, err)
		}
	}
	return nil
}

// skillsStatePath is the state file of --if-changed, in the user's cache
// dir; "" when there is none.
func skillsStatePath(getenv func(string) string) string {
	dir := getenv("XDG_CACHE_HOME")
	if dir == "" {
		var err error
		if dir, err = os.UserCacheDir(); err != nil {
			return ""
		}
	}
	return filepath.Join(dir, "trackskills", "skills-scan.json")
}

func readScanState(path string) (scanState, bool) {
	var st scanState
	if path == "" {
		return st, false
	}
	data, err := os.ReadFile(path)
	if err != nil || json.Unmarshal(data, &st) != nil {
		return st, false // no state, or a broken one: send
	}
	return st, true
}

// sendInventory POSTs the inventory to url's /api/skills.
func sendInventory(ctx context.Context, url, key, user string, timeout time.Duration, inv skillscan.Inventory) error {
	body, err := json.Marshal(struct {
		Skills     []skillscan.Skill     `json:"skills"`
		MCPServers []skillscan.MCPServer `json:"mcp_servers"`
	}{inv.Skills, inv.MCPServers})
	if err != nil {
		return fmt.Errorf("encode inventory: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/api/skills", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if user != "" {
		req.Header.Set(ingest.UserHeader, user)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10)) // the answer's reason, when there is one
	if resp.StatusCode/100 == 2 {
		return nil
	}
	var e struct {
		Error string `json:"error"`
		Field string `json:"field"`
	}
	if json.Unmarshal(msg, &e) == nil && e.Error != "" {
		if e.Field != "" {
			return fmt.Errorf("%s: %s %s", resp.Status, e.Field, e.Error)
		}
		return fmt.Errorf("%s: %s", resp.Status, e.Error)
	}
	return errors.New(resp.Status)
}

// printInventory lists what a scan found, for --dry-run.
func printInventory(w io.Writer, inv skillscan.Inventory) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "%d skills:\n", len(inv.Skills))
	for _, s := range inv.Skills {
		desc := s.Description
		if r := []rune(desc); len(r) > 60 {
			desc = string(r[:59]) + "…"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d B\t%s\n", s.Name, s.Source, s.SizeBytes, desc)
	}
	fmt.Fprintf(tw, "%d MCP servers:\n", len(inv.MCPServers))
	for _, m := range inv.MCPServers {
		fmt.Fprintf(tw, "  %s\t%s\n", m.Name, m.Source)
	}
	_ = tw.Flush() // w is stdout; a failed write has nowhere to go
	fmt.Fprintln(w, "(dry run: nothing sent)")
}
