package alerts_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trackskills/trackskills/alerts"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

const goodFile = `# every kind, and both target types
targets:
  ops:
    type: json
    url: https://alerts.example.com/hook
    headers:
      authorization: Bearer abc
    timeout: 5s
    retries: 2
  chat:
    type: slack
    url_env: SLACK_URL
    headers_env:
      X-Token: TOKEN
rules:
  - name: skills failing
    kind: error_rate
    tool_glob: "*"
    category: skill
    above: 20%
    window: 15m
    min_calls: 20
    severity: critical
    targets: [chat]
    repeat: 1h
    for: 5m
  - name: bash quiet
    kind: volume_drop
    tool: Bash
    window: 30m
    baseline: 7d
    min_expected: 5
  - name: new errors
    kind: new_error_type
    tool_glob: "mcp__*"
    baseline: 3d
  - name: github down
    kind: mcp_server
    server: github
    above: 50
    targets: ops
  - name: slow
    kind: p95_duration
    tool: Read
    above: 2s
    repeat: 0
  - name: lag
    kind: consumer_lag
    above: 5m
    severity: info
`

func TestParse_OK(t *testing.T) {
	f, err := alerts.Parse("good.yml", []byte(goodFile), env(map[string]string{"SLACK_URL": "https://hooks.slack.test/x", "TOKEN": "t0k"}))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(f.Targets), 2; got != want {
		t.Fatalf("targets=%d, want %d", got, want)
	}
	ops, chat := f.Target("ops"), f.Target("chat")
	if ops.Type != alerts.TargetJSON || ops.Timeout != 5*time.Second || ops.Retries != 2 || ops.Headers["Authorization"] != "Bearer abc" {
		t.Errorf("ops=%+v", ops)
	}
	if chat.Type != alerts.TargetSlack || chat.URL != "https://hooks.slack.test/x" || chat.URLEnv != "SLACK_URL" ||
		chat.Headers["X-Token"] != "t0k" || chat.Timeout != alerts.DefaultTimeout || chat.Retries != alerts.DefaultRetries {
		t.Errorf("chat=%+v", chat)
	}
	if got, want := len(f.Rules), 6; got != want {
		t.Fatalf("rules=%d, want %d", got, want)
	}
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"error_rate kind", f.Rules[0].Kind, alerts.KindErrorRate},
		{"error_rate line", f.Rules[0].Line, 16},
		{"error_rate above", f.Rules[0].AbovePercent, 20.0},
		{"error_rate glob", f.Rules[0].ToolGlob, "*"},
		{"error_rate category", f.Rules[0].Category, "skill"},
		{"error_rate min_calls", f.Rules[0].MinCalls, int64(20)},
		{"error_rate for", f.Rules[0].For, 5 * time.Minute},
		{"error_rate repeat", f.Rules[0].Repeat, time.Hour},
		{"error_rate severity", f.Rules[0].Severity, "critical"},
		{"error_rate targets", strings.Join(f.Rules[0].Targets, ","), "chat"},
		{"volume_drop baseline", f.Rules[1].Baseline, 7 * 24 * time.Hour},
		{"volume_drop min_expected", f.Rules[1].MinExpected, 5.0},
		{"volume_drop window", f.Rules[1].Window, 30 * time.Minute},
		{"new_error_type window default", f.Rules[2].Window, alerts.DefaultWindow},
		{"new_error_type severity default", f.Rules[2].Severity, alerts.DefaultSeverity},
		{"new_error_type repeat default", f.Rules[2].Repeat, alerts.DefaultRepeat},
		{"new_error_type targets default", len(f.Rules[2].Targets), 0},
		{"mcp_server server", f.Rules[3].Server, "github"},
		{"mcp_server above", f.Rules[3].AbovePercent, 50.0},
		{"mcp_server one target", strings.Join(f.Rules[3].Targets, ","), "ops"},
		{"mcp_server min_calls default", f.Rules[3].MinCalls, int64(alerts.DefaultMinCalls)},
		{"p95 above", f.Rules[4].AboveDuration, 2 * time.Second},
		{"p95 repeat never", f.Rules[4].Repeat, time.Duration(0)},
		{"lag above", f.Rules[5].AboveDuration, 5 * time.Minute},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s=%v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

