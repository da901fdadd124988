package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trackskills/trackskills/analytics"
	"github.com/trackskills/trackskills/testkit"
)

// scanSecret is in every MCP configuration of skillsTree: nothing the
// scan prints or sends may hold it.
const scanSecret = "ghp_SECRETdoNotSend42"

// skillsTree makes a home with a user skill, a skill with bad front
// matter, a plugin's skill and MCP servers, and a project with a skill and
// an .mcp.json; it returns the home and the project.
func skillsTree(t *testing.T) (home, project string) {
	t.Helper()
	root := t.TempDir()
	home, project = filepath.Join(root, "home"), filepath.Join(root, "project")
	plugin := filepath.Join(home, ".claude", "plugins", "cache", "mkt", "superpowers", "1.0.0")
	installed, _ := json.Marshal(map[string]any{"version": 2, "plugins": map[string]any{
		"superpowers@mkt": []any{map[string]any{"scope": "user", "installPath": plugin}}}})
	files := map[string]string{
		filepath.Join(home, ".claude/skills/pdf-report/SKILL.md"):     "---\nname: pdf-report\ndescription: Makes PDF reports\n---\n# body\n",
		filepath.Join(home, ".claude/skills/broken/SKILL.md"):         "---\nname: broken\ndescription: [a, b]\n---\n",
		filepath.Join(project, ".claude/skills/deploy/SKILL.md"):      "---\nname: deploy\ndescription: Deploys\n---\n",
		filepath.Join(plugin, "skills/brainstorming/SKILL.md"):        "---\nname: brainstorming\ndescription: Ideas\n---\n",
		filepath.Join(home, ".claude/plugins/installed_plugins.json"): string(installed),
		filepath.Join(home, ".claude.json"):                           `{"mcpServers":{"github":{"type":"http","url":"https://api.example/mcp","headers":{"Authorization":"Bearer ` + scanSecret + `"}}}}`,
		filepath.Join(project, ".mcp.json"):                           `{"mcpServers":{"sentry":{"command":"npx","env":{"SENTRY_TOKEN":"` + scanSecret + `"}}}}`,
	}
	for path, body := range files {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return home, project
}

// scanEnv is the environment of a scan of home and project.
func scanEnv(t *testing.T, home, project string, more ...string) map[string]string {
	t.Helper()
	env := map[string]string{"HOME": home, "CLAUDE_PROJECT_DIR": project, "XDG_CACHE_HOME": filepath.Join(home, ".cache")}
	for i := 0; i+1 < len(more); i += 2 {
		env[more[i]] = more[i+1]
	}
	return env
}

func runScan(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), append([]string{"skills", "scan"}, args...), func(k string) string { return env[k] }, &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestSkillsScan_DryRun(t *testing.T) {
	home, project := skillsTree(t)
	out, errOut, err := runScan(t, scanEnv(t, home, project), "--dry-run")
	if err != nil {
		t.Fatalf("scan: %v\n%s", err, errOut)
	}
	for _, want := range []string{"4 skills:", "pdf-report", "deploy", "project", "superpowers:brainstorming", "plugin",
		"2 MCP servers:", "github", "sentry", "dry run"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}
	if want := filepath.Join("broken", "SKILL.md") + ":3: bad YAML front matter"; !strings.Contains(errOut, want) {
		t.Errorf("stderr %q, want a warning %q", errOut, want)
	}
	if strings.Contains(out+errOut, scanSecret) {
		t.Errorf("the scan printed an MCP secret:\n%s%s", out, errOut)
	}
	// DIRs replace the default folders, before or after the flags.
	out, _, err = runScan(t, scanEnv(t, home, project), filepath.Join(project, ".claude", "skills"), "--dry-run")
	if err != nil || !strings.Contains(out, "1 skills:") || !strings.Contains(out, "deploy") {
		t.Errorf("scan DIR: %v\n%s", err, out)
	}
	if _, _, err := runScan(t, scanEnv(t, home, project), "--no-such-flag"); err != errUsage {
		t.Errorf("bad flag: %v, want a usage error", err)
	}
}

// Ensure a scan through a real serve process registers the skills, that
// the portfolio then shows the one never used, and that --if-changed
// sends only after a change.
func TestSkillsScan_Portfolio(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	addr := testkit.MustFreeAddr(t)
	srv := startBinary(t, nil, "serve", "--data-dir", t.TempDir(), "--http-addr", addr,
		"--nats-addr", testkit.MustFreeAddr(t), "--batch-wait", "20ms")
	mustWaitReady(t, srv, addr)
	url := "http://" + addr
	// deploy is used; pdf-report and the plugin's skill are not.
	code, err := testkit.PostJSON(http.DefaultClient, url+"/api/track",
		[]byte(`{"tool_name":"deploy","tool_category":"skill","status":"success"}`), nil, nil)
	if err != nil || code != http.StatusOK {
		t.Fatalf("track: %d %v", code, err)
	}

	home, project := skillsTree(t)
	env := scanEnv(t, home, project, "TRACKSKILLS_URL", url, "TRACKSKILLS_USER", "alice")
	var envList []string
	for k, v := range env {
		envList = append(envList, k+"="+v)
	}
	// The first scan is the binary's, as a SessionStart hook runs it.
	code, out, errOut := runBinary(t, nil, envList, "skills", "scan", "--if-changed")
	if code != 0 || !strings.Contains(out, "sent 4 skills and 2 MCP servers") || !strings.Contains(errOut, "bad YAML front matter") {
		t.Fatalf("scan: exit %d\n%s%s", code, out, errOut)
	}
	testkit.Eventually(t, 10*time.Second, func() error {
		resp, err := http.Get(url + "/analytics/portfolio?days=7")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var p analytics.PortfolioResponse
		if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
			return err
		}
		rows := map[string][]string{}
		for _, s := range p.Sections {
			for _, r := range s.Rows {
				rows[s.ID] = append(rows[s.ID], r.Name+": "+r.Fact)
			}
		}
		never := strings.Join(rows[analytics.SectionNeverUsed], "; ")
		if !strings.Contains(never, "pdf-report: registered by 1 user, no use in 7 days") ||
			!strings.Contains(never, "superpowers:brainstorming") || strings.Contains(never, "deploy") {
			return fmt.Errorf("never used: %q", never)
		}
		if mcp := strings.Join(rows[analytics.SectionMCPUnused], "; "); !strings.Contains(mcp, "github: configured by 1 user") {
			return fmt.Errorf("mcp unused: %q", mcp)
		}
		return nil
	})

	// Nothing changed: --if-changed sends nothing.
	out, errOut, err = runScan(t, env, "--if-changed")
	if err != nil || !strings.Contains(out, "unchanged") {
		t.Fatalf("--if-changed, unchanged: %v\n%s%s", err, out, errOut)
	}
	// A new skill is a change.
	lint := filepath.Join(project, ".claude", "skills", "lint", "SKILL.md")
	if err := os.MkdirAll(filepath.Dir(lint), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lint, []byte("---\nname: lint\ndescription: Lints\n---\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, err = runScan(t, env, "--if-changed")
	if err != nil || !strings.Contains(out, "sent 5 skills") {
		t.Fatalf("--if-changed, changed: %v\n%s%s", err, out, errOut)
	}
	// A server that is down is an error naming it.
	down := scanEnv(t, home, project, "TRACKSKILLS_URL", "http://"+testkit.MustFreeAddr(t))
	if _, _, err := runScan(t, down, "--timeout", "300ms"); err == nil || !strings.Contains(err.Error(), "send to") {
		t.Errorf("server down: %v, want a send error", err)
	}
}
