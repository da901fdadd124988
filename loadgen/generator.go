// Package loadgen makes realistic Track Skills traffic for load tests,
// benchmarks and fixtures: one seeded event generator (Generator), the HTTP
// load runner of `trackskills loadgen` with its report (Run), and the seeder
// of `trackskills seed`, which fills a database through the consumer's
// write path (Seed).
package loadgen

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/trackskills/trackskills"
)

// toolNames are real-looking tool names, most used first: Claude Code
// built-ins, MCP tools (mcp__<server>__<tool>) and skills.
var toolNames = []string{
	"Read", "Bash", "Edit", "Grep", "mcp__github__get_pull_request",
	"Glob", "Write", "pdf-extract", "TodoWrite", "mcp__slack__post_message",
	"Task", "query_data", "MultiEdit", "WebFetch", "mcp__github__create_issue",
	"LS", "code-review", "WebSearch", "mcp__postgres__query", "mcp__filesystem__read_file",
	"commit-message", "NotebookEdit", "mcp__linear__create_issue", "xlsx-analyze", "BashOutput",
	"mcp__github__search_code", "docx-render", "mcp__playwright__browser_navigate", "KillShell", "test-generator",
	"mcp__slack__list_channels", "mcp__github__list_commits", "pptx-build", "ExitPlanMode", "mcp__sentry__get_issue",
	"sql-optimizer", "mcp__playwright__browser_click", "mcp__notion__search", "SlashCommand", "changelog-writer",
	"mcp__linear__update_issue", "mcp__filesystem__write_file", "brand-guidelines", "mcp__jira__get_issue", "api-docs",
	"mcp__playwright__browser_snapshot", "security-audit", "mcp__slack__get_thread", "NotebookRead", "mcp__github__create_pull_request",
}

// ToolNames returns n tool names, most used first: the real-looking ones,
// then tool_051, tool_052, ... when n asks for more.
func ToolNames(n int) []string {
	names := slices.Clone(toolNames[:min(n, len(toolNames))])
	for i := len(names); i < n; i++ {
		names = append(names, fmt.Sprintf("tool_%03d", i+1))
	}
	return names
}

// Category derives the category of a tool name: mcp__ tools are mcp,
// capitalised names are Claude Code built-ins, the rest are skills.
func Category(name string) string {
	switch {
	case strings.HasPrefix(name, "mcp__"):
		return "mcp"
	case name != "" && name[0] >= 'A' && name[0] <= 'Z':
		return "builtin"
	}
	return "skill"
}

// errorKinds are error_type and error_message pairs by tool category.
var errorKinds = map[string][][2]string{
	"builtin": {
		{"exit_code_1", "command exited with status 1"},
		{"file_not_found", "no such file or directory"},
		{"permission_denied", "permission denied"},
		{"internal", "unexpected tool failure"},
	},
	"mcp": {
		{"mcp_error", "MCP server returned an error: invalid params"},
		{"connection_refused", "MCP server not reachable"},
		{"rate_limited", "upstream API rate limit exceeded"},
	},
	"skill": {
		{"internal", "skill script raised an exception"},
		{"invalid_input", "input file could not be parsed"},
		{"exit_code_1", "script exited with status 1"},
	},
}

var models = []string{"claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5"}

// GeneratorConfig configures a Generator.
type GeneratorConfig struct {
	// Seed and Stream seed the PRNG: the same pair gives the same events;
	// one Stream per worker keeps workers independent of each other.
	Seed, Stream uint64
	// Tools is the number of distinct tool names (see ToolNames); Users
	// the number of distinct users.
	Tools, Users int
	// ErrorRate is the share of events with status error; another 1% are
	// timeouts.
	ErrorRate float64
	// Prefix starts the event id of every Event: Prefix + its number.
	Prefix string

	// Days > 0 makes a history for Batch: Events events spanning Days
	// ending at End, in timestamp order, with a daily and weekly rhythm,
	// users from occasional to heavy who join and leave over the span,
	// Zipf-like tool popularity and a median duration per tool.
	Days   int
	Events int64
	End    time.Time

	// Sessions makes Batch shape each session as Claude Code hooks see
	// it: SessionStart, then turns of a prompt, a third of them starting
	// with a skill (a Skill call), tool calls (some in subagents, between
	// SubagentStart and SubagentStop) and Stop (StopFailure for 3%). The
	// marks come on top of the n tool calls Batch returns.
	Sessions bool
}

