// Package alerts watches the aggregates of Track Skills for the conditions
// that a team wants to be told about (a tool or skill failing, an MCP
// server down, a tool gone quiet, a new error type, slow calls, a consumer
// falling behind) and posts them to webhooks. The rules come from a YAML
// file (Parse, Load); an Alerter evaluates them against the read-only
// database every minute and delivers what starts firing, repeats it while
// it fires, and says when it resolves.
package alerts

import (
	"fmt"
	"strings"
	"time"
)

// Kind is what a rule watches.
type Kind string

// The kinds of rules.
const (
	// KindErrorRate fires when the share of failed calls (error or timeout)
	// of a tool in the window is above a percentage, given a minimum of calls.
	KindErrorRate Kind = "error_rate"
	// KindVolumeDrop fires when a tool had no call in the window although
	// its usual rate over the baseline days expected at least MinExpected.
	KindVolumeDrop Kind = "volume_drop"
	// KindNewErrorType fires for each error type of a tool in the window
	// that it had not had in the baseline days before.
	KindNewErrorType Kind = "new_error_type"
	// KindMCPServer fires when the failed share of the calls of an MCP
	// server's tools (mcp__<server>__*) in the window is above a percentage.
	KindMCPServer Kind = "mcp_server"
	// KindP95Duration fires when the 95th percentile of a tool's durations
	// in the window is above a bound.
	KindP95Duration Kind = "p95_duration"
	// KindConsumerLag fires when the newest event written to the database
	// was received longer ago than a bound.
	KindConsumerLag Kind = "consumer_lag"
)

// Kinds lists every kind, in the order the documentation gives them.
var Kinds = []Kind{KindErrorRate, KindVolumeDrop, KindNewErrorType, KindMCPServer, KindP95Duration, KindConsumerLag}

// Severities a rule may have, least urgent first.
const (
	SeverityInfo     = "info"
	SeverityWarning  = "warning"
	SeverityCritical = "critical"
)

// Target types.
const (
	// TargetJSON posts the Notification as a JSON document.
	TargetJSON = "json"
	// TargetSlack posts a Slack-compatible {"text", "blocks"} message, as
	// Slack's incoming webhooks (and Mattermost's, and others) accept it.
	TargetSlack = "slack"
)

// Defaults of the optional settings of a rules file.
const (
	DefaultSeverity     = SeverityWarning
	DefaultRepeat       = 4 * time.Hour
	DefaultWindow       = 15 * time.Minute
	DefaultVolumeWindow = 30 * time.Minute
	DefaultBaseline     = 7 * 24 * time.Hour
	DefaultMinCalls     = 10
	DefaultMinExpected  = 10
	DefaultTimeout      = 10 * time.Second
	DefaultRetries      = 3
	MaxWindow           = 24 * time.Hour
	MaxBaseline         = 90 * 24 * time.Hour
	MaxRetries          = 10
)

// File is a parsed rules file.
type File struct {
	Path    string
	Targets []Target // in the order of the file
	Rules   []Rule   // in the order of the file
}

// Target returns the target of that name, or nil.
func (f *File) Target(name string) *Target {
	for i := range f.Targets {
		if f.Targets[i].Name == name {
			return &f.Targets[i]
		}
	}
	return nil
}

// Target is a webhook that alerts are posted to.
type Target struct {
	Name    string
	Type    string // TargetJSON or TargetSlack
	URL     string // resolved from url_env when the file names a variable
	URLEnv  string // the variable that held URL, if any
	Headers map[string]string
	Timeout time.Duration // of one POST
	Retries int           // further attempts after a failed POST
}

// Rule is one alert rule of a file.
type Rule struct {
	Name string
	Kind Kind
	Line int // where the rule starts in its file

	// Selector: which tools (empty: every tool), or which MCP server.
	Tool     string // one tool by name
	ToolGlob string // tools matching a glob: * any text, ? one character, [...] a set
	Category string // only the tools' events of this category ("skill")
	Server   string // mcp_server: the server name, or "*" for each server

	// Thresholds; which apply depends on Kind.
	AbovePercent  float64       // error_rate, mcp_server: 0-100
	AboveDuration time.Duration // p95_duration, consumer_lag
	MinCalls      int64         // error_rate, mcp_server, p95_duration
	MinExpected   float64       // volume_drop
	Window        time.Duration // every kind but consumer_lag
	Baseline      time.Duration // volume_drop, new_error_type

	For      time.Duration // how long the condition must hold before the rule fires
	Severity string
	Targets  []string // names; every target of the file when the rule names none
	Repeat   time.Duration
}

// Problem is one error of a rules file, at a line and column (1-based).
type Problem struct {
	Line, Col int
	Msg       string
}

// FileError holds every problem found in a rules file.
type FileError struct {
	Path     string
	Problems []Problem
}

// Error returns one "path:line:col: message" line per problem.
func (e *FileError) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s:%d:%d: %s", e.Path, p.Line, p.Col, p.Msg)
	}
	return b.String()
}
