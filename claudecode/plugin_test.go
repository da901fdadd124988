package claudecode_test

import (
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/trackskills/trackskills/claudecode"
	"github.com/trackskills/trackskills/claudecode/hookcmd"
	"github.com/trackskills/trackskills/testkit"
)

// The fixtures under testdata/plugins follow the documented examples of
// plugin.json, hooks.json and marketplace.json; each holds no problem.
func TestPluginSchema_DocumentedShapes(t *testing.T) {
	for _, tt := range []struct {
		file  string
		check func([]byte) []claudecode.Problem
	}{
		{"manifest.json", func(b []byte) []claudecode.Problem { return claudecode.CheckPluginManifest(b, "") }},
		{"hooks.json", claudecode.CheckHooksFile},
		{"marketplace.json", func(b []byte) []claudecode.Problem { return claudecode.CheckMarketplace(b, "") }},
	} {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "plugins", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if ps := tt.check(data); len(ps) > 0 {
				t.Errorf("problems in a documented shape: %v", ps)
			}
		})
	}
}

// Each documented rule, broken once, is reported at its place.
func TestPluginSchema_BrokenRules(t *testing.T) {
	manifest := func(b string) []claudecode.Problem { return claudecode.CheckPluginManifest([]byte(b), "") }
	hooks := func(b string) []claudecode.Problem { return claudecode.CheckHooksFile([]byte(b)) }
	market := func(b string) []claudecode.Problem { return claudecode.CheckMarketplace([]byte(b), "") }
	const meta = `"version":"1","description":"d","author":{"name":"a"}`
	for _, tt := range []struct {
		name        string
		check       func(string) []claudecode.Problem
		doc         string
		wantPath    string
		wantWarning bool
	}{
		{"name required", manifest, `{` + meta + `}`, "name", false},
		{"name with a colon", manifest, `{"name":"a:b",` + meta + `}`, "name", false},
		{"name not kebab-case", manifest, `{"name":"MyPlugin",` + meta + `}`, "name", true},
		{"unknown top-level field", manifest, `{"name":"p",` + meta + `,"colour":"red"}`, "colour", true},
		{"version missing", manifest, `{"name":"p","description":"d","author":{"name":"a"}}`, "version", true},
		{"author without a name", manifest, `{"name":"p","version":"1","description":"d","author":{}}`, "author.name", false},
		{"homepage not a URL", manifest, `{"name":"p",` + meta + `,"homepage":"docs"}`, "homepage", false},
		{"path without ./", manifest, `{"name":"p",` + meta + `,"agents":["agents/a.md"]}`, "agents[0]", false},
		{"path escaping the root", manifest, `{"name":"p",` + meta + `,"outputStyles":"./../styles"}`, "outputStyles", false},
		{"userConfig key not an identifier", manifest,
			`{"name":"p",` + meta + `,"userConfig":{"2key":{"type":"string","title":"t","description":"d"}}}`, "userConfig.2key", false},
		{"userConfig unknown key", manifest,
			`{"name":"p",` + meta + `,"userConfig":{"k":{"type":"string","title":"t","description":"d","secret":true}}}`, "userConfig.k.secret", false},
		{"userConfig bad type", manifest,
			`{"name":"p",` + meta + `,"userConfig":{"k":{"type":"url","title":"t","description":"d"}}}`, "userConfig.k.type", false},
		{"userConfig title required", manifest,
			`{"name":"p",` + meta + `,"userConfig":{"k":{"type":"string","description":"d"}}}`, "userConfig.k.title", false},
		{"userConfig options on a sensitive field", manifest,
			`{"name":"p",` + meta + `,"userConfig":{"k":{"type":"string","title":"t","description":"d","sensitive":true,"options":["a"],"required":true}}}`, "userConfig.k.options", false},
		{"userConfig default outside the options", manifest,
			`{"name":"p",` + meta + `,"userConfig":{"k":{"type":"string","title":"t","description":"d","options":["a","b"],"default":"c"}}}`, "userConfig.k.default", false},
		{"userConfig options and default both arrays", manifest,
			`{"name":"p",` + meta + `,"userConfig":{"k":{"type":"string","title":"t","description":"d","options":[["a"]],"default":["a"]}}}`, "userConfig.k.options[0]", false},
		{"userConfig min on a string", manifest,
			`{"name":"p",` + meta + `,"userConfig":{"k":{"type":"string","title":"t","description":"d","min":1}}}`, "userConfig.k.min", false},
		{"unknown hook event", hooks, `{"hooks":{"AfterTool":[]}}`, "hooks.AfterTool", false},
		{"handler type", hooks, `{"hooks":{"Stop":[{"hooks":[{"type":"script","command":"x"}]}]}}`, "hooks.Stop[0].hooks[0].type", false},
		{"command required", hooks, `{"hooks":{"Stop":[{"hooks":[{"type":"command"}]}]}}`, "hooks.Stop[0].hooks[0].command", false},
		{"url required", hooks, `{"hooks":{"Stop":[{"hooks":[{"type":"http"}]}]}}`, "hooks.Stop[0].hooks[0].url", false},
		{"user_config in shell form", hooks,
			`{"hooks":{"Stop":[{"hooks":[{"type":"command","command":"notify ${user_config.url}"}]}]}}`, "hooks.Stop[0].hooks[0].command", false},
		{"exec form with the arguments in command", hooks,
			`{"hooks":{"Stop":[{"hooks":[{"type":"command","command":"node script.js","args":[]}]}]}}`, "hooks.Stop[0].hooks[0].command", false},
		{"timeout of 0", hooks, `{"hooks":{"Stop":[{"hooks":[{"type":"command","command":"x","timeout":0}]}]}}`, "hooks.Stop[0].hooks[0].timeout", false},
		{"matcher groups not an array", hooks, `{"hooks":{"Stop":{"hooks":[]}}}`, "hooks.Stop", false},
		{"hooks member required", hooks, `{"description":"d"}`, "hooks", false},
		{"marketplace owner required", market, `{"name":"m","description":"d","plugins":[]}`, "owner", false},
		{"marketplace reserved name", market, `{"name":"claude-plugins-official","owner":{"name":"o"},"description":"d","plugins":[]}`, "name", false},
		{"plugin entry source required", market, `{"name":"m","owner":{"name":"o"},"description":"d","plugins":[{"name":"p"}]}`, "plugins[0].source", false},
		{"relative source without ./", market,
			`{"name":"m","owner":{"name":"o"},"description":"d","plugins":[{"name":"p","source":"plugins/p"}]}`, "plugins[0].source", false},
		{"github source without a repo", market,
			`{"name":"m","owner":{"name":"o"},"description":"d","plugins":[{"name":"p","source":{"source":"github"}}]}`, "plugins[0].source.repo", false},
		{"hooks path in an entry", market,
			`{"name":"m","owner":{"name":"o"},"description":"d","plugins":[{"name":"p","source":"./p","hooks":"./h.json"}]}`, "plugins[0].hooks", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ps := tt.check(tt.doc)
			i := slices.IndexFunc(ps, func(p claudecode.Problem) bool { return p.Path == tt.wantPath })
			if i < 0 {
				t.Fatalf("no problem at %s; got %v", tt.wantPath, ps)
			}
			if ps[i].Warning != tt.wantWarning {
				t.Errorf("%v: warning=%v, want %v", ps[i], ps[i].Warning, tt.wantWarning)
			}
		})
	}
}

