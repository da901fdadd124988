package analytics

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/sql"
)

// The MCP servers: /analytics/mcp and /analytics/mcp/{server}, over the
// MCP rollups (tool calls named mcp__<server>__<tool>, split at ingest).

var (
	mcpParams       = endpoint{window(7), noToolFilter(mcpNoFilter)}
	mcpServerParams = endpoint{mcpServer, window(7), noToolFilter(mcpNoFilter)}
)

const mcpNoFilter = "does not apply to the MCP endpoints, which group by server and tool: " +
	"leave it out, or read /analytics/mcp/{server} for one server's tools"

// noToolFilter refuses tool= and category= with the message why: the
// endpoint groups by something of its own.
func noToolFilter(why string) param {
	return func(p *parser) error {
		for _, name := range []string{"tool", "category"} {
			if p.q.Get(name) != "" {
				return badParam(name, "%s", why)
			}
		}
		return nil
	}
}

// mcpServer reads the server of /analytics/mcp/{server} from the path,
// URL-unescaped: a server name may hold "_", "-" and "__".
func mcpServer(p *parser) error {
	server, err := pathParam(p, "server")
	if err != nil {
		return err
	}
	if server == "" {
		return badParam("server", "is required: /analytics/mcp/{server}")
	}
	p.r.server = server
	return nil
}

// MCPFigures are the figures of an MCP server or of one of its tools in a
// window. The rates are percentages of the calls with two decimals;
// FailureRate counts errors and timeouts together. The percentiles are
// null when no call reported a duration.
type MCPFigures struct {
	Calls         int64  `json:"calls"`
	Errors        int64  `json:"errors"`
	Timeouts      int64  `json:"timeouts"`
	FailureRate   string `json:"failure_rate"`
	ErrorRate     string `json:"error_rate"`
	TimeoutRate   string `json:"timeout_rate"`
	P50DurationMs *int64 `json:"p50_duration_ms"`
	P95DurationMs *int64 `json:"p95_duration_ms"`
	P99DurationMs *int64 `json:"p99_duration_ms"`
}

// mcpFigures returns the figures of st.
func mcpFigures(st *sql.ToolStats) MCPFigures {
	f := MCPFigures{
		Calls: st.Invocations, Errors: st.Errors, Timeouts: st.Timeouts,
		FailureRate: rate(st.Errors+st.Timeouts, st.Invocations),
		ErrorRate:   rate(st.Errors, st.Invocations), TimeoutRate: rate(st.Timeouts, st.Invocations),
	}
	if st.DurationCount > 0 {
		p := func(q float64) *int64 {
			v := pctMax(&st.Latency, q, st.DurationMax)
			return &v
		}
		f.P50DurationMs, f.P95DurationMs, f.P99DurationMs = p(0.50), p(0.95), p(0.99)
	}
	return f
}

// MCPErrorType is the failures of one class (status error or timeout)
// and error type of an MCP server; Rate is their share of its calls.
type MCPErrorType struct {
	Status    string  `json:"status"`
	ErrorType *string `json:"error_type"` // null for failures without a type
	Count     int64   `json:"count"`
	Rate      string  `json:"rate"`
}

// MCPToolCount is one tool of an MCP server with its calls; Tool is ""
// for calls whose name named no tool (mcp__<server>).
type MCPToolCount struct {
	Tool  string `json:"tool"`
	Calls int64  `json:"calls"`
}

// MCPServerResponse is one server of /analytics/mcp. Users are the
// distinct users over the UTC days the window touches.
type MCPServerResponse struct {
	Server string     `json:"server"`
	Users  GroupCount `json:"users"`
	MCPFigures
	ErrorTypes []MCPErrorType `json:"error_types"`
	Tools      []MCPToolCount `json:"tools"`
}

// MCPResponse is /analytics/mcp: every MCP server called in the window,
// most called first.
type MCPResponse struct {
	Period  string              `json:"period"`
	Servers []MCPServerResponse `json:"servers"`
}

// MCPToolResponse is one tool of /analytics/mcp/{server}.
type MCPToolResponse struct {
	Tool string `json:"tool"`
	MCPFigures
}

// MCPDay is one UTC day of an MCP server's daily series.
type MCPDay struct {
	Date     string     `json:"date"`
	Calls    int64      `json:"calls"`
	Errors   int64      `json:"errors"`
	Timeouts int64      `json:"timeouts"`
	Users    GroupCount `json:"users"`
}

// MCPSkill is a skill whose runs called an MCP server: how many of its
// runs did, and their calls to it.
type MCPSkill struct {
	Skill       string `json:"skill"`
	Runs        int64  `json:"runs"`
	Calls       int64  `json:"calls"`
	FailedCalls int64  `json:"failed_calls"`
}

// MCPServerDetailResponse is /analytics/mcp/{server}. Skills lists the
// skills whose runs (started on the days the window touches) called the
// server, most calls first.
type MCPServerDetailResponse struct {
	Server string     `json:"server"`
	Period string     `json:"period"`
	Users  GroupCount `json:"users"`
	MCPFigures
	Tools      []MCPToolResponse `json:"tools"`
	Daily      []MCPDay          `json:"daily"`
	ErrorTypes []MCPErrorType    `json:"error_types"`
	Skills     []MCPSkill        `json:"skills"`
}