// Generator makes realistic events from its own seeded PRNG: tool calls
// with a skewed tool popularity, 5% (ErrorRate) errors with error types of
// the tool's category, ~1% timeouts, log-normal durations (median 120 ms,
// p99 ~2 s), request and response sizes for MCP tools and, on 30% of the
// events, a model and project in the metadata. Event gives the live
// traffic of `trackskills loadgen` as clients send it; Batch, with a
// history configured, the stored events of `trackskills seed`. A
// Generator is not safe for concurrent use: give each goroutine its own
// Stream.
type Generator struct {
	cfg   GeneratorConfig
	rng   *rand.Rand
	names []string

	// The history, when cfg.Days > 0.
	start     int64 // Unix ms of the span's start
	tools     []histTool
	toolCum   []float64 // cumulative Zipf weights of tools
	users     []histUser
	hourCount []int64 // events of each hour of the span
	hour      int     // current hour index
	times     []int64 // the current hour's remaining timestamps, sorted
	day       int     // day index whose active users are in active/activeC
	active    []int32
	activeC   []float64
	seq       uint64
	working   []*histUser // with Sessions: the users in a session now
}

// histUser is one simulated user of a history: an activity weight
// (log-normal: many occasional users, a few heavy ones), the part of the
// span in which it is active, and its current session.
type histUser struct {
	hash        string
	weight      float64
	from, until int64 // active span, Unix ms
	hook        bool  // sends through Claude Code hooks rather than the API
	session     string
	lastSeen    int64
	turn        turn // with Sessions: where the user's session is
	callsLeft   int  // with Sessions: calls left in the session; 0 when it is over
}

// turn is where a user's session stands, with GeneratorConfig.Sessions:
// the calls left in the current turn, whether it starts with a skill, and
// the subagent at work.
type turn struct {
	callsLeft  int    // 0: the next event is a prompt
	skillNext  bool   // the turn's next call is a Skill call
	stopNext   bool   // the turn is done: the next event is Stop
	agent      string // the subagent's id hash, "" when none runs
	agentLeft  int    // calls left in the subagent
	startsSoon bool   // the session just began: the next event is SessionStart
}

// histTool is one tool of a history: its name, category and median
// duration.
type histTool struct {
	name, category string
	medianMs       float64
}

const (
	hourMs       = int64(time.Hour / time.Millisecond)
	dayMs        = 24 * hourMs
	sessionGapMs = 30 * 60 * 1000 // a gap this long starts a new session
	// sessionPaceMs is the mean time between two calls of one session:
	// with Sessions, an hour of H events has about H*pace/hour sessions
	// at work at once.
	sessionPaceMs = 30 * 1000
)

// NewGenerator returns a generator for cfg.
func NewGenerator(cfg GeneratorConfig) *Generator {
	g := &Generator{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Stream)), names: ToolNames(cfg.Tools), hour: -1, day: -1}
	if cfg.Days > 0 {
		g.planHistory()
	}
	return g
}

