package claudecode_test

import (
	"encoding/json"
	"errors"
	"os"
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

func mustParseSettings(t *testing.T, s string) *claudecode.Settings {
	t.Helper()
	st, err := claudecode.ParseSettings([]byte(s))
	if err != nil {
		t.Fatalf("parse settings: %v\n%s", err, s)
	}
	return st
}

func decodeMap(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	return v
}

func TestParseSettings(t *testing.T) {
	for _, tt := range []struct {
		name     string
		in       string
		wantKeys []string
		wantErr  error // nil: no error; errAny: some error
	}{
		{name: "Empty", in: ""},
		{name: "Blank", in: " \n\t"},
		{name: "EmptyObject", in: "{}"},
		{name: "KeysInOrder", in: `{"z": 1, "a": {"y": 2, "b": 3}, "m": []}`, wantKeys: []string{"z", "a", "m"}},
		{name: "ErrNotJSON", in: `{"model": "opus",`, wantErr: errAny},
		{name: "ErrTrailingData", in: `{} {}`, wantErr: errAny},
		{name: "ErrArray", in: `[1, 2]`, wantErr: claudecode.ErrNotObject},
		{name: "ErrString", in: `"settings"`, wantErr: claudecode.ErrNotObject},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st, err := claudecode.ParseSettings([]byte(tt.in))
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("err=%v, want nil", err)
			case tt.wantErr == errAny && err == nil:
				t.Fatal("err=nil, want an error")
			case tt.wantErr != nil && tt.wantErr != errAny && !errors.Is(err, tt.wantErr):
				t.Fatalf("err=%v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if got := st.Keys(); !reflect.DeepEqual(got, tt.wantKeys) && (len(got) != 0 || len(tt.wantKeys) != 0) {
				t.Fatalf("keys=%v, want %v", got, tt.wantKeys)
			}
		})
	}
}

var errAny = errors.New("any error")