// mcpServerTotals folds the per-tool rows of one server into its totals.
func mcpServerTotals(tools []sql.MCPToolStats) sql.ToolStats {
	var st sql.ToolStats
	for i := range tools {
		t := &tools[i].ToolStats
		st.Invocations += t.Invocations
		st.Successes += t.Successes
		st.Errors += t.Errors
		st.Timeouts += t.Timeouts
		st.DurationCount += t.DurationCount
		st.DurationSum += t.DurationSum
		st.DurationMax = max(st.DurationMax, t.DurationMax)
		st.Latency.Merge(&t.Latency)
	}
	return st
}

// mcpErrorTypes returns the error types of one server, of calls calls.
func mcpErrorTypes(counts []sql.MCPErrorCount, calls int64) []MCPErrorType {
	out := make([]MCPErrorType, 0, len(counts))
	for _, c := range counts {
		out = append(out, MCPErrorType{Status: c.Status, ErrorType: optString(c.ErrorType), Count: c.Count,
			Rate: rate(c.Count, calls)})
	}
	return out
}

// handleMCP answers every MCP server called in the window, with its
// figures, error types and tools.
func (s *Server) handleMCP(c echo.Context) error {
	r, err := s.parse(c, mcpParams)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	tools, err := s.db.MCPTools(ctx, r.window, "")
	if err != nil {
		return err
	}
	types, err := s.db.MCPErrorTypes(ctx, r.window, "")
	if err != nil {
		return err
	}
	users, err := s.db.MCPUsers(ctx, r.window.FirstDay(), r.window.LastDay(), "")
	if err != nil {
		return err
	}
	out := MCPResponse{Period: r.period, Servers: []MCPServerResponse{}}
	// Both lists come by server: walk them side by side.
	for i, j := 0, 0; i < len(tools); {
		server := tools[i].Server
		end := i
		for end < len(tools) && tools[end].Server == server {
			end++
		}
		for j < len(types) && types[j].Server < server {
			j++
		}
		k := j
		for k < len(types) && types[k].Server == server {
			k++
		}
		st := mcpServerTotals(tools[i:end])
		sr := MCPServerResponse{Server: server, Users: s.groupCount(users[server]), MCPFigures: mcpFigures(&st),
			ErrorTypes: mcpErrorTypes(types[j:k], st.Invocations), Tools: make([]MCPToolCount, 0, end-i)}
		for _, t := range tools[i:end] {
			sr.Tools = append(sr.Tools, MCPToolCount{Tool: t.ToolName, Calls: t.Invocations})
		}
		out.Servers = append(out.Servers, sr)
		i, j = end, k
	}
	slices.SortStableFunc(out.Servers, func(a, b MCPServerResponse) int {
		return cmp.Or(cmp.Compare(b.Calls, a.Calls), cmp.Compare(a.Server, b.Server))
	})
	return c.JSON(http.StatusOK, out)
}

// handleMCPServer answers one MCP server in the window: its figures, its
// tools, a daily series and its error types.
func (s *Server) handleMCPServer(c echo.Context) error {
	r, err := s.parse(c, mcpServerParams)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	server := r.server
	tools, err := s.db.MCPTools(ctx, r.window, server)
	if err != nil {
		return err
	}
	st := mcpServerTotals(tools)
	if st.Invocations == 0 {
		return fmt.Errorf("%w: MCP server %q has no calls in this window (%s)", trackskills.ErrNotFound, server, r.period)
	}
	first, last := r.window.FirstDay(), r.window.LastDay()
	users, err := s.db.MCPUsers(ctx, first, last, server)
	if err != nil {
		return err
	}
	types, err := s.db.MCPErrorTypes(ctx, r.window, server)
	if err != nil {
		return err
	}
	out := MCPServerDetailResponse{Server: server, Period: r.period, Users: s.groupCount(users[server]), MCPFigures: mcpFigures(&st),
		Tools: make([]MCPToolResponse, 0, len(tools)), ErrorTypes: mcpErrorTypes(types, st.Invocations),
		Skills: []MCPSkill{}}
	for i := range tools {
		out.Tools = append(out.Tools, MCPToolResponse{Tool: tools[i].ToolName, MCPFigures: mcpFigures(&tools[i].ToolStats)})
	}
	points, err := s.db.MCPDaily(ctx, r.window, server)
	if err != nil {
		return err
	}
	dayUsers, err := s.db.MCPDailyUsers(ctx, first, last, server)
	if err != nil {
		return err
	}
	skills, err := s.db.SkillCalls(ctx, r.window, true, "", server)
	if err != nil {
		return err
	}
	for _, c := range skills {
		out.Skills = append(out.Skills, MCPSkill{Skill: c.Skill, Runs: c.Runs, Calls: c.Calls, FailedCalls: c.FailedCalls})
	}
	daily := series(first.StartMs(), last.StartMs(), dayMs, points)
	out.Daily = make([]MCPDay, 0, len(daily))
	for i, b := range daily {
		day := first + sql.Day(i)
		out.Daily = append(out.Daily, MCPDay{Date: day.String(), Calls: b.Invocations, Errors: b.Errors,
			Timeouts: b.Timeouts, Users: s.groupCount(dayUsers[day])})
	}
	return c.JSON(http.StatusOK, out)
}
