package alerts

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Load reads and parses the rules file at path; environment variables
// named by url_env and headers_env are read from the process.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read rules: %w", err)
	}
	return Parse(path, data, os.Getenv)
}

// Parse parses a rules file. The file is decoded through yaml.Node, so
// that every error names its line and column: unknown and repeated keys,
// values of the wrong type or out of range, a rule naming a missing target,
// a variable of url_env that is not set. The error is a *FileError with
// every problem found, in file order. getenv resolves url_env and
// headers_env.
func Parse(path string, data []byte, getenv func(string) string) (*File, error) {
	d := &decoder{getenv: getenv}
	f := &File{Path: path}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		line := 1
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1]) // the pattern allows only digits
			msg = strings.TrimPrefix(msg, m[0])
		}
		d.add(line, 1, "invalid YAML: %s", msg)
		return nil, d.err(path)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		d.add(1, 1, "the file is empty: want a mapping with targets and rules")
		return nil, d.err(path)
	}
	root := doc.Content[0]
	var targets, rules *yaml.Node
	d.mapping(root, "the file", func(k, v *yaml.Node) {
		switch k.Value {
		case "targets":
			targets = v
		case "rules":
			rules = v
		default:
			d.unknown(k, "the file", "targets", "rules")
		}
	})
	if root.Kind == yaml.MappingNode {
		if targets == nil {
			d.add(root.Line, root.Column, "targets is required: the webhooks that alerts go to")
		} else {
			f.Targets = d.targets(targets)
		}
		if rules != nil {
			f.Rules = d.rules(rules, f)
		}
	}
	if len(d.problems) > 0 {
		return nil, d.err(path)
	}
	return f, nil
}

// yamlLine finds the line in a syntax error of the YAML parser, which
// gives no column.
var yamlLine = regexp.MustCompile(`^line (\d+): `)

type decoder struct {
	getenv   func(string) string
	problems []Problem
}

func (d *decoder) add(line, col int, format string, args ...any) {
	d.problems = append(d.problems, Problem{Line: max(line, 1), Col: max(col, 1), Msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) at(n *yaml.Node, format string, args ...any) {
	d.add(n.Line, n.Column, format, args...)
}

func (d *decoder) err(path string) error {
	slices.SortStableFunc(d.problems, func(a, b Problem) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return a.Col - b.Col
	})
	return &FileError{Path: path, Problems: d.problems}
}

// kindName describes a node's kind for an error message.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "empty"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "nothing"
}

// mapping calls fn for each key and value of a mapping node, in order,
// after checking that every key is a plain string that appears once.
func (d *decoder) mapping(n *yaml.Node, what string, fn func(k, v *yaml.Node)) {
	if n.Kind == yaml.AliasNode {
		d.at(n, "%s: aliases are not supported", what)
		return
	}
	if n.Kind != yaml.MappingNode {
		d.at(n, "%s must be a mapping (key: value), not %s", what, kindName(n))
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
			d.at(k, "%s: keys must be plain names", what)
			continue
		}
		if line, ok := seen[k.Value]; ok {
			d.at(k, "%s: key %q repeated (first at line %d)", what, k.Value, line)
			continue
		}
		seen[k.Value] = k.Line
		if v.Kind == yaml.AliasNode {
			d.at(v, "%s: aliases are not supported", k.Value)
			continue
		}
		fn(k, v)
	}
}

func (d *decoder) unknown(k *yaml.Node, what string, known ...string) {
	d.at(k, "unknown key %q in %s (want %s)", k.Value, what, strings.Join(known, ", "))
}

// str decodes a string scalar; numbers and booleans are refused, so that a
// mistyped value is caught (no: for Norway).
func (d *decoder) str(k, v *yaml.Node) (string, bool) {
	if v.Kind != yaml.ScalarNode || v.Tag != "!!str" {
		d.at(v, "%s must be a string, not %s", k.Value, kindName(v))
		return "", false
	}
	return v.Value, true
}

