package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/trackskills/trackskills/claudecode"
	"github.com/trackskills/trackskills/testkit"
)

const otherSettings = `{
  "model": "opus",
  "permissions": {"allow": ["Bash(git *)"], "deny": []},
  "hooks": {
    "PostToolUse": [{"matcher": "Edit|Write", "hooks": [{"type": "command", "command": "prettier --write \"$FILE\""}]}],
    "Stop": [{"hooks": [{"type": "command", "command": "say done", "timeout": 5}]}]
  },
  "env": {"FOO": "1"},
  "statusLine": {"type": "command", "command": "~/bin/status"}
}`

func runInstall(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), append([]string{"hook"}, args...), func(string) string { return "" }, &out, &errOut)
	return out.String() + errOut.String(), err
}

func decodeJSONFile(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v\n%s", path, err, b)
	}
	return v
}

func TestHookInstall_KeepsEverythingElse(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ".claude", "settings.json")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(otherSettings), 0o644); err != nil {
		t.Fatal(err)
	}
	var original map[string]any
	if err := json.Unmarshal([]byte(otherSettings), &original); err != nil {
		t.Fatal(err)
	}

	// A dry run shows the change and writes nothing.
	out, err := runInstall(t, "install", "--project", dir, "--dry-run", "--url", "http://127.0.0.1:9999")
	if err != nil || !strings.Contains(out, "+ ") || !strings.Contains(out, "dry run") {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(path); string(b) != otherSettings {
		t.Fatal("the dry run changed the file")
	}

	out, err = runInstall(t, "install", "--project", dir, "--url", "http://127.0.0.1:9999")
	if err != nil {
		t.Fatalf("install: %v\n%s", err, out)
	}
	got := decodeJSONFile(t, path)
	for _, key := range []string{"model", "permissions", "statusLine"} {
		if !reflect.DeepEqual(got[key], original[key]) {
			t.Errorf("%s changed: %v, was %v", key, got[key], original[key])
		}
	}
	env := got["env"].(map[string]any)
	if env["FOO"] != "1" || env["TRACKSKILLS_URL"] != "http://127.0.0.1:9999" {
		t.Errorf("env %v: want FOO kept and TRACKSKILLS_URL set", env)
	}
	hooks := got["hooks"].(map[string]any)
	if !strings.Contains(mustJSON(t, hooks["PostToolUse"]), "prettier") || !strings.Contains(mustJSON(t, hooks["Stop"]), "say done") {
		t.Errorf("other hooks lost: %s", mustJSON(t, hooks))
	}
	if ours := testkit.CountOurHooks(got, "command"); !reflect.DeepEqual(ours, testkit.OnceEach(claudecode.HookEvents)) {
		t.Errorf("our command hooks: %v", ours)
	}
	if scans := scanHooks(got); scans != 1 {
		t.Errorf("%d SessionStart scan hooks, want 1: %s", scans, mustJSON(t, got["hooks"]))
	}
	backups, _ := filepath.Glob(path + ".bak-*")
	if len(backups) != 1 {
		t.Fatalf("backups %v, want one", backups)
	}
	if b, _ := os.ReadFile(backups[0]); string(b) != otherSettings {
		t.Error("the backup is not the old file")
	}
	// Key order is kept: the first keys are still model, permissions.
	if b, _ := os.ReadFile(path); !bytes.HasPrefix(b, []byte("{\n  \"model\": \"opus\",\n  \"permissions\"")) {
		t.Errorf("key order changed:\n%s", b)
	}

	// Idempotent.
	before, _ := os.ReadFile(path)
	out, err = runInstall(t, "install", "--project", dir, "--url", "http://127.0.0.1:9999")
	if after, _ := os.ReadFile(path); err != nil || !bytes.Equal(before, after) || !strings.Contains(out, "already up to date") {
		t.Errorf("second install: %v, changed=%v\n%s", err, !bytes.Equal(before, after), out)
	}

	// Switching to HTTP hooks replaces ours, nothing else.
	if out, err := runInstall(t, "install", "--project", dir, "--http", "--url", "http://127.0.0.1:9999"); err != nil {
		t.Fatalf("install --http: %v\n%s", err, out)
	}
	got = decodeJSONFile(t, path)
	if c, h := testkit.CountOurHooks(got, "command"), testkit.CountOurHooks(got, "http"); len(c) != 0 || !reflect.DeepEqual(h, testkit.OnceEach(claudecode.HTTPHookEvents)) {
		t.Errorf("after --http: command hooks %v, http hooks %v", c, h)
	}
	if scans := scanHooks(got); scans != 1 {
		t.Errorf("after --http: %d SessionStart scan hooks, want 1 (Claude Code runs only command hooks there)", scans)
	}
	if !strings.Contains(mustJSON(t, got["hooks"]), `"url":"http://127.0.0.1:9999/api/hooks/claude-code"`) {
		t.Errorf("http hook url: %s", mustJSON(t, got["hooks"]))
	}

	// Uninstall leaves the settings as they were.
	if out, err := runInstall(t, "uninstall", "--project", dir); err != nil {
		t.Fatalf("uninstall: %v\n%s", err, out)
	}
	if got := decodeJSONFile(t, path); !reflect.DeepEqual(got, original) {
		t.Errorf("after uninstall:\n%s\nwant\n%s", mustJSON(t, got), mustJSON(t, original))
	}
}