// planHistory draws the tools' medians, the users and the events of each
// hour of the span.
func (g *Generator) planHistory() {
	cfg, rng := g.cfg, g.rng
	end := cfg.End.UnixMilli()
	g.start = end - int64(cfg.Days)*dayMs

	// Tools: popularity 1/rank (Zipf, s=1): with 200 tools the first takes
	// ~17% of the calls, the last ~0.1%. Each tool has its own median
	// duration.
	sum := 0.0
	for i, n := range g.names {
		g.tools = append(g.tools, histTool{name: n, category: Category(n), medianMs: 120 * math.Exp(0.8*rng.NormFloat64())})
		sum += 1 / float64(i+1)
		g.toolCum = append(g.toolCum, sum)
	}

	// Users: log-normal weights (sigma 1.7: the median user sends a tenth
	// of what the top 10% send); 40% active from the start, the others
	// join over the span; half of them churn after an exponential lifetime
	// (mean 45 days).
	span := end - g.start
	for range cfg.Users {
		u := histUser{hash: randHex(rng), weight: math.Exp(1.7 * rng.NormFloat64()), from: g.start, until: end, hook: rng.Float64() < 0.7}
		if rng.Float64() >= 0.4 {
			u.from = g.start + rng.Int64N(span)
		}
		if rng.Float64() < 0.5 {
			u.until = u.from + int64(rng.ExpFloat64()*45*float64(dayMs))
			u.until = min(max(u.until, u.from+dayMs), end)
		}
		g.users = append(g.users, u)
	}

	// Hours: weekday/weekend and time of day (UTC, peak mid-afternoon in
	// Europe, morning in the Americas), and 50% growth over the span.
	hours := cfg.Days * 24
	w := make([]float64, hours)
	total := 0.0
	for h := range hours {
		t := time.UnixMilli(g.start + int64(h)*hourMs).UTC()
		x := 0.35 + math.Pow(math.Max(0, math.Sin(math.Pi*(float64(t.Hour())-5)/20)), 1.5)
		if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
			x *= 0.45
		}
		x *= 1 + 0.5*float64(h)/float64(hours)
		w[h] = x
		total += x
	}
	g.hourCount = make([]int64, hours)
	cum, assigned := 0.0, int64(0)
	for h := range hours {
		cum += w[h]
		upTo := int64(math.Round(float64(cfg.Events) * cum / total))
		if h == hours-1 {
			upTo = cfg.Events
		}
		g.hourCount[h] = upTo - assigned
		assigned = upTo
	}
}

// call is what happened in one tool call, beyond which tool and who.
type call struct {
	status, errorType, errorMessage string
	durationMs                      int64
	requestBytes, responseBytes     int64 // MCP tools only; 0 otherwise
	meta                            bool  // the metadata below is set
	model, project                  string
	exitCode                        int // Bash only; -1 otherwise
}

// call draws the outcome of a call of tool, whose durations are
// log-normal around medianMs: p99 ~16x the median.
func (g *Generator) call(tool, category string, medianMs float64) call {
	r := g.rng
	c := call{status: trackskills.StatusSuccess, exitCode: -1}
	d := medianMs * math.Exp(1.2*r.NormFloat64())
	switch u := r.Float64(); {
	case u < g.cfg.ErrorRate:
		kinds := errorKinds[category]
		k := kinds[r.IntN(len(kinds))]
		c.status, c.errorType, c.errorMessage = trackskills.StatusError, k[0], k[1]
	case u < g.cfg.ErrorRate+0.01:
		limit := []float64{30_000, 60_000, 120_000}[r.IntN(3)]
		c.status, c.errorType = trackskills.StatusTimeout, "deadline_exceeded"
		c.errorMessage = "tool call exceeded " + strconv.Itoa(int(limit/1000)) + "s"
		d = limit + r.Float64()*50
	}
	c.durationMs = int64(min(max(d, 0), 600_000))
	if category == "mcp" {
		c.requestBytes = 100 + r.Int64N(4_000)
		c.responseBytes = 200 + r.Int64N(64_000)
	}
	if r.IntN(10) < 3 {
		c.meta = true
		c.model = models[r.IntN(len(models))]
		c.project = fmt.Sprintf("proj-%02d", r.IntN(25)+1)
		if tool == "Bash" {
			c.exitCode = 0
			if c.status == trackskills.StatusError {
				c.exitCode = 1
			}
		}
	}
	return c
}