// name decodes a non-empty string without control characters.
func (d *decoder) name(k, v *yaml.Node) (string, bool) {
	s, ok := d.str(k, v)
	if !ok {
		return "", false
	}
	if strings.TrimSpace(s) == "" {
		d.at(v, "%s must not be empty", k.Value)
		return "", false
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		d.at(v, "%s must not contain control characters", k.Value)
		return "", false
	}
	return s, true
}

func (d *decoder) scalar(k, v *yaml.Node) (string, bool) {
	if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
		d.at(v, "%s must be a value, not %s", k.Value, kindName(v))
		return "", false
	}
	return v.Value, true
}

// duration decodes a Go duration ("90s", "15m", "4h") or a number of days
// ("7d"), at least min.
func (d *decoder) duration(k, v *yaml.Node, min, max time.Duration) (time.Duration, bool) {
	s, ok := d.scalar(k, v)
	if !ok {
		return 0, false
	}
	dur, err := parseDuration(s)
	if err != nil {
		d.at(v, "%s: %q is not a duration such as 90s, 15m, 4h or 7d", k.Value, s)
		return 0, false
	}
	if dur < min || (max > 0 && dur > max) {
		if max > 0 {
			d.at(v, "%s must be from %s to %s, not %s", k.Value, formatDuration(min), formatDuration(max), s)
		} else {
			d.at(v, "%s must be at least %s, not %s", k.Value, formatDuration(min), s)
		}
		return 0, false
	}
	return dur, true
}

// parseDuration accepts Go durations plus a "d" suffix for days.
func parseDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.ParseFloat(n, 64)
		if err != nil || days < 0 || days > 10000 {
			return 0, errors.New("bad duration")
		}
		return time.Duration(days * float64(24*time.Hour)), nil
	}
	return time.ParseDuration(s)
}

// formatDuration writes whole days as "7d" and anything else as Go does,
// without the zero units ("15m", not "15m0s").
func formatDuration(d time.Duration) string {
	const day = 24 * time.Hour
	if d >= day && d%day == 0 {
		return fmt.Sprintf("%dd", d/day)
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// percent decodes a share in percent: 20, 2.5 or "20%", from 0 to 100.
func (d *decoder) percent(k, v *yaml.Node) (float64, bool) {
	s, ok := d.scalar(k, v)
	if !ok {
		return 0, false
	}
	p, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(s, "%")), 64)
	if err != nil || !(p >= 0 && p <= 100) {
		d.at(v, "%s must be a percentage from 0 to 100 (20 or 20%%), not %q", k.Value, s)
		return 0, false
	}
	return p, true
}

// count decodes a whole number from min to max.
func (d *decoder) count(k, v *yaml.Node, min, max int64) (int64, bool) {
	s, ok := d.scalar(k, v)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < min || n > max {
		d.at(v, "%s must be a whole number from %d to %d, not %q", k.Value, min, max, s)
		return 0, false
	}
	return n, true
}

// number decodes a number greater than zero.
func (d *decoder) number(k, v *yaml.Node) (float64, bool) {
	s, ok := d.scalar(k, v)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || !(n > 0 && n < 1e12) {
		d.at(v, "%s must be a number above 0, not %q", k.Value, s)
		return 0, false
	}
	return n, true
}

// names decodes a list of names, or a single name.
func (d *decoder) names(k, v *yaml.Node) ([]string, []*yaml.Node) {
	if v.Kind == yaml.ScalarNode {
		if s, ok := d.name(k, v); ok {
			return []string{s}, []*yaml.Node{v}
		}
		return nil, nil
	}
	if v.Kind != yaml.SequenceNode {
		d.at(v, "%s must be a list of names, not %s", k.Value, kindName(v))
		return nil, nil
	}
	var out []string
	var nodes []*yaml.Node
	for _, item := range v.Content {
		if item.Kind == yaml.AliasNode {
			d.at(item, "%s: aliases are not supported", k.Value)
			continue
		}
		if s, ok := d.name(k, item); ok {
			out, nodes = append(out, s), append(nodes, item)
		}
	}
	if len(out) == 0 && len(v.Content) == 0 {
		d.at(v, "%s must name at least one", k.Value)
	}
	return out, nodes
}