// Ensure every problem names the line and column where it is.
func TestParse_Errors(t *testing.T) {
	const target = "targets:\n  ops:\n    type: json\n    url: https://x.test/\n"
	tests := []struct {
		name string
		file string
		want string // the first problem, "line:col: message" (a prefix of the message)
	}{
		{"Empty", "", "1:1: the file is empty"},
		{"Syntax", "targets:\n  ops: [\n", "2:1: invalid YAML"},
		{"NotMapping", "- a\n", "1:1: the file must be a mapping"},
		{"UnknownTop", target + "rulez: []\n", `5:1: unknown key "rulez" in the file`},
		{"NoTargets", "rules: []\n", "1:1: targets is required"},
		{"NoTargetEntries", "targets: {}\n", "1:10: targets must name at least one"},
		{"RepeatedKey", target + "targets: {}\n", `5:1: the file: key "targets" repeated (first at line 1)`},
		{"TargetType", "targets:\n  ops:\n    type: xml\n    url: https://x.test/\n", `3:11: type must be json or slack, not "xml"`},
		{"TargetNoType", "targets:\n  ops:\n    url: https://x.test/\n", `2:3: target "ops": type is required`},
		{"TargetNoURL", "targets:\n  ops:\n    type: json\n", `2:3: target "ops": url (or url_env`},
		{"TargetBadURL", "targets:\n  ops:\n    type: json\n    url: ftp://x.test/\n", `4:10: url must be an http or https URL`},
		{"TargetBothURLs", target + "    url_env: HOOK\n", `5:5: target "ops": give url or url_env, not both`},
		{"TargetEnvUnset", "targets:\n  ops:\n    type: json\n    url_env: NOPE\n", "4:14: url_env: the environment variable NOPE is not set"},
		{"TargetUnknownKey", target + "    method: PUT\n", `5:5: unknown key "method" in target "ops"`},
		{"TargetTimeout", target + "    timeout: forever\n", `5:14: timeout: "forever" is not a duration`},
		{"TargetRetries", target + "    retries: 11\n", `5:14: retries must be a whole number from 0 to 10`},
		{"TargetHeader", target + "    headers:\n      \"bad header\": x\n", `6:7: headers: "bad header" is not a header name`},
		{"TargetHeaderValue", target + "    headers:\n      X-A: 3\n", `6:12: X-A must be a string`},
		{"RulesNotList", target + "rules: {}\n", "5:8: rules must be a list"},
		{"RuleNotMapping", target + "rules:\n  - lag\n", "6:5: a rule must be a mapping"},
		{"RuleNoName", target + "rules:\n  - kind: consumer_lag\n    above: 5m\n", "6:5: a rule needs a name"},
		{"RuleNoKind", target + "rules:\n  - name: x\n", `6:5: rule "x" needs a kind`},
		{"RuleBadKind", target + "rules:\n  - name: x\n    kind: weather\n", `7:11: kind must be one of error_rate`},
		{"RuleUnknownKey", target + "rules:\n  - name: x\n    kind: consumer_lag\n    above: 5m\n    tool: Bash\n", `9:5: unknown key "tool" in rule "x" of kind consumer_lag`},
		{"RuleNoAbove", target + "rules:\n  - name: x\n    kind: error_rate\n", `6:5: rule "x": above is required for kind error_rate`},
		{"RulePercent", target + "rules:\n  - name: x\n    kind: error_rate\n    above: 120%\n", `8:12: above must be a percentage from 0 to 100`},
		{"RuleDurationAbove", target + "rules:\n  - name: x\n    kind: p95_duration\n    above: fast\n", `8:12: above: "fast" is not a duration`},
		{"RuleWindowShort", target + "rules:\n  - name: x\n    kind: error_rate\n    above: 5\n    window: 10s\n", `9:13: window must be from 1m to 1d`},
		{"RuleMinCalls", target + "rules:\n  - name: x\n    kind: error_rate\n    above: 5\n    min_calls: -1\n", `9:16: min_calls must be a whole number from 1`},
		{"RuleToolAndGlob", target + "rules:\n  - name: x\n    kind: error_rate\n    above: 5\n    tool: a\n    tool_glob: b*\n", `6:5: rule "x": give tool or tool_glob, not both`},
		{"RuleNoServer", target + "rules:\n  - name: x\n    kind: mcp_server\n    above: 5\n", `6:5: rule "x": server is required`},
		{"RuleServerSeparator", target + "rules:\n  - name: x\n    kind: mcp_server\n    above: 5\n    server: a__b\n", `6:5: rule "x": server "a__b" must not contain`},
		{"RuleMissingTarget", target + "rules:\n  - name: x\n    kind: consumer_lag\n    above: 5m\n    targets: [ops, pager]\n", `9:20: rule "x": no target named "pager"`},
		{"RuleSeverity", target + "rules:\n  - name: x\n    kind: consumer_lag\n    above: 5m\n    severity: high\n", `9:15: severity must be info, warning or critical`},
		{"RuleRepeatShort", target + "rules:\n  - name: x\n    kind: consumer_lag\n    above: 5m\n    repeat: 30s\n", `9:13: repeat must be 0 (never) or at least 1m`},
		{"RuleDuplicateName", target + "rules:\n  - name: x\n    kind: consumer_lag\n    above: 5m\n  - name: x\n    kind: consumer_lag\n    above: 6m\n", `9:5: rule "x": the name is taken by the rule at line 6`},
		{"RuleNameNumber", target + "rules:\n  - name: 42\n    kind: consumer_lag\n    above: 5m\n", `6:11: name must be a string, not "42"`},
		{"Alias", target + "rules:\n  - &r\n    name: x\n    kind: consumer_lag\n    above: 5m\n  - *r\n", `10:5: a rule: aliases are not supported`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := alerts.Parse("bad.yml", []byte(tt.file), env(nil))
			var fe *alerts.FileError
			if !errors.As(err, &fe) {
				t.Fatalf("err=%v, want a *FileError", err)
			}
			first := strings.SplitN(err.Error(), "\n", 2)[0]
			if !strings.HasPrefix(first, "bad.yml:"+tt.want) {
				t.Fatalf("error:\n%s\nwant first line to start with bad.yml:%s", err, tt.want)
			}
		})
	}
}