func TestSettings_Encode(t *testing.T) {
	for _, tt := range []struct {
		name, in, want string
	}{
		{"Empty", "", "{}\n"},
		{"Indented", `{"b":1,"a":[true,null,"x"],"c":{},"d":[]}`,
			"{\n  \"b\": 1,\n  \"a\": [\n    true,\n    null,\n    \"x\"\n  ],\n  \"c\": {},\n  \"d\": []\n}\n"},
		{"NumbersAsWritten", `{"n": 1.50, "big": 12345678901234567890}`, "{\n  \"n\": 1.50,\n  \"big\": 12345678901234567890\n}\n"},
		{"NoHTMLEscape", `{"cmd": "a && b <c>"}`, "{\n  \"cmd\": \"a && b <c>\"\n}\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(mustParseSettings(t, tt.in).Encode()); got != tt.want {
				t.Fatalf("encode=\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestSettings_AddHooks(t *testing.T) {
	const url = "http://127.0.0.1:9999"
	for _, tt := range []struct {
		name        string
		in          string
		cfg         claudecode.HookConfig
		wantCommand map[string]int
		wantHTTP    map[string]int
		wantScan    map[string]int
		wantEnv     map[string]any
	}{
		{
			name:        "CommandIntoEmpty",
			cfg:         claudecode.HookConfig{URL: url, Command: "trackskills hook"},
			wantCommand: testkit.OnceEach(claudecode.HookEvents),
			wantEnv:     map[string]any{"TRACKSKILLS_URL": url},
		},
		{
			name:     "HTTPIntoEmpty",
			cfg:      claudecode.HookConfig{HTTP: true, URL: url},
			wantHTTP: testkit.OnceEach(claudecode.HTTPHookEvents),
		},
		{
			name:        "CommandBesideOthers",
			in:          otherSettings,
			cfg:         claudecode.HookConfig{URL: url, Command: "/opt/bin/trackskills-hook"},
			wantCommand: testkit.OnceEach(claudecode.HookEvents),
			wantEnv:     map[string]any{"FOO": "1", "TRACKSKILLS_URL": url},
		},
		{
			name:        "CommandWithScan",
			cfg:         claudecode.HookConfig{URL: url, Command: "trackskills hook", ScanCommand: scanCommand},
			wantCommand: testkit.OnceEach(claudecode.HookEvents),
			wantScan:    map[string]int{"SessionStart": 1},
			wantEnv:     map[string]any{"TRACKSKILLS_URL": url},
		},
		{
			name:     "HTTPWithScan",
			cfg:      claudecode.HookConfig{HTTP: true, URL: url, ScanCommand: scanCommand},
			wantHTTP: testkit.OnceEach(claudecode.HTTPHookEvents),
			wantScan: map[string]int{"SessionStart": 1},
			wantEnv:  map[string]any{"TRACKSKILLS_URL": url},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := mustParseSettings(t, tt.in)
			st.AddHooks(tt.cfg)
			got := decodeMap(t, st.Encode())
			if c := countCommand(got, tt.cfg.Command); (len(c) != 0 || len(tt.wantCommand) != 0) && !reflect.DeepEqual(c, tt.wantCommand) {
				t.Errorf("command hooks %v, want %v", c, tt.wantCommand)
			}
			if h := testkit.CountOurHooks(got, "http"); (len(h) != 0 || len(tt.wantHTTP) != 0) && !reflect.DeepEqual(h, tt.wantHTTP) {
				t.Errorf("http hooks %v, want %v", h, tt.wantHTTP)
			}
			if c := countCommand(got, scanCommand); (len(c) != 0 || len(tt.wantScan) != 0) && !reflect.DeepEqual(c, tt.wantScan) {
				t.Errorf("scan hooks %v, want %v", c, tt.wantScan)
			}
			env, _ := got["env"].(map[string]any)
			if (len(env) != 0 || len(tt.wantEnv) != 0) && !reflect.DeepEqual(env, tt.wantEnv) {
				t.Errorf("env %v, want %v", env, tt.wantEnv)
			}
			if tt.cfg.HTTP && !strings.Contains(string(st.Encode()), `"url": "`+url+`/api/hooks/claude-code"`) {
				t.Errorf("http hook url:\n%s", st.Encode())
			}
			if tt.in != "" {
				var original map[string]any
				if err := json.Unmarshal([]byte(tt.in), &original); err != nil {
					t.Fatal(err)
				}
				for _, key := range []string{"model", "permissions", "statusLine"} {
					if !reflect.DeepEqual(got[key], original[key]) {
						t.Errorf("%s changed: %v, was %v", key, got[key], original[key])
					}
				}
				// Key order is kept: the first keys are still model, permissions.
				if keys := st.Keys(); len(keys) < 2 || keys[0] != "model" || keys[1] != "permissions" {
					t.Errorf("key order changed: %v", keys)
				}
			}
		})
	}
}

// scanCommand is the scan hook's command line.
const scanCommand = "trackskills skills scan --if-changed"

// countCommand counts, per hook event, the command handlers running cmd.
func countCommand(settings map[string]any, cmd string) map[string]int {
	out := map[string]int{}
	hooks, _ := settings["hooks"].(map[string]any)
	for event, groups := range hooks {
		for _, g := range groups.([]any) {
			for _, h := range g.(map[string]any)["hooks"].([]any) {
				if hm := h.(map[string]any); hm["type"] == "command" && hm["command"] == cmd {
					out[event]++
				}
			}
		}
	}
	return out
}

func TestSettings_RemoveHooks(t *testing.T) {
	const url = "http://127.0.0.1:9999"
	for _, tt := range []struct {
		name    string
		in      string
		install []claudecode.HookConfig
		command string
		want    string // the settings after removal; "" = as in
	}{
		{name: "NothingOfOurs", in: otherSettings, command: "trackskills hook"},
		{name: "CommandHooks", in: otherSettings, command: "trackskills hook",
			install: []claudecode.HookConfig{{URL: url, Command: "trackskills hook"}}},
		{name: "HTTPHooks", in: otherSettings, command: "trackskills hook",
			install: []claudecode.HookConfig{{HTTP: true, URL: url}}},
		{name: "Both", in: otherSettings, command: "trackskills hook",
			install: []claudecode.HookConfig{{URL: url, Command: "trackskills hook"}, {HTTP: true, URL: url}}},
		{name: "LeanBinary", in: otherSettings, command: "trackskills hook",
			install: []claudecode.HookConfig{{URL: url, Command: "'/my bin/trackskills-hook'"}}},
		{name: "ThisBinaryByName", in: otherSettings, command: "/usr/local/bin/ts hook",
			install: []claudecode.HookConfig{{URL: url, Command: "/usr/local/bin/ts hook"}}},
		{name: "CommandAndScan", in: otherSettings, command: "trackskills hook",
			install: []claudecode.HookConfig{{URL: url, Command: "trackskills hook", ScanCommand: scanCommand}}},
		{name: "HTTPAndScan", in: otherSettings, command: "trackskills hook",
			install: []claudecode.HookConfig{{HTTP: true, URL: url, ScanCommand: "'/my bin/trackskills' skills scan --if-changed"}}},
		{name: "ScanOfThisBinaryByName", in: otherSettings, command: "/usr/local/bin/ts hook",
			install: []claudecode.HookConfig{{URL: url, Command: "/usr/local/bin/ts hook", ScanCommand: "/usr/local/bin/ts skills scan --if-changed"}}},
		{name: "EmptyLeavesEmpty", in: "", command: "trackskills hook",
			install: []claudecode.HookConfig{{URL: url, Command: "trackskills hook"}}, want: "{}"},
		{
			name:    "KeepsOthersInOurGroup",
			in:      `{"hooks": {"PostToolUse": [{"matcher": "*", "hooks": [{"type": "command", "command": "trackskills hook"}, {"type": "command", "command": "say hi"}]}]}}`,
			command: "trackskills hook",
			want:    `{"hooks": {"PostToolUse": [{"matcher": "*", "hooks": [{"type": "command", "command": "say hi"}]}]}}`,
		},
		{
			name:    "KeepsURLEnvNeighbours",
			in:      `{"env": {"TRACKSKILLS_URL": "http://x", "A": "b"}, "hooks": {"Stop": [{"hooks": [{"type": "command", "command": "trackskills hook"}]}]}}`,
			command: "trackskills hook",
			want:    `{"env": {"A": "b"}}`,
		},
		{
			// Without a hooks block nothing of ours is installed: the env stays.
			name:    "NoHooksLeavesEnv",
			in:      `{"env": {"TRACKSKILLS_URL": "http://x"}}`,
			command: "trackskills hook",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := mustParseSettings(t, tt.in)
			for _, cfg := range tt.install {
				st.AddHooks(cfg)
			}
			st.RemoveHooks(tt.command)
			want := tt.want
			if want == "" {
				want = tt.in
			}
			if got, want := string(st.Encode()), string(mustParseSettings(t, want).Encode()); got != want {
				t.Fatalf("after remove:\n%s\nwant\n%s", got, want)
			}
		})
	}

	t.Run("ReinstallIsIdempotent", func(t *testing.T) {
		st := mustParseSettings(t, otherSettings)
		cfg := claudecode.HookConfig{URL: url, Command: "trackskills hook"}
		st.AddHooks(cfg)
		once := string(st.Encode())
		st.RemoveHooks(cfg.Command)
		st.AddHooks(cfg)
		if got := string(st.Encode()); got != once {
			t.Fatalf("second install changed the settings:\n%s", claudecode.Diff(once, got))
		}
	})
}

func TestIsOurCommand(t *testing.T) {
	for _, tt := range []struct {
		cmd, ours string
		want      bool
	}{
		{"trackskills hook", "trackskills hook", true},
		{"/usr/local/bin/trackskills hook", "trackskills hook", true},
		{"'/my bin/trackskills' hook", "trackskills hook", true},
		{"/opt/bin/trackskills-hook", "trackskills hook", true},
		{"'/my bin/trackskills-hook'", "trackskills hook", true},
		{"  /x/ts hook ", "/x/ts hook", true},
		{"/x/ts hook", "trackskills hook", false},
		{"trackskills send done", "trackskills hook", false},
		{"prettier --write $FILE", "trackskills hook", false},
	} {
		t.Run(tt.cmd, func(t *testing.T) {
			if got := claudecode.IsOurCommand(tt.cmd, tt.ours); got != tt.want {
				t.Fatalf("IsOurCommand(%q, %q)=%v, want %v", tt.cmd, tt.ours, got, tt.want)
			}
		})
	}
}

func TestDiff(t *testing.T) {
	for _, tt := range []struct {
		name, a, b, want string
	}{
		{"Equal", "a\nb\n", "a\nb\n", ""},
		{"BothEmpty", "", "", ""},
		{"AddToEmpty", "", "x\ny\n", "+ x\n+ y\n"},
		{"RemoveAll", "x\n", "", "- x\n"},
		{"Change", "a\nb\nc\n", "a\nB\nc\n", "  a\n- b\n+ B\n  c\n"},
		{"TwoLinesOfContext", "1\n2\n3\n4\n5\n6\n7\n", "1\n2\n3\n4\nX\n5\n6\n7\n", "  3\n  4\n+ X\n  5\n  6\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := claudecode.Diff(tt.a, tt.b); got != tt.want {
				t.Fatalf("diff=%q, want %q", got, tt.want)
			}
		})
	}
}

