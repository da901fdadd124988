package skillscan_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trackskills/trackskills/skillscan"
)

// secret is in every MCP configuration of the tree: no scan result may
// hold it.
const secret = "sk-live-DO-NOT-SEND-0123456789"

// write creates path under root with body, and its folders.
func write(t *testing.T, root, path, body string) string {
	t.Helper()
	full := filepath.Join(root, path)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return full
}

// tree is a home and a project with user, project and plugin skills, and
// MCP servers in each configuration file.
type tree struct{ home, project, plugin string }

func mustTree(t *testing.T) tree {
	t.Helper()
	root := t.TempDir()
	tr := tree{home: filepath.Join(root, "home"), project: filepath.Join(root, "proj"),
		plugin: filepath.Join(root, "home", ".claude", "plugins", "cache", "mkt", "superpowers", "4.0.3")}
	write(t, tr.home, ".claude/skills/pdf-report/SKILL.md", "---\nname: pdf-report\ndescription: >\n  Makes PDF\n  reports.\n---\n# PDF\nbody\n")
	write(t, tr.home, ".claude/skills/no-name/SKILL.md", "---\ndescription: Uses its folder's name\n---\n")
	write(t, tr.home, ".claude/skills/broken/SKILL.md", "---\nname: broken\ndescription: [a, b]\n---\n")
	write(t, tr.home, ".claude/skills/notes.txt", "not a skill")
	write(t, tr.home, ".claude/skills/empty-dir/README.md", "no SKILL.md here")
	write(t, tr.project, ".claude/skills/deploy/SKILL.md", "---\nname: deploy\ndescription: Deploys the app\n---\n")
	write(t, tr.plugin, "skills/brainstorming/SKILL.md", "---\nname: brainstorming\ndescription: Ideas first\n---\n")
	write(t, tr.plugin, ".mcp.json", `{"mcpServers":{"notes":{"command":"notes-mcp","env":{"TOKEN":"`+secret+`"}}}}`)
	installed, _ := json.Marshal(map[string]any{"version": 2, "plugins": map[string]any{
		"superpowers@mkt": []any{map[string]any{"scope": "user", "installPath": tr.plugin, "version": "4.0.3"}},
	}})
	write(t, tr.home, ".claude/plugins/installed_plugins.json", string(installed))
	write(t, tr.home, ".claude.json", `{"numStartups": 41, "mcpServers": {"github": {"type":"http","url":"https://x.example/mcp?key=`+secret+`",
		"headers":{"Authorization":"Bearer `+secret+`"}}},
		"projects": {"/some/dir": {"mcpServers": {"postgres": {"command":"pg","args":["postgres://u:`+secret+`@db/x"]}}}}}`)
	write(t, tr.project, ".mcp.json", `{"mcpServers":{"sentry":{"command":"sentry-mcp","env":{"SENTRY_TOKEN":"`+secret+`"}}}}`)
	return tr
}

func TestScan_Tree(t *testing.T) {
	tr := mustTree(t)
	inv, err := skillscan.Scan(skillscan.Config{Home: tr.home, ProjectDir: tr.project})
	if err != nil {
		t.Fatal(err)
	}
	type skill struct{ name, desc, source, plugin string }
	var got []skill
	for _, s := range inv.Skills {
		got = append(got, skill{s.Name, s.Description, s.Source, s.Plugin})
		if s.SizeBytes <= 0 {
			t.Errorf("%s: size %d", s.Name, s.SizeBytes)
		}
	}
	want := []skill{
		{"broken", "", "user", ""},
		{"deploy", "Deploys the app", "project", ""},
		{"no-name", "Uses its folder's name", "user", ""},
		{"pdf-report", "Makes PDF reports.", "user", ""},
		{"superpowers:brainstorming", "Ideas first", "plugin", "superpowers"},
	}
	if len(got) != len(want) {
		t.Fatalf("skills %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("skill %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	var servers []string
	for _, m := range inv.MCPServers {
		servers = append(servers, m.Name+"/"+m.Source)
	}
	if got, want := strings.Join(servers, " "), "github/user plugin_superpowers_notes/plugin postgres/local sentry/project"; got != want {
		t.Errorf("servers %q, want %q", got, want)
	}
	if len(inv.Warnings) != 1 {
		t.Fatalf("warnings %v, want one (broken)", inv.Warnings)
	}
	w := inv.Warnings[0]
	if !strings.HasSuffix(w.File, filepath.Join("broken", "SKILL.md")) || w.Line != 3 || !strings.Contains(w.String(), ":3: bad YAML front matter") {
		t.Errorf("warning %q (line %d): want broken/SKILL.md at line 3", w.String(), w.Line)
	}
	// Ensure nothing of an MCP server's configuration but its name is kept.
	blob, _ := json.Marshal(inv)
	if strings.Contains(string(blob), secret) || strings.Contains(string(blob), "sentry-mcp") {
		t.Errorf("inventory holds an MCP configuration: %s", blob)
	}
}

func TestScan_Dirs(t *testing.T) {
	tr := mustTree(t)
	inv, err := skillscan.Scan(skillscan.Config{Home: tr.home, Dirs: []string{filepath.Join(tr.project, ".claude", "skills")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Skills) != 1 || inv.Skills[0].Name != "deploy" || inv.Skills[0].Source != "dir" {
		t.Errorf("skills %+v, want deploy from dir only", inv.Skills)
	}
	if len(inv.MCPServers) != 3 {
		t.Errorf("servers %+v: ~/.claude.json and the plugin's are read with DIRs too", inv.MCPServers)
	}
}

func TestScan_Fingerprint(t *testing.T) {
	tr := mustTree(t)
	cfg := skillscan.Config{Home: tr.home, ProjectDir: tr.project}
	scan := func() string {
		t.Helper()
		inv, err := skillscan.Scan(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return inv.Fingerprint
	}
	first := scan()
	if scan() != first {
		t.Fatal("fingerprint changed with nothing changed")
	}
	// Claude Code rewrites ~/.claude.json all the time: that alone is no
	// change.
	write(t, tr.home, ".claude.json", `{"numStartups": 42, "mcpServers": {"github": {"url":"https://x"}},
		"projects": {"/some/dir": {"mcpServers": {"postgres": {}}}}}`)
	if scan() != first {
		t.Error("fingerprint changed with ~/.claude.json's servers unchanged")
	}
	steps := []struct {
		name   string
		change func()
	}{
		{"skill edited", func() {
			p := write(t, tr.home, ".claude/skills/pdf-report/SKILL.md", "---\nname: pdf-report\ndescription: Longer now\n---\n")
			later := time.Now().Add(time.Hour)
			_ = os.Chtimes(p, later, later) // the size changed too
		}},
		{"skill added", func() { write(t, tr.project, ".claude/skills/lint/SKILL.md", "---\nname: lint\ndescription: x\n---\n") }},
		{"server added", func() { write(t, tr.home, ".claude.json", `{"mcpServers": {"github": {}, "linear": {}}}`) }},
	}
	prev := first
	for _, st := range steps {
		st.change()
		if now := scan(); now == prev {
			t.Errorf("%s: fingerprint unchanged", st.name)
		} else {
			prev = now
		}
	}
}

func TestCleanDescription(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "Makes reports", "Makes reports"},
		{"folded", "  Makes\n\tPDF  reports\n", "Makes PDF reports"},
		{"control", "a\x00b\x1bc", "abc"},
		{"long", strings.Repeat("é", 2000), strings.Repeat("é", skillscan.MaxDescription)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := skillscan.CleanDescription(tt.in); got != tt.want {
				t.Errorf("CleanDescription(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