// Event is an event as a client sends it to POST /api/track
// (docs/CONTRACT.md, The event).
type Event struct {
	ToolName          string         `json:"tool_name"`
	ToolCategory      string         `json:"tool_category"`
	Status            string         `json:"status"`
	DurationMS        int64          `json:"duration_ms"`
	ErrorType         string         `json:"error_type,omitempty"`
	ErrorMessage      string         `json:"error_message,omitempty"`
	Metadata          map[string]any `json:"metadata,omitempty"`
	RequestSizeBytes  int64          `json:"request_size_bytes,omitempty"`
	ResponseSizeBytes int64          `json:"response_size_bytes,omitempty"`
	EventID           string         `json:"event_id"`
	UserID            string         `json:"user_id"`
	SessionID         string         `json:"session_id"`
	Source            string         `json:"source"`
}

// Event returns the next live event, with id Prefix+n: a tool picked with
// a steep skew (u^2.5 sends ~20% of 50 tools' calls to the first; a
// history's Zipf popularity when one is configured), a user of the pool
// picked uniformly (user-0001, ...), one of its 20 sessions.
func (g *Generator) Event(n uint64) Event {
	r := g.rng
	var tool string
	median := 120.0
	if g.toolCum != nil {
		t := g.pickHistTool()
		tool, median = t.name, t.medianMs
	} else {
		tool = g.names[int(math.Pow(r.Float64(), 2.5)*float64(len(g.names)))]
	}
	user := r.IntN(g.cfg.Users) + 1
	e := Event{
		ToolName:     tool,
		ToolCategory: Category(tool),
		EventID:      g.cfg.Prefix + strconv.FormatUint(n, 10),
		UserID:       fmt.Sprintf("user-%04d", user),
		SessionID:    fmt.Sprintf("sess-%04d-%02d", user, r.IntN(20)),
		Source:       "api",
	}
	c := g.call(tool, e.ToolCategory, median)
	e.Status, e.ErrorType, e.ErrorMessage, e.DurationMS = c.status, c.errorType, c.errorMessage, c.durationMs
	e.RequestSizeBytes, e.ResponseSizeBytes = c.requestBytes, c.responseBytes
	if c.meta {
		e.Metadata = map[string]any{"model": c.model, "project": c.project}
		if c.exitCode >= 0 {
			e.Metadata["exit_code"] = c.exitCode
		}
	}
	return e
}

// HookPayload is the JSON a Claude Code hook would send for the call e
// describes: PostToolUse, or PostToolUseFailure for a failure, with a
// realistic tool_input and tool_response.
func HookPayload(e Event) map[string]any {
	p := map[string]any{
		"session_id":      e.SessionID,
		"transcript_path": "/home/dev/.claude/projects/-home-dev-acme/" + e.SessionID + ".jsonl",
		"cwd":             "/home/dev/acme",
		"permission_mode": "default",
		"hook_event_name": "PostToolUse",
		"tool_name":       e.ToolName,
		"tool_use_id":     e.EventID, // stored as the event id: the lag poll finds the rows
		"tool_input":      map[string]any{"command": "go test ./...", "description": "Run the tests"},
		"duration_ms":     e.DurationMS,
	}
	if e.ToolCategory == "skill" {
		p["tool_name"] = "Skill"
		p["tool_input"] = map[string]any{"skill": e.ToolName}
	}
	if e.Status == trackskills.StatusSuccess {
		p["tool_response"] = map[string]any{"stdout": "ok  \tacme/ingest\t0.412s\n", "stderr": "", "interrupted": false}
	} else {
		p["hook_event_name"] = "PostToolUseFailure"
		p["error"] = "Exit code 1\n" + e.ErrorMessage
		if e.Status == trackskills.StatusTimeout {
			p["error"] = "Command timed out after 2m 0s"
		}
	}
	return p
}

