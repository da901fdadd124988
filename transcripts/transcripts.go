// Package transcripts rebuilds, from Claude Code's session transcripts
// (~/.claude/projects/<project>/<session>.jsonl, and the subagents' files
// under <session>/subagents/), the tool calls and model requests they hold,
// as events for the batch endpoint: the history from before tracking was
// set up.
//
// A tool call is a tool_use block of an assistant line paired with the
// tool_result block of a later user line: its time is the tool_use's, its
// duration the time between the two lines (permission wait and hooks
// included, unlike the hooks' and telemetry's), its status is_error and the
// result's text (a rejection or a denial is a denied mark, an interruption,
// a validation error, an exit code, a timeout). Its event id is its
// tool_use_id, as the hooks' and telemetry's are, so a call any of them
// reported is stored once. A model request is an assistant message's usage,
// once per message id and request id, with the skill, plugin, agent and
// MCP server the line attributes it to (attributionSkill and the like) and
// its cost where the line has one (costUSD); its event id is the one
// telemetry gives the same request.
//
// The format is Claude Code's own and changes between versions: every
// field may be missing, lines that do not parse are counted and skipped,
// and nothing but the fields named here is read. Prompts, tool inputs and
// outputs are never copied into an event (an error's text is, cut, as the
// hooks keep it).
package transcripts

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/claudecode"
	"github.com/trackskills/trackskills/otlp"
)

// MaxLine bounds one line of a transcript; a longer one (a huge tool
// output) is skipped and counted as malformed.
const MaxLine = 16 << 20

// Stats count what a read found.
type Stats struct {
	Lines     int64 // lines read, blank ones aside
	Malformed int64 // lines that are not a JSON object, or longer than MaxLine: skipped
	Calls     int64 // tool calls made events (Denied among them)
	Denied    int64 // calls the user or a rule refused: denied marks
	Requests  int64 // model requests made events
	Unpaired  int64 // tool_use blocks with no result in the file (still running, or cut off): not sent
	Bytes     int64 // bytes read
}

// Add adds the counts of o to s.
func (s *Stats) Add(o Stats) {
	s.Lines += o.Lines
	s.Malformed += o.Malformed
	s.Calls += o.Calls
	s.Denied += o.Denied
	s.Requests += o.Requests
	s.Unpaired += o.Unpaired
	s.Bytes += o.Bytes
}

// line holds the fields of a transcript line that the import reads.
type line struct {
	Type                 string          `json:"type"`
	SessionID            string          `json:"sessionId"`
	Timestamp            string          `json:"timestamp"`
	RequestID            string          `json:"requestId"`
	IsSidechain          bool            `json:"isSidechain"`
	AgentID              string          `json:"agentId"`
	Version              string          `json:"version"`
	AttributionSkill     string          `json:"attributionSkill"`
	AttributionPlugin    string          `json:"attributionPlugin"`
	AttributionAgent     string          `json:"attributionAgent"`
	AttributionMCPServer string          `json:"attributionMcpServer"`
	CostUSD              *float64        `json:"costUSD"`
	ToolUseResult        json.RawMessage `json:"toolUseResult"`
	Message              struct {
		ID      string          `json:"id"`
		Model   string          `json:"model"`
		Content json.RawMessage `json:"content"`
		Usage   *struct {
			Input         int64 `json:"input_tokens"`
			Output        int64 `json:"output_tokens"`
			CacheCreation int64 `json:"cache_creation_input_tokens"`
			CacheRead     int64 `json:"cache_read_input_tokens"`
		} `json:"usage"`
	} `json:"message"`
}