func TestHookInstall_UserAndErrors(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	if out, err := runInstall(t, "install"); err != nil {
		t.Fatalf("install into an empty home: %v\n%s", err, out)
	}
	got := decodeJSONFile(t, filepath.Join(home, ".claude", "settings.json"))
	if len(testkit.CountOurHooks(got, "command")) != len(claudecode.HookEvents) || scanHooks(got) != 1 {
		t.Errorf("user settings: %s", mustJSON(t, got))
	}
	bad := filepath.Join(t.TempDir(), "p")
	if err := os.MkdirAll(filepath.Join(bad, ".claude"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bad, ".claude", "settings.json"), []byte(`{"model": "opus",`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runInstall(t, "install", "--project", bad)
	if err == nil || !strings.Contains(err.Error(), "not valid JSON") {
		t.Errorf("broken settings: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(filepath.Join(bad, ".claude", "settings.json")); string(b) != `{"model": "opus",` {
		t.Error("a broken settings file was changed")
	}
	if _, err := runInstall(t, "install", "--user", "--project", bad); err == nil {
		t.Error("--user with --project: want a usage error")
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// hook install sets up the lean trackskills-hook when it sits beside
// trackskills, and recognises it as ours.
func TestHookInstall_PrefersTheLeanBinary(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "my bin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "trackskills")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, want := hookCommandFor(exe), "'"+exe+"' hook"; got != want {
		t.Errorf("without the lean binary: %q, want %q", got, want)
	}
	lean := filepath.Join(dir, "trackskills-hook")
	if err := os.WriteFile(lean, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := hookCommandFor(exe)
	if cmd != "'"+lean+"'" {
		t.Errorf("with the lean binary: %q, want %q", cmd, "'"+lean+"'")
	}
	if !claudecode.IsOurCommand(cmd, "trackskills hook") {
		t.Errorf("%q is not recognised as ours", cmd)
	}
}

// scanHooks counts the SessionStart command hooks that run the skill scan.
func scanHooks(settings map[string]any) int {
	n := 0
	hooks, _ := settings["hooks"].(map[string]any)
	groups, _ := hooks["SessionStart"].([]any)
	for _, g := range groups {
		for _, h := range g.(map[string]any)["hooks"].([]any) {
			hm := h.(map[string]any)
			if cmd, _ := hm["command"].(string); hm["type"] == "command" && strings.HasSuffix(cmd, " skills scan --if-changed") && hm["async"] == true {
				n++
			}
		}
	}
	return n
}

// --managed writes the entries into a managed-settings file for every user
// of a machine: commands on the PATH, the server's URL, and with --http the
// hook URL allowed; the file's other settings stay, uninstall takes ours
// out, and "-" prints the file without writing anything.
func TestHookInstall_Managed(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "managed-settings.json")
	if err := os.WriteFile(path, []byte(`{"allowManagedHooksOnly": true, "allowedHttpHookUrls": ["https://other.example.com/hook"]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := runInstall(t, "install", "--managed", path, "--url", "https://ts.example.com/"); err != nil {
		t.Fatalf("install: %v\n%s", err, out)
	}
	got := decodeJSONFile(t, path)
	hooks, _ := got["hooks"].(map[string]any)
	if len(hooks) != len(claudecode.HookEvents) {
		t.Fatalf("hooks for %d events, want %d: %v", len(hooks), len(claudecode.HookEvents), got)
	}
	post, _ := json.Marshal(hooks["PostToolUse"])
	if !strings.Contains(string(post), `"command":"trackskills-hook"`) || strings.Contains(string(post), dir) {
		t.Errorf("PostToolUse %s: want the hook on the PATH, no path of this machine", post)
	}
	start, _ := json.Marshal(hooks["SessionStart"])
	if !strings.Contains(string(start), "trackskills skills scan --if-changed") {
		t.Errorf("SessionStart %s: want the scan", start)
	}
	if env, _ := got["env"].(map[string]any); env[claudecode.URLEnv] != "https://ts.example.com" {
		t.Errorf("env %v: want the server's URL", got["env"])
	}
	if got["allowManagedHooksOnly"] != true {
		t.Errorf("the file's own setting is gone: %v", got)
	}

	// HTTP hooks: the URL allowed beside the other one; twice changes nothing.
	for range 2 {
		if out, err := runInstall(t, "install", "--managed", path, "--http", "--url", "https://ts.example.com"); err != nil {
			t.Fatalf("install --http: %v\n%s", err, out)
		}
	}
	got = decodeJSONFile(t, path)
	if urls := fmt.Sprint(got[claudecode.AllowedHTTPHookURLs]); urls != "[https://other.example.com/hook https://ts.example.com/api/hooks/claude-code]" {
		t.Errorf("allowedHttpHookUrls %s", urls)
	}
	post, _ = json.Marshal(got["hooks"].(map[string]any)["PostToolUse"])
	if strings.Count(string(post), `"type":"http"`) != 1 || strings.Contains(string(post), "trackskills-hook") {
		t.Errorf("PostToolUse %s: want one HTTP hook, the command hook replaced", post)
	}

	// Printed: the file is what install would write, and nothing is written.
	before, _ := os.ReadFile(path)
	out, err := runInstall(t, "install", "--managed", "-", "--hook-command", "/opt/trackskills/bin/trackskills-hook")
	if err != nil || !strings.Contains(out, `"/opt/trackskills/bin/trackskills-hook"`) || !json.Valid([]byte(out)) {
		t.Errorf("printed: %v\n%s", err, out)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("--managed - wrote the file")
	}

	if out, err := runInstall(t, "uninstall", "--managed", path); err != nil {
		t.Fatalf("uninstall: %v\n%s", err, out)
	}
	got = decodeJSONFile(t, path)
	if got["hooks"] != nil || got["env"] != nil || fmt.Sprint(got[claudecode.AllowedHTTPHookURLs]) != "[https://other.example.com/hook]" ||
		got["allowManagedHooksOnly"] != true {
		t.Errorf("after uninstall: %v, want the file as it was", got)
	}
	if out, err := runInstall(t, "install", "--managed", path, "--project", dir); err == nil {
		t.Errorf("--managed with --project: no error\n%s", out)
	}

	// The force-enabled plugin: its marketplace and its entry, the URL in
	// the env block, no hook entries of ours; uninstall takes them out.
	for _, tt := range []struct{ market, want string }{
		{"", `{"source":{"repo":"trackskills/trackskills","source":"github"}}`},
		{"https://git.example.com/platform/trackskills.git", `{"source":{"source":"git","url":"https://git.example.com/platform/trackskills.git"}}`},
	} {
		args := []string{"install", "--managed", path, "--plugin", "--url", "https://ts.example.com"}
		if tt.market != "" {
			args = append(args, "--marketplace", tt.market)
		}
		if out, err := runInstall(t, args...); err != nil {
			t.Fatalf("install --plugin: %v\n%s", err, out)
		}
		got = decodeJSONFile(t, path)
		market, _ := json.Marshal(got["extraKnownMarketplaces"].(map[string]any)[claudecode.MarketplaceName])
		if string(market) != tt.want || got["enabledPlugins"].(map[string]any)[claudecode.PluginID] != true || got["hooks"] != nil {
			t.Errorf("--plugin %q: marketplace %s, enabledPlugins %v, hooks %v", tt.market, market, got["enabledPlugins"], got["hooks"])
		}
		if env, _ := got["env"].(map[string]any); env[claudecode.URLEnv] != "https://ts.example.com" || got["allowManagedHooksOnly"] != true {
			t.Errorf("--plugin: %v", got)
		}
	}
	if out, err := runInstall(t, "uninstall", "--managed", path); err != nil {
		t.Fatalf("uninstall: %v\n%s", err, out)
	}
	got = decodeJSONFile(t, path)
	if got["enabledPlugins"] != nil || got["extraKnownMarketplaces"] != nil || got["env"] != nil || got["allowManagedHooksOnly"] != true {
		t.Errorf("after uninstall of the plugin: %v", got)
	}
	for _, bad := range [][]string{
		{"install", "--plugin"},
		{"install", "--managed", "-", "--plugin", "--http"},
		{"install", "--managed", "-", "--plugin", "--marketplace", "not a repo"},
	} {
		if out, err := runInstall(t, bad...); err == nil {
			t.Errorf("%v: no error\n%s", bad, out)
		}
	}
}

// hook install --relay: HTTP hooks to the relay without the key, the
// server's URL for the scan, and the user service that runs the relay
// (its key in a file of the user's own); --dry-run prints it and writes
// nothing; uninstall removes it all.
func TestHookInstall_Relay(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	env := map[string]string{"TRACKSKILLS_KEY": "relay-secret"}
	hook := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if err := run(context.Background(), append([]string{"hook"}, args...), func(k string) string { return env[k] }, &out, &errOut); err != nil {
			t.Fatalf("hook %v: %v\n%s%s", args, err, out.String(), errOut.String())
		}
		return out.String()
	}
	settingsPath := filepath.Join(home, ".claude", "settings.json")
	unit := filepath.Join(home, ".config", "systemd", "user", "trackskills-relay.service")
	keyFile := filepath.Join(home, ".config", "trackskills", "relay.key")

	out := hook("install", "--relay", "--url", "https://ts.example.com/", "--service", "launchd", "--dry-run")
	if !strings.Contains(out, "<string>relay</string>") || !strings.Contains(out, "<string>https://ts.example.com</string>") ||
		!strings.Contains(out, "would run: launchctl bootstrap") || strings.Contains(out, "relay-secret") {
		t.Errorf("dry run:\n%s", out)
	}
	if _, err := os.Stat(settingsPath); err == nil {
		t.Error("--dry-run wrote the settings")
	}

	out = hook("install", "--relay", "--url", "https://ts.example.com/", "--service", "systemd", "--no-start")
	if !strings.Contains(out, "to start it: systemctl --user enable --now trackskills-relay.service") {
		t.Errorf("install:\n%s", out)
	}
	got := decodeJSONFile(t, settingsPath)
	hooks := got["hooks"].(map[string]any)
	if n := testkit.CountOurHooks(got, "http"); len(n) != len(claudecode.HTTPHookEvents) {
		t.Errorf("HTTP hooks on %v, want %v", n, claudecode.HTTPHookEvents)
	}
	post, _ := json.Marshal(hooks["PostToolUse"])
	if !strings.Contains(string(post), `"url":"http://127.0.0.1:7718/api/hooks/claude-code"`) || strings.Contains(string(post), "Authorization") {
		t.Errorf("PostToolUse %s: want the relay's URL and no key", post)
	}
	if env, _ := got["env"].(map[string]any); env[claudecode.URLEnv] != "https://ts.example.com" {
		t.Errorf("env %v: want the server's URL, for the scan", got["env"])
	}
	b, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "relay --url https://ts.example.com --listen 127.0.0.1:7718 --key-file "+keyFile) ||
		strings.Contains(string(b), "relay-secret") || !strings.Contains(string(b), "WantedBy=default.target") {
		t.Errorf("unit:\n%s", b)
	}
	if st, err := os.Stat(keyFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v %v, want mode 0600", st, err)
	} else if k, _ := os.ReadFile(keyFile); strings.TrimSpace(string(k)) != "relay-secret" {
		t.Errorf("key file holds %q", k)
	}

	hook("uninstall", "--relay", "--service", "systemd", "--no-start")
	for _, p := range []string{unit, keyFile} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s is still there after uninstall", p)
		}
	}
	if got := decodeJSONFile(t, settingsPath); got["hooks"] != nil || got["env"] != nil {
		t.Errorf("settings after uninstall: %v", got)
	}

	out = hook("uninstall", "--relay", "--service", "none")
	if !strings.Contains(out, "no user service to remove") {
		t.Errorf("uninstall --service none:\n%s", out)
	}
}

// A flag that would be ignored, or a relay address a hook cannot name, is
// a usage error that says what to fix, and writes nothing.
func TestHookInstall_UsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"relay with http", []string{"--relay", "--http"}, "--relay is for this user's settings"},
		{"relay beyond loopback", []string{"--relay", "--relay-listen", "0.0.0.0:7718"}, "not a loopback address"},
		{"relay on any free port", []string{"--relay", "--relay-listen", "127.0.0.1:0"}, "need a fixed port"},
		{"relay port not a number", []string{"--relay", "--relay-listen", "127.0.0.1:http"}, "need a fixed port"},
		{"unknown service", []string{"--relay", "--service", "cron"}, "want systemd, launchd, none or auto"},
		{"relay-listen without relay", []string{"--relay-listen", "127.0.0.1:7719"}, "--relay-listen goes with --relay"},
		{"service without relay", []string{"--service", "none"}, "--service goes with --relay"},
		{"no-start without relay", []string{"--no-start"}, "--no-start goes with --relay"},
		{"marketplace without plugin", []string{"--marketplace", "acme/skills"}, "--marketplace goes with --managed --plugin"},
		{"plugin without managed", []string{"--plugin"}, "go with --managed"},
		{"user and project", []string{"--user", "--project", "p"}, "use one of --user, --project and --managed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			t.Setenv("HOME", home)
			for _, verb := range []string{"install", "uninstall"} {
				out, err := runInstall(t, append([]string{verb}, tt.args...)...)
				if !errors.Is(err, errUsage) || !strings.Contains(out, tt.want) {
					t.Errorf("%s %v: %v, want a usage error saying %q\n%s", verb, tt.args, err, tt.want, out)
				}
			}
			if entries, _ := os.ReadDir(home); len(entries) != 0 {
				t.Errorf("a refused command wrote into the home: %v", entries)
			}
		})
	}
}