// Track Skills' own plugin and marketplace pass the documented schema
// without a warning, and the plugin's hooks are the command hook's:
// every event of HookEvents runs `trackskills hook` in exec form, async,
// and SessionStart also registers the skills.
func TestTrackSkillsPlugin(t *testing.T) {
	root := testkit.ModuleRoot(t)
	dir := filepath.Join(root, "integrations", "claude-code")
	for _, tt := range []struct {
		path  string
		check func([]byte) []claudecode.Problem
	}{
		{filepath.Join(dir, ".claude-plugin", "plugin.json"), func(b []byte) []claudecode.Problem { return claudecode.CheckPluginManifest(b, dir) }},
		{filepath.Join(dir, "hooks", "hooks.json"), claudecode.CheckHooksFile},
		{filepath.Join(root, ".claude-plugin", "marketplace.json"), func(b []byte) []claudecode.Problem { return claudecode.CheckMarketplace(b, root) }},
	} {
		data, err := os.ReadFile(tt.path)
		if err != nil {
			t.Fatal(err)
		}
		if ps := tt.check(data); len(ps) > 0 {
			t.Errorf("%s: %v", tt.path, ps)
		}
	}

	var manifest struct {
		UserConfig map[string]struct {
			Sensitive bool `json:"sensitive"`
		} `json:"userConfig"`
	}
	mustReadJSON(t, filepath.Join(dir, ".claude-plugin", "plugin.json"), &manifest)
	// The options are the ones hookcmd reads, as Claude Code exports them
	// (CLAUDE_PLUGIN_OPTION_ and the key in upper case).
	for key, env := range map[string]string{"server_url": hookcmd.PluginOptionURL, "ingest_key": hookcmd.PluginOptionKey} {
		if _, ok := manifest.UserConfig[key]; !ok || env != "CLAUDE_PLUGIN_OPTION_"+strings.ToUpper(key) {
			t.Errorf("userConfig %s (read as %s): missing, or not the variable Claude Code sets", key, env)
		}
	}
	if !manifest.UserConfig["ingest_key"].Sensitive {
		t.Error("ingest_key is not sensitive: Claude Code would keep it in settings.json")
	}

	var hooks struct {
		Hooks map[string][]struct {
			Matcher string `json:"matcher"`
			Hooks   []struct {
				Type    string   `json:"type"`
				Command string   `json:"command"`
				Args    []string `json:"args"`
				Async   bool     `json:"async"`
			} `json:"hooks"`
		} `json:"hooks"`
	}
	mustReadJSON(t, filepath.Join(dir, "hooks", "hooks.json"), &hooks)
	got := map[string]int{}
	scans := 0
	for event, groups := range hooks.Hooks {
		for _, g := range groups {
			for _, h := range g.Hooks {
				if h.Type != "command" || h.Command != "trackskills" || !h.Async || h.Args == nil {
					t.Errorf("%s: %+v, want an async exec-form trackskills command", event, h)
				}
				switch strings.Join(h.Args, " ") {
				case "hook":
					got[event]++
				case "skills scan --if-changed":
					if event != claudecode.SessionStart {
						t.Errorf("the skill scan runs on %s", event)
					}
					scans++
				default:
					t.Errorf("%s: args %q", event, h.Args)
				}
			}
		}
	}
	if want := testkit.OnceEach(claudecode.HookEvents); !maps.Equal(got, want) {
		t.Errorf("plugin hook events %v, want %v", got, want)
	}
	if scans != 1 {
		t.Errorf("%d skill scans on SessionStart, want 1", scans)
	}
}