// block is a content block of a message: a tool_use or a tool_result.
type block struct {
	Type      string          `json:"type"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	ToolUseID string          `json:"tool_use_id"`
	Content   json.RawMessage `json:"content"`
	IsError   bool            `json:"is_error"`
}

// call is a tool_use waiting for its result.
type call struct {
	name, skill, subagent string
	start                 time.Time
	session, agent        string
	model, version        string
	attrSkill, attrPlugin string
}

// request is a model request: the usage of an assistant message.
type request struct {
	at                    time.Time
	session, agent        string
	meta                  trackskills.APIMeta
	input, output, cr, cc int64
	id                    string // the request id, else the message id
}

// reader reads one file.
type reader struct {
	emit     func(trackskills.Input) error
	st       Stats
	pending  map[string]*call
	requests map[string]*request // by message id and request id
	order    []string            // of requests, in file order
}

// Read reads one transcript file from r and calls emit with each event, in
// the order the file holds them (model requests at the end). It stops at
// the first error of emit or of r; a malformed line is no error.
func Read(r io.Reader, emit func(trackskills.Input) error) (Stats, error) {
	rd := &reader{emit: emit, pending: map[string]*call{}, requests: map[string]*request{}}
	br := bufio.NewReaderSize(r, 256<<10)
	var buf []byte   // a line longer than br's buffer, as it comes
	tooLong := false // the line being read is past MaxLine: its rest is skipped
	for {
		chunk, err := br.ReadSlice('\n')
		rd.st.Bytes += int64(len(chunk))
		if errors.Is(err, bufio.ErrBufferFull) {
			if !tooLong && len(buf)+len(chunk) > MaxLine {
				tooLong, buf = true, buf[:0]
			}
			if !tooLong {
				buf = append(buf, chunk...)
			}
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return rd.st, fmt.Errorf("read transcript: %w", err)
		}
		switch {
		case tooLong || len(buf)+len(chunk) > MaxLine:
			rd.st.Lines++
			rd.st.Malformed++
		case len(buf) > 0:
			if err := rd.line(append(buf, chunk...)); err != nil {
				return rd.st, err
			}
		default:
			if err := rd.line(chunk); err != nil {
				return rd.st, err
			}
		}
		tooLong, buf = false, buf[:0]
		if err != nil { // io.EOF
			break
		}
	}
	rd.st.Unpaired += int64(len(rd.pending))
	for _, k := range rd.order {
		if err := rd.emitRequest(rd.requests[k]); err != nil {
			return rd.st, err
		}
	}
	return rd.st, nil
}

func (rd *reader) line(data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil
	}
	rd.st.Lines++
	var l line
	if data[0] != '{' || json.Unmarshal(data, &l) != nil {
		rd.st.Malformed++
		return nil
	}
	at, err := time.Parse(time.RFC3339Nano, l.Timestamp)
	if err != nil {
		return nil // no time, nothing to place: a summary or a snapshot
	}
	switch l.Type {
	case "assistant":
		rd.assistant(&l, at)
	case "user":
		return rd.user(&l, at)
	}
	return nil
}

// blocks decodes a message's content: nil for a plain string (a prompt,
// never read) or anything else.
func blocks(raw json.RawMessage) []block {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '[' {
		return nil
	}
	var bs []block
	if json.Unmarshal(raw, &bs) != nil {
		return nil
	}
	return bs
}

func agentOf(l *line) string {
	if l.IsSidechain || l.AgentID != "" {
		return l.AgentID
	}
	return ""
}

func (rd *reader) assistant(l *line, at time.Time) {
	for _, b := range blocks(l.Message.Content) {
		if b.Type != "tool_use" || b.ID == "" || b.Name == "" {
			continue
		}
		c := &call{name: b.Name, start: at, session: l.SessionID, agent: agentOf(l), model: l.Message.Model, version: l.Version,
			attrSkill: l.AttributionSkill, attrPlugin: l.AttributionPlugin}
		switch claudecode.Category(b.Name) {
		case claudecode.CategorySkill:
			var in struct {
				Skill   any `json:"skill"`
				Command any `json:"command"`
			}
			_ = json.Unmarshal(b.Input, &in)
			for _, v := range []any{in.Skill, in.Command} {
				if s, ok := v.(string); ok && strings.TrimSpace(s) != "" {
					c.skill = strings.TrimPrefix(strings.TrimSpace(s), "/")
					break
				}
			}
		case claudecode.CategorySubagent:
			var in struct {
				SubagentType string `json:"subagent_type"`
			}
			_ = json.Unmarshal(b.Input, &in)
			c.subagent = in.SubagentType
		}
		rd.pending[b.ID] = c
	}
	u := l.Message.Usage
	if u == nil || (l.Message.ID == "" && l.RequestID == "") {
		return
	}
	key := l.Message.ID + "\x00" + l.RequestID
	r := rd.requests[key]
	if r == nil {
		id := l.RequestID
		if id == "" {
			id = l.Message.ID
		}
		r = &request{at: at, session: l.SessionID, agent: agentOf(l), id: id, meta: trackskills.APIMeta{
			Model: l.Message.Model, Skill: l.AttributionSkill, Plugin: l.AttributionPlugin, Agent: l.AttributionAgent,
			MCPServer: l.AttributionMCPServer, RequestID: l.RequestID}}
		rd.requests[key] = r
		rd.order = append(rd.order, key)
	}
	// Each content block of a message is a line of its own, with the
	// message's usage repeated: the largest counts are the final ones.
	r.input, r.output = max(r.input, u.Input), max(r.output, u.Output)
	r.cr, r.cc = max(r.cr, u.CacheRead), max(r.cc, u.CacheCreation)
	if l.CostUSD != nil && *l.CostUSD >= 0 && *l.CostUSD < 1e9 {
		r.meta.CostMicros = max(r.meta.CostMicros, int64(*l.CostUSD*1e6+0.5))
	}
}

func (rd *reader) emitRequest(r *request) error {
	m := r.meta
	m.InputTokens, m.OutputTokens, m.CacheReadTokens, m.CacheCreationTokens = r.input, r.output, r.cr, r.cc
	model := m.Model
	if model == "" {
		model = "unknown"
	}
	meta, _ := json.Marshal(m) // plain values always encode
	in := trackskills.Input{ToolName: trackskills.CutTo(model, trackskills.MaxToolName), ToolCategory: "api", Status: trackskills.StatusSuccess,
		Kind: trackskills.KindAPIRequest, EventID: otlp.APIRequestID(r.id, false), SessionID: r.session, AgentID: r.agent,
		Timestamp: ms(r.at), Source: trackskills.SourceImport, Metadata: meta}
	rd.st.Requests++
	return rd.emit(in)
}

// The texts of a result that say what became of a call.
const (
	textRejected    = "The user doesn't want to proceed with this tool use"
	textApproval    = "requires approval"
	textInterrupted = "[Request interrupted by user"
	textValidation  = "<tool_use_error>"
)

func (rd *reader) user(l *line, at time.Time) error {
	for _, b := range blocks(l.Message.Content) {
		if b.Type != "tool_result" || b.ToolUseID == "" {
			continue
		}
		c, ok := rd.pending[b.ToolUseID]
		if !ok {
			continue // its tool_use is in another file, or cut off
		}
		delete(rd.pending, b.ToolUseID)
		in := rd.callInput(c, b, l, at)
		rd.st.Calls++
		if in.Kind == trackskills.KindDenied {
			rd.st.Denied++
		}
		if err := rd.emit(in); err != nil {
			return err
		}
	}
	return nil
}

func (rd *reader) callInput(c *call, b block, l *line, at time.Time) trackskills.Input {
	in := trackskills.Input{ToolName: c.name, ToolCategory: claudecode.Category(c.name), Status: trackskills.StatusSuccess,
		SessionID: c.session, AgentID: c.agent, Timestamp: ms(c.start), Source: trackskills.SourceImport,
		EventID: claudecode.EventID(b.ToolUseID)}
	meta := claudecode.NewMeta()
	meta.Add("from", "transcript")
	if in.ToolCategory == claudecode.CategorySkill {
		in.ToolName = c.skill
		if in.ToolName == "" {
			var res struct {
				CommandName string `json:"commandName"`
			}
			_ = json.Unmarshal(l.ToolUseResult, &res)
			in.ToolName = strings.TrimPrefix(strings.TrimSpace(res.CommandName), "/")
		}
		if in.ToolName == "" {
			in.ToolName = "Skill"
		}
		meta.Add("tool", c.name)
	}
	meta.Add("tool_use_id", b.ToolUseID)
	meta.Add("subagent_type", c.subagent)
	meta.Add("model", c.model)
	meta.Add("version", c.version)
	meta.Add("attribution_skill", c.attrSkill)
	meta.Add("attribution_plugin", c.attrPlugin)
	if c.agent != "" {
		meta.Add("in_subagent", true)
	}
	if b.IsError {
		text := resultText(b.Content)
		switch {
		case strings.Contains(text, textRejected) || strings.Contains(text, textApproval) ||
			(strings.Contains(text, "Permission to use") && strings.Contains(text, "has been denied")):
			// Refused before it ran: a denied mark, with the id the
			// PermissionDenied hook and telemetry give the call.
			in.ToolName, in.ToolCategory, in.Kind = c.name, claudecode.Category(c.name), trackskills.KindDenied
			in.EventID = ""
			if c.session != "" {
				in.EventID = claudecode.MarkID(c.session, trackskills.KindDenied, b.ToolUseID)
			}
			in.Metadata = meta.JSON()
			return in
		case strings.Contains(text, textInterrupted):
			in.Status, in.ErrorType = trackskills.StatusError, claudecode.ErrorInterrupt
		case strings.Contains(text, textValidation):
			in.Status, in.ErrorType = trackskills.StatusError, claudecode.ErrorTool
			meta.Add("validation", true)
		default:
			f := claudecode.Classify(c.name, in.ToolCategory, text, false)
			in.Status, in.ErrorType = f.Status, f.ErrorType
			if f.HasCode {
				meta.Add("exit_code", f.ExitCode)
			}
		}
		in.ErrorMessage = claudecode.CleanMessage(text)
	}
	if d := at.Sub(c.start).Milliseconds(); d >= 0 && d <= trackskills.MaxDurationMs {
		in.DurationMs = json.RawMessage(strconv.FormatInt(d, 10))
		meta.Add("duration_includes_wait", true)
	}
	in.Metadata = meta.JSON()
	return in
}

// resultText is the text of a tool_result's content: a string, or the
// text blocks of an array.
func resultText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &parts) != nil {
		return ""
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Type == "text" {
			if b.Len() > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(p.Text)
		}
	}
	return b.String()
}

func ms(t time.Time) json.RawMessage { return json.RawMessage(strconv.FormatInt(t.UnixMilli(), 10)) }