var targetKeys = []string{"type", "url", "url_env", "headers", "headers_env", "timeout", "retries"}

func (d *decoder) targets(n *yaml.Node) []Target {
	var out []Target
	d.mapping(n, "targets", func(k, v *yaml.Node) {
		// Kept even when invalid, so that the rules naming it are not
		// reported too; the file is refused anyway.
		t, _ := d.target(k, v)
		out = append(out, t)
	})
	if n.Kind == yaml.MappingNode && len(n.Content) == 0 {
		d.at(n, "targets must name at least one webhook")
	}
	return out
}

func (d *decoder) target(name, n *yaml.Node) (Target, bool) {
	t := Target{Name: name.Value, Timeout: DefaultTimeout, Retries: DefaultRetries}
	before := len(d.problems)
	what := fmt.Sprintf("target %q", name.Value)
	if _, ok := d.name(&yaml.Node{Value: "a target's name"}, name); !ok {
		return t, false
	}
	var urlNode *yaml.Node
	d.mapping(n, what, func(k, v *yaml.Node) {
		switch k.Value {
		case "type":
			if s, ok := d.str(k, v); ok {
				if s != TargetJSON && s != TargetSlack {
					d.at(v, "type must be %s or %s, not %q", TargetJSON, TargetSlack, s)
				}
				t.Type = s
			}
		case "url":
			if s, ok := d.str(k, v); ok {
				if urlNode != nil {
					d.at(k, "%s: give url or url_env, not both", what)
				}
				t.URL, urlNode = s, v
			}
		case "url_env":
			if s, ok := d.name(k, v); ok {
				if urlNode != nil {
					d.at(k, "%s: give url or url_env, not both", what)
				}
				t.URLEnv, urlNode = s, v
				if t.URL = d.getenv(s); t.URL == "" {
					d.at(v, "url_env: the environment variable %s is not set", s)
					t.URL = "-" // reported; do not check it as a URL
				}
			}
		case "headers", "headers_env":
			env := k.Value == "headers_env"
			d.mapping(v, k.Value, func(hk, hv *yaml.Node) {
				hname := http.CanonicalHeaderKey(hk.Value)
				if !validHeaderName(hk.Value) {
					d.at(hk, "%s: %q is not a header name", k.Value, hk.Value)
					return
				}
				val, ok := d.str(hk, hv)
				if !ok {
					return
				}
				if env {
					envName := val
					if val = d.getenv(envName); val == "" {
						d.at(hv, "headers_env: the environment variable %s is not set", envName)
						return
					}
				}
				if strings.ContainsAny(val, "\r\n\x00") {
					d.at(hv, "%s: the value of %s must be one line", k.Value, hname)
					return
				}
				if t.Headers == nil {
					t.Headers = map[string]string{}
				}
				if _, dup := t.Headers[hname]; dup {
					d.at(hk, "%s: header %s given twice", what, hname)
					return
				}
				t.Headers[hname] = val
			})
		case "timeout":
			if dur, ok := d.duration(k, v, 100*time.Millisecond, 5*time.Minute); ok {
				t.Timeout = dur
			}
		case "retries":
			if c, ok := d.count(k, v, 0, MaxRetries); ok {
				t.Retries = int(c)
			}
		default:
			d.unknown(k, what, targetKeys...)
		}
	})
	if n.Kind != yaml.MappingNode {
		return t, false
	}
	if t.Type == "" {
		d.at(name, "%s: type is required (%s or %s)", what, TargetJSON, TargetSlack)
	}
	switch {
	case urlNode == nil:
		d.at(name, "%s: url (or url_env, the variable that holds it) is required", what)
	case t.URL != "-":
		if u, err := url.Parse(t.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			// Never quote a URL that came from the environment: it is a secret.
			if t.URLEnv != "" {
				d.at(urlNode, "url_env: %s does not hold an http or https URL", t.URLEnv)
			} else {
				d.at(urlNode, "url must be an http or https URL, not %q", t.URL)
			}
		}
	}
	return t, len(d.problems) == before
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r > 0x7e || !(r == '-' || r == '_' || r == '.' || r == '!' || r == '#' || r == '$' || r == '%' || r == '&' ||
			r == '\'' || r == '*' || r == '+' || r == '^' || r == '`' || r == '|' || r == '~' ||
			(r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')) {
			return false
		}
	}
	return true
}