// nextTime returns the timestamp of the next event of the history, in
// order.
func (g *Generator) nextTime() int64 {
	for len(g.times) == 0 && g.hour+1 < len(g.hourCount) {
		g.hour++
		n := g.hourCount[g.hour]
		base := g.start + int64(g.hour)*hourMs
		g.times = g.times[:0]
		for range n {
			g.times = append(g.times, base+g.rng.Int64N(hourMs))
		}
		slices.Sort(g.times)
	}
	if len(g.times) == 0 { // more events asked than planned
		return g.cfg.End.UnixMilli()
	}
	t := g.times[0]
	g.times = g.times[1:]
	return t
}

// pickUser returns a user of the history active at ts, by weight.
func (g *Generator) pickUser(ts int64) *histUser {
	if d := int((ts - g.start) / dayMs); d != g.day {
		g.day = d
		lo, hi := g.start+int64(d)*dayMs, g.start+int64(d+1)*dayMs
		g.active, g.activeC = g.active[:0], g.activeC[:0]
		sum := 0.0
		for i := range g.users {
			if u := &g.users[i]; u.from < hi && u.until >= lo {
				sum += u.weight
				g.active = append(g.active, int32(i))
				g.activeC = append(g.activeC, sum)
			}
		}
		if len(g.active) == 0 { // a tiny user pool: everyone is active
			for i := range g.users {
				sum += g.users[i].weight
				g.active = append(g.active, int32(i))
				g.activeC = append(g.activeC, sum)
			}
		}
	}
	x := g.rng.Float64() * g.activeC[len(g.activeC)-1]
	i := sort.SearchFloat64s(g.activeC, x)
	return &g.users[g.active[min(i, len(g.active)-1)]]
}

// pickWorkingUser returns the user of the next call of a history with
// Sessions: Claude Code sessions come in bursts of calls, so a call goes
// to one of the sessions at work, and a new session (of a user picked by
// weight) starts when fewer are at work than the hour's rate keeps busy.
func (g *Generator) pickWorkingUser(ts int64) *histUser {
	want := max(1, int(g.hourCount[max(g.hour, 0)]*sessionPaceMs/hourMs))
	if len(g.working) >= want {
		return g.working[g.rng.IntN(len(g.working))]
	}
	return g.pickUser(ts) // in a session already, or about to start one
}

// startSession draws the length of u's new session, in calls (log-normal,
// median 25, from 1 to 500), and counts it at work.
func (g *Generator) startSession(u *histUser) {
	if u.callsLeft == 0 {
		g.working = append(g.working, u)
	}
	u.callsLeft = int(min(max(25*math.Exp(g.rng.NormFloat64()), 1), 500))
}

// spendCall counts one call of u's session, which stops being at work
// after its last.
func (g *Generator) spendCall(u *histUser) {
	if u.callsLeft--; u.callsLeft > 0 {
		return
	}
	u.callsLeft = 0
	if i := slices.Index(g.working, u); i >= 0 {
		g.working = slices.Delete(g.working, i, i+1)
	}
}

// pickHistTool returns a tool of the history by its Zipf weight.
func (g *Generator) pickHistTool() *histTool {
	x := g.rng.Float64() * g.toolCum[len(g.toolCum)-1]
	return &g.tools[min(sort.SearchFloat64s(g.toolCum, x), len(g.tools)-1)]
}