// Ensure a URL from the environment never appears in an error: it is a
// secret.
func TestParse_SecretURLNotQuoted(t *testing.T) {
	const file = "targets:\n  ops:\n    type: json\n    url_env: HOOK\n"
	_, err := alerts.Parse("f.yml", []byte(file), env(map[string]string{"HOOK": "not a url secret-123"}))
	if err == nil || strings.Contains(err.Error(), "secret-123") {
		t.Fatalf("err=%v, want an error without the value", err)
	}
}

func TestParse_AllProblems(t *testing.T) {
	const file = "targets:\n  ops:\n    type: xml\n    url: nope\nrules:\n  - name: x\n    kind: nope\n"
	_, err := alerts.Parse("f.yml", []byte(file), env(nil))
	var fe *alerts.FileError
	if !errors.As(err, &fe) {
		t.Fatalf("err=%v", err)
	}
	if got, want := len(fe.Problems), 3; got != want {
		t.Fatalf("problems=%d, want %d:\n%v", got, want, err)
	}
}

func TestLoad_Example(t *testing.T) {
	path := filepath.Join("..", "examples", "alerts.yml")
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TRACKSKILLS_SLACK_WEBHOOK", "https://hooks.slack.test/services/T/B/X")
	f, err := alerts.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[alerts.Kind]bool{}
	for _, r := range f.Rules {
		kinds[r.Kind] = true
	}
	for _, k := range alerts.Kinds {
		if !kinds[k] {
			t.Errorf("the example has no rule of kind %s", k)
		}
	}
}