// ruleKeys lists, per kind, the keys a rule of that kind may have besides
// the common ones.
var ruleKeys = map[Kind][]string{
	KindErrorRate:    {"tool", "tool_glob", "category", "above", "window", "min_calls"},
	KindVolumeDrop:   {"tool", "tool_glob", "category", "window", "baseline", "min_expected"},
	KindNewErrorType: {"tool", "tool_glob", "category", "window", "baseline"},
	KindMCPServer:    {"server", "above", "window", "min_calls"},
	KindP95Duration:  {"tool", "tool_glob", "category", "above", "window", "min_calls"},
	KindConsumerLag:  {"above"},
}

var commonRuleKeys = []string{"name", "kind", "severity", "targets", "for", "repeat"}

func (d *decoder) rules(n *yaml.Node, f *File) []Rule {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil // "rules:" with nothing under it: no rules yet
	}
	if n.Kind != yaml.SequenceNode {
		d.at(n, "rules must be a list, not %s", kindName(n))
		return nil
	}
	var out []Rule
	names := map[string]int{}
	for _, item := range n.Content {
		r, ok := d.rule(item, f)
		if !ok {
			continue
		}
		if line, dup := names[r.Name]; dup {
			d.at(item, "rule %q: the name is taken by the rule at line %d", r.Name, line)
			continue
		}
		names[r.Name] = item.Line
		out = append(out, r)
	}
	return out
}