// Batch returns the next n events of the history as the consumer stores
// them: ULID event ids in time order, 32-hex user and session hashes, a
// received_at shortly after the timestamp, stream sequence numbers from 1.
// It returns nil on a generator without a history (Days 0) or users.
func (g *Generator) Batch(n int) []trackskills.Event {
	if g.toolCum == nil || len(g.users) == 0 {
		return nil
	}
	r := g.rng
	out := make([]trackskills.Event, 0, n+n/4)
	ints := make([]int64, 0, 3*n) // backing store of the *int64 fields
	intp := func(v int64) *int64 {
		ints = append(ints, v)
		return &ints[len(ints)-1]
	}
	for range n {
		ts := g.nextTime()
		var u *histUser
		if g.cfg.Sessions {
			u = g.pickWorkingUser(ts)
		} else {
			u = g.pickUser(ts)
		}
		var marks []trackskills.Event
		if u.session == "" || ts-u.lastSeen > sessionGapMs || (g.cfg.Sessions && u.callsLeft == 0) {
			if g.cfg.Sessions && u.session != "" && u.turn.callsLeft > 0 && r.Float64() < 0.8 {
				// The last turn of the old session ended a moment after
				// its last call: it arrives late, as a hook retried.
				u.turn.stopNext = true
				if stop, ok := g.turnEnd(u, u.lastSeen); ok {
					marks = append(marks, stop)
				}
			}
			u.session = randHex(r)
			u.turn = turn{startsSoon: true}
			if g.cfg.Sessions {
				g.startSession(u)
			}
		}
		if g.cfg.Sessions {
			g.spendCall(u)
		}
		u.lastSeen = ts
		tool := g.pickHistTool()
		agent := ""
		if g.cfg.Sessions {
			var more []trackskills.Event
			more, tool, agent = g.sessionStep(u, ts)
			marks = append(marks, more...)
			for k := range marks {
				g.seq++
				marks[k].StreamSeq = g.seq
			}
			out = append(out, marks...)
		}

		g.seq++
		e := trackskills.Event{
			EventID:      ulid(ts, r),
			ToolName:     tool.name,
			ToolCategory: tool.category,
			Timestamp:    ts,
			ReceivedAt:   ts + 20 + r.Int64N(400),
			UserHash:     u.hash,
			SessionHash:  u.session,
			AgentHash:    agent,
			Source:       "api",
			StreamSeq:    g.seq,
		}
		if tool.category == "skill" && g.cfg.Sessions {
			e.Metadata = []byte(`{"hook_event":"PostToolUse","tool":"Skill"}`)
		}
		if tool.category == "mcp" {
			e.MCPServer, e.MCPTool = trackskills.SplitMCP(tool.name)
		}
		if u.hook {
			e.Source = "hook"
		}
		c := g.call(tool.name, tool.category, tool.medianMs)
		e.Status, e.ErrorType, e.ErrorMessage = c.status, c.errorType, c.errorMessage
		e.DurationMs = intp(c.durationMs)
		if tool.category == "mcp" {
			e.RequestSizeBytes = intp(c.requestBytes)
			e.ResponseSizeBytes = intp(c.responseBytes)
		}
		if c.meta && e.Metadata == nil {
			m := `{"model":"` + c.model + `","project":"` + c.project + `"`
			if c.exitCode >= 0 {
				m += `,"exit_code":` + strconv.Itoa(c.exitCode)
			}
			e.Metadata = []byte(m + "}")
		}
		out = append(out, e)
		if g.cfg.Sessions {
			if stop, ok := g.turnEnd(u, ts); ok {
				g.seq++
				stop.StreamSeq = g.seq
				out = append(out, stop)
			}
		}
	}
	return out
}

// sessionMark returns a mark of u's session at ts.
func (g *Generator) sessionMark(u *histUser, ts int64, kind, name, category, agent string) trackskills.Event {
	r := g.rng
	e := trackskills.Event{EventID: ulid(ts, r), ToolName: name, ToolCategory: category, Status: trackskills.StatusSuccess,
		Timestamp: ts, ReceivedAt: ts + 20 + r.Int64N(400), UserHash: u.hash, SessionHash: u.session, Source: "hook",
		Kind: kind, AgentHash: agent}
	if kind == trackskills.KindStopFailure {
		e.Status, e.ErrorType = trackskills.StatusError, "rate_limit"
	}
	return e
}

