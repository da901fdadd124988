package analytics

import (
	"cmp"
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"github.com/trackskills/trackskills/claudecode"
	"github.com/trackskills/trackskills/sql"
)

// The cost ledger: /analytics/costs, over cost_daily (the api_request
// events of Claude Code's telemetry and of imported transcripts).

var costsParams = endpoint{window(7), noToolFilter("does not apply to /analytics/costs, which groups by skill, MCP server, model and plugin: leave it out")}

// CostAttribution states how requests are attributed, in every answer of
// /analytics/costs.
var CostAttribution = []string{
	"Each model request counts once, by its request id, whichever source reported it (telemetry or an imported transcript).",
	"skill is the skill active for the request as Claude Code attributes it: set by the Skill tool or a typed /command, " +
		"inherited by subagents, until the next prompt. Third-party plugin skills arrive as \"third-party\".",
	"mcp_server: since Claude Code v2.1.222 only the requests that consumed an MCP server's result carry it; before, " +
		"every request after any MCP call did, so MCP costs step down after that upgrade.",
	"Costs are Claude Code's own estimates (cost_usd); streams with usage in several frames overstated them before v2.1.214.",
	"A request with no skill, MCP server or plugin counts under an unattributed entry of that breakdown.",
	"The ledger is kept by UTC day: a window of hours counts the whole days it touches.",
	"cost_per_run_usd is a skill's attributed cost over its skill runs started in the window (the runs come from the hooks).",
}

// CostFigures are the sums of a set of model requests.
type CostFigures struct {
	Requests            int64   `json:"requests"`
	Failed              int64   `json:"failed"`
	CostUSD             float64 `json:"cost_usd"`
	CostMicros          int64   `json:"cost_usd_micros"`
	InputTokens         int64   `json:"input_tokens"`
	OutputTokens        int64   `json:"output_tokens"`
	CacheReadTokens     int64   `json:"cache_read_tokens"`
	CacheCreationTokens int64   `json:"cache_creation_tokens"`
}

func (f *CostFigures) add(r *sql.CostRow) {
	f.Requests += r.Requests
	f.Failed += r.Failed
	f.CostMicros += r.CostMicros
	f.CostUSD = float64(f.CostMicros) / 1e6
	f.InputTokens += r.InputTokens
	f.OutputTokens += r.OutputTokens
	f.CacheReadTokens += r.CacheReadTokens
	f.CacheCreationTokens += r.CacheCreationTokens
}

// CostEntry is one name of a breakdown: a skill, an MCP server, a model or
// a plugin. Unattributed is the entry of requests without one; Redacted
// marks a placeholder Claude Code sent in place of the name.
type CostEntry struct {
	Name         string `json:"name"`
	Unattributed bool   `json:"unattributed,omitempty"`
	Redacted     bool   `json:"redacted,omitempty"`
	CostShare    string `json:"cost_share"` // of the window's cost, as success_rate is of invocations
	CostFigures
	// Runs and CostPerRunUSD, of a skill with runs started in the window
	// (by_skill only): its attributed cost over its runs.
	Runs          int64    `json:"runs,omitempty"`
	CostPerRunUSD *float64 `json:"cost_per_run_usd,omitempty"`
}

// CostDay is one day of the window.
type CostDay struct {
	Date string `json:"date"`
	CostFigures
}

// CostsResponse is the body of /analytics/costs.
type CostsResponse struct {
	Period      string      `json:"period"`
	Totals      CostFigures `json:"totals"`
	BySkill     []CostEntry `json:"by_skill"`
	ByMCPServer []CostEntry `json:"by_mcp_server"`
	ByModel     []CostEntry `json:"by_model"`
	ByPlugin    []CostEntry `json:"by_plugin"`
	ByDay       []CostDay   `json:"by_day"`
	Attribution []string    `json:"attribution"`
}

// handleCosts answers the cost and tokens of the window's model requests,
// in total and by skill, MCP server, model, plugin and day.
func (s *Server) handleCosts(c echo.Context) error {
	r, err := s.parse(c, costsParams)
	if err != nil {
		return err
	}
	rows, err := s.db.Costs(c.Request().Context(), r.window)
	if err != nil {
		return err
	}
	out := CostsResponse{Period: r.period, ByDay: []CostDay{}, Attribution: CostAttribution}
	skills, servers, models, plugins := costBreakdown{}, costBreakdown{}, costBreakdown{}, costBreakdown{}
	for i := range rows {
		row := &rows[i]
		out.Totals.add(row)
		skills.add(row.Skill, row)
		servers.add(row.MCPServer, row)
		models.add(row.Model, row)
		plugins.add(row.Plugin, row)
		if n := len(out.ByDay); n == 0 || out.ByDay[n-1].Date != row.Day.String() {
			out.ByDay = append(out.ByDay, CostDay{Date: row.Day.String()})
		}
		out.ByDay[len(out.ByDay)-1].add(row)
	}
	total := out.Totals.CostMicros
	out.BySkill, out.ByMCPServer, out.ByModel, out.ByPlugin = skills.entries(total), servers.entries(total),
		models.entries(total), plugins.entries(total)
	if len(out.BySkill) > 0 {
		counts, err := s.db.SkillCounts(c.Request().Context(), r.window)
		if err != nil {
			return err
		}
		runs := make(map[string]int64, len(counts))
		for _, st := range counts {
			runs[st.Skill] = st.Runs
		}
		for i := range out.BySkill {
			e := &out.BySkill[i]
			if n := runs[e.Name]; n > 0 && !e.Unattributed {
				per := e.CostUSD / float64(n)
				e.Runs, e.CostPerRunUSD = n, &per
			}
		}
	}
	return c.JSON(http.StatusOK, out)
}

// costBreakdown sums rows by one name.
type costBreakdown map[string]*CostFigures

func (b costBreakdown) add(name string, r *sql.CostRow) {
	f := b[name]
	if f == nil {
		f = &CostFigures{}
		b[name] = f
	}
	f.add(r)
}

// entries are the names of b, the most costly first (then the most
// requests, then by name).
func (b costBreakdown) entries(total int64) []CostEntry {
	out := make([]CostEntry, 0, len(b))
	for name, f := range b {
		out = append(out, CostEntry{Name: name, Unattributed: name == "", Redacted: claudecode.IsRedacted(name),
			CostShare: rate(f.CostMicros, total), CostFigures: *f})
	}
	slices.SortFunc(out, func(x, y CostEntry) int {
		return cmp.Or(cmp.Compare(y.CostMicros, x.CostMicros), cmp.Compare(y.Requests, x.Requests), cmp.Compare(x.Name, y.Name))
	})
	return out
}