func (d *decoder) rule(n *yaml.Node, f *File) (Rule, bool) {
	r := Rule{Line: n.Line, Severity: DefaultSeverity, Repeat: DefaultRepeat}
	before := len(d.problems)
	if n.Kind != yaml.MappingNode {
		d.mapping(n, "a rule", nil) // reports the kind
		return r, false
	}
	// The kind says which keys apply: find it first.
	var kindNode, nameNode *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		switch n.Content[i].Value {
		case "kind":
			kindNode = n.Content[i+1]
		case "name":
			nameNode = n.Content[i+1]
		}
	}
	what := "a rule"
	if nameNode == nil {
		d.at(n, "a rule needs a name")
	} else if s, ok := d.name(&yaml.Node{Value: "name"}, nameNode); ok {
		r.Name, what = s, fmt.Sprintf("rule %q", s)
	}
	if kindNode == nil {
		d.at(n, "%s needs a kind (%s)", what, kindList())
		return r, false
	}
	if s, ok := d.str(&yaml.Node{Value: "kind"}, kindNode); ok {
		r.Kind = Kind(s)
	}
	keys, ok := ruleKeys[r.Kind]
	if !ok {
		if len(d.problems) == before {
			d.at(kindNode, "kind must be one of %s, not %q", kindList(), kindNode.Value)
		}
		return r, false
	}
	allowed := append(slices.Clone(commonRuleKeys), keys...)
	var aboveNode, targetsNode *yaml.Node
	var targetNodes []*yaml.Node
	r.Window = DefaultWindow
	if r.Kind == KindVolumeDrop {
		r.Window = DefaultVolumeWindow
	}
	if r.Kind == KindVolumeDrop || r.Kind == KindNewErrorType {
		r.Baseline = DefaultBaseline
	}
	switch r.Kind {
	case KindErrorRate, KindMCPServer, KindP95Duration:
		r.MinCalls = DefaultMinCalls
	case KindVolumeDrop:
		r.MinExpected = DefaultMinExpected
	}
	d.mapping(n, what, func(k, v *yaml.Node) {
		if !slices.Contains(allowed, k.Value) {
			d.at(k, "unknown key %q in %s of kind %s (want %s)", k.Value, what, r.Kind, strings.Join(allowed, ", "))
			return
		}
		switch k.Value {
		case "name", "kind":
			// Read above.
		case "severity":
			if s, ok := d.str(k, v); ok {
				if s != SeverityInfo && s != SeverityWarning && s != SeverityCritical {
					d.at(v, "severity must be %s, %s or %s, not %q", SeverityInfo, SeverityWarning, SeverityCritical, s)
				}
				r.Severity = s
			}
		case "targets":
			targetsNode = k
			r.Targets, targetNodes = d.names(k, v)
		case "for":
			r.For, _ = d.duration(k, v, 0, MaxWindow)
		case "repeat":
			r.Repeat, _ = d.duration(k, v, 0, 0)
			if r.Repeat > 0 && r.Repeat < time.Minute {
				d.at(v, "repeat must be 0 (never) or at least 1m, not %s", v.Value)
			}
		case "tool":
			r.Tool, _ = d.name(k, v)
		case "tool_glob":
			r.ToolGlob, _ = d.name(k, v)
		case "category":
			r.Category, _ = d.name(k, v)
		case "server":
			r.Server, _ = d.name(k, v)
		case "above":
			aboveNode = k
			switch r.Kind {
			case KindP95Duration:
				r.AboveDuration, _ = d.duration(k, v, time.Millisecond, 24*time.Hour)
			case KindConsumerLag:
				r.AboveDuration, _ = d.duration(k, v, time.Second, 7*24*time.Hour)
			default:
				r.AbovePercent, _ = d.percent(k, v)
			}
		case "window":
			r.Window, _ = d.duration(k, v, time.Minute, MaxWindow)
		case "baseline":
			r.Baseline, _ = d.duration(k, v, 24*time.Hour, MaxBaseline)
		case "min_calls":
			r.MinCalls, _ = d.count(k, v, 1, 1_000_000_000)
		case "min_expected":
			r.MinExpected, _ = d.number(k, v)
		}
	})
	if aboveNode == nil && slices.Contains(keys, "above") {
		d.at(n, "%s: above is required for kind %s (%s)", what, r.Kind, aboveHint(r.Kind))
	}
	if r.Tool != "" && r.ToolGlob != "" {
		d.at(n, "%s: give tool or tool_glob, not both", what)
	}
	if r.Kind == KindMCPServer && r.Server == "" && len(d.problems) == before {
		d.at(n, "%s: server is required (an MCP server's name, or \"*\" for each server)", what)
	}
	if r.Kind == KindMCPServer && strings.Contains(r.Server, "__") {
		d.at(n, "%s: server %q must not contain \"__\", which ends a server's name in mcp__<server>__<tool>", what, r.Server)
	}
	for i, t := range r.Targets {
		if f.Target(t) == nil {
			d.at(targetNodes[i], "%s: no target named %q in targets", what, t)
		}
	}
	if targetsNode != nil && len(r.Targets) == 0 && len(d.problems) == before {
		d.at(targetsNode, "%s: targets must name at least one", what)
	}
	return r, len(d.problems) == before
}

func kindList() string {
	s := make([]string, len(Kinds))
	for i, k := range Kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

func aboveHint(k Kind) string {
	switch k {
	case KindP95Duration:
		return "a duration such as 2s"
	case KindConsumerLag:
		return "a duration such as 5m"
	}
	return "a percentage such as 20%"
}