// With Claude Code itself at hand (on the PATH, or TRACKSKILLS_CLAUDE;
// .ci/run installs it from npm, and with CI=true its absence fails the
// test), `claude plugin validate --strict` passes
// the plugin and the marketplace, and `claude plugin install` takes the
// plugin from this repository's marketplace with its options.
func TestTrackSkillsPlugin_ClaudeValidate(t *testing.T) {
	claude := os.Getenv("TRACKSKILLS_CLAUDE")
	if claude == "" {
		var err error
		if claude, err = exec.LookPath("claude"); err != nil {
			msg := "Claude Code is not installed (npm install -g @anthropic-ai/claude-code, or set TRACKSKILLS_CLAUDE)"
			if os.Getenv("CI") == "true" {
				t.Fatal(msg + "; .ci/run installs it")
			}
			t.Skip(msg)
		}
	}
	root := testkit.ModuleRoot(t)
	home := t.TempDir()
	env := []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "DISABLE_AUTOUPDATER=1",
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", "DISABLE_TELEMETRY=1"}
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(claude, args...)
		cmd.Env, cmd.Dir = env, home
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("claude %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("plugin", "validate", "--strict", filepath.Join(root, "integrations", "claude-code"))
	run("plugin", "validate", "--strict", root)
	run("plugin", "marketplace", "add", root)
	run("plugin", "install", "trackskills@trackskills", "--config", "server_url=https://ts.example.org")

	var settings struct {
		EnabledPlugins map[string]bool `json:"enabledPlugins"`
		PluginConfigs  map[string]struct {
			Options map[string]string `json:"options"`
		} `json:"pluginConfigs"`
	}
	mustReadJSON(t, filepath.Join(home, ".claude", "settings.json"), &settings)
	if !settings.EnabledPlugins["trackskills@trackskills"] {
		t.Errorf("enabledPlugins %v: the plugin is not enabled", settings.EnabledPlugins)
	}
	if got := settings.PluginConfigs["trackskills@trackskills"].Options["server_url"]; got != "https://ts.example.org" {
		t.Errorf("server_url option %q", got)
	}
}

func mustReadJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// The checkers read files an administrator hands them, so no input may
// panic them; each reports problems or none.
func FuzzCheckPlugin(f *testing.F) {
	for _, file := range []string{
		"../integrations/claude-code/.claude-plugin/plugin.json",
		"../integrations/claude-code/hooks/hooks.json",
		"../.claude-plugin/marketplace.json",
		"testdata/plugins/manifest.json",
		"testdata/plugins/hooks.json",
		"testdata/plugins/marketplace.json",
	} {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// Component paths are looked up under the real plugin folder, so
		// the on-disk checks run too; they only stat.
		claudecode.CheckPluginManifest(data, "../integrations/claude-code")
		claudecode.CheckHooksFile(data)
		claudecode.CheckMarketplace(data, "..")
	})
}