// The example settings are valid, and RemoveHooks recognises their hooks as
// ours (so hook uninstall removes them).
func TestSettings_Examples(t *testing.T) {
	for file, want := range map[string]struct {
		typ    string
		events int
	}{
		"../examples/claude-code/settings.command-hook.json": {"command", 4},
		"../examples/claude-code/settings.http-hook.json":    {"http", 3},
	} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		got := testkit.CountOurHooks(decodeMap(t, b), want.typ)
		if len(got) != want.events {
			t.Errorf("%s: our %s hooks %v, want %d events", file, want.typ, got, want.events)
		}
		settings, err := claudecode.ParseSettings(b)
		if err != nil {
			t.Fatal(err)
		}
		settings.RemoveHooks("trackskills hook")
		if len(settings.Keys()) != 0 {
			t.Errorf("%s: after removing ours, %s is left", file, settings.Encode())
		}
	}
}

func TestIsOurScanCommand(t *testing.T) {
	for _, tt := range []struct {
		cmd, ours string
		want      bool
	}{
		{"trackskills skills scan --if-changed", "trackskills hook", true},
		{"'/my bin/trackskills' skills scan --if-changed", "/opt/bin/trackskills-hook", true},
		{"/x/ts skills scan --if-changed", "/x/ts hook", true},
		{"/x/ts skills scan --if-changed", "trackskills hook", false},
		{"trackskills hook", "trackskills hook", false},
		{"other skills scan", "trackskills hook", false},
	} {
		t.Run(tt.cmd, func(t *testing.T) {
			if got := claudecode.IsOurScanCommand(tt.cmd, tt.ours); got != tt.want {
				t.Fatalf("IsOurScanCommand(%q, %q)=%v, want %v", tt.cmd, tt.ours, got, tt.want)
			}
		})
	}
}