// turnEnd returns the Stop (StopFailure for 3%) that ends u's turn just
// after its last call at ts, or false when the turn goes on.
func (g *Generator) turnEnd(u *histUser, ts int64) (trackskills.Event, bool) {
	t := &u.turn
	if !t.stopNext {
		return trackskills.Event{}, false
	}
	t.stopNext, t.callsLeft = false, 0
	if g.rng.Float64() < 0.03 {
		return g.sessionMark(u, ts+1, trackskills.KindStopFailure, "StopFailure", "session", ""), true
	}
	return g.sessionMark(u, ts+1, trackskills.KindStop, "Stop", "session", ""), true
}

// sessionStep moves u's session on to its next tool call at ts: it
// returns the marks that come first (a session start, a prompt, a
// subagent starting or stopping), just before ts, the tool of the call and
// the subagent that makes it.
func (g *Generator) sessionStep(u *histUser, ts int64) ([]trackskills.Event, *histTool, string) {
	r, t := g.rng, &u.turn
	var marks []trackskills.Event
	at := ts - 5
	mark := func(kind, name, category, agent string) {
		marks = append(marks, g.sessionMark(u, at, kind, name, category, agent))
		at++
	}
	if t.startsSoon {
		mark(trackskills.KindSessionStart, "SessionStart", "session", "")
		t.startsSoon = false
	}
	if t.agent != "" && t.agentLeft <= 0 {
		mark(trackskills.KindSubagentStop, "Explore", "subagent", t.agent)
		t.agent = ""
	}
	if t.callsLeft <= 0 {
		mark(trackskills.KindPrompt, "UserPromptSubmit", "session", "")
		t.callsLeft = 1 + int(r.ExpFloat64()*8)
		if t.skillNext = r.Float64() < 0.35; t.skillNext {
			t.callsLeft += 2 + int(r.ExpFloat64()*6) // the skill call, then the work it starts
		}
	}
	var tool *histTool
	switch {
	case t.skillNext:
		tool = g.pickTool(func(c string) bool { return c == "skill" })
		t.skillNext = false
	default:
		if t.agent == "" && r.Float64() < 0.04 {
			t.agent, t.agentLeft = randHex(r), 2+r.IntN(6)
			mark(trackskills.KindSubagentStart, "Explore", "subagent", t.agent)
		}
		tool = g.pickTool(func(c string) bool { return c != "skill" })
	}
	agent := t.agent
	if agent != "" {
		t.agentLeft--
	}
	t.callsLeft--
	if t.callsLeft <= 0 {
		t.stopNext = true
	}
	return marks, tool, agent
}

// pickTool returns a tool by its Zipf weight among those whose category
// ok accepts, or any tool after a few tries.
func (g *Generator) pickTool(ok func(category string) bool) *histTool {
	tool := g.pickHistTool()
	for range 30 {
		if ok(tool.category) {
			break
		}
		tool = g.pickHistTool()
	}
	return tool
}

const hexDigits = "0123456789abcdef"

// randHex returns 32 hex digits, the shape of a user or session hash.
func randHex(r *rand.Rand) string {
	var b [32]byte
	a, c := r.Uint64(), r.Uint64()
	for i := range 16 {
		b[i] = hexDigits[a>>(4*i)&0xf]
		b[16+i] = hexDigits[c>>(4*i)&0xf]
	}
	return string(b[:])
}

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// ulid returns a ULID for ms: 10 characters of time, then 16 of
// randomness, so that ids sort in time order.
func ulid(ms int64, r *rand.Rand) string {
	var b [26]byte
	t := uint64(ms)
	for i := 9; i >= 0; i-- {
		b[i] = crockford[t&31]
		t >>= 5
	}
	hi, lo := r.Uint64()&(1<<40-1), r.Uint64()&(1<<40-1)
	for i := 25; i >= 18; i-- {
		b[i] = crockford[lo&31]
		lo >>= 5
	}
	for i := 17; i >= 10; i-- {
		b[i] = crockford[hi&31]
		hi >>= 5
	}
	return string(b[:])
}
