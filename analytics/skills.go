package analytics

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/runs"
	"github.com/trackskills/trackskills/sql"
)

// The skills, measured by their runs: /analytics/skills,
// /analytics/skills/{name} (or /analytics/skill?name=) and
// /analytics/runs. Day windows read the daily run rollups of the days the
// window touches, by the day a run started; hourly ones the runs started
// in the window.

const skillsNoFilter = "does not apply to the skill endpoints, which group by skill: leave it out, " +
	"or read /analytics/skills/{name} for one skill"

var (
	skillsParams = endpoint{window(7), noToolFilter(skillsNoFilter)}
	skillParams  = endpoint{nameParam("/analytics/skills/{name} or /analytics/skill?name="), window(7), noToolFilter(skillsNoFilter)}
	runsParams   = endpoint{window(7), noToolFilter(skillsNoFilter), runFilter, limit(50, 1000)}
)

// runFilter reads skill= and state= (an end state) of /analytics/runs.
func runFilter(p *parser) error {
	p.r.tool = p.q.Get("skill")
	if v := p.q.Get("state"); v != "" {
		if !slices.Contains(runs.States, v) {
			return badParam("state", "must be one of %s, not %q", strings.Join(runs.States, ", "), v)
		}
		p.r.status = v
	}
	return nil
}

// SkillFigures are the figures of a skill's runs in a window. The run
// times are of the ended runs (null when none ended); FailureShare is the
// percentage of the ended runs that failed.
type SkillFigures struct {
	Runs            int64            `json:"runs"`
	Users           GroupCount       `json:"users"`
	Sessions        GroupCount       `json:"sessions"`
	EndStates       map[string]int64 `json:"end_states"`
	FailedRuns      int64            `json:"failed_runs"`
	FailureShare    string           `json:"failure_share"`
	P50RunMs        *int64           `json:"p50_run_ms"`
	P95RunMs        *int64           `json:"p95_run_ms"`
	MeanRunMs       *int64           `json:"mean_run_ms"`
	ToolCalls       int64            `json:"tool_calls"`
	FailedCalls     int64            `json:"failed_calls"`
	DeniedCalls     int64            `json:"denied_calls"`
	Subagents       int64            `json:"subagents"`
	ToolCallsPerRun string           `json:"tool_calls_per_run"`
}

func (s *Server) skillFigures(st *sql.SkillStats, users, sessions int64) SkillFigures {
	f := SkillFigures{Runs: st.Runs, Users: s.groupCount(users), Sessions: s.groupCount(sessions),
		EndStates: map[string]int64{}, FailedRuns: st.States[runs.Failed],
		FailureShare: rate(st.States[runs.Failed], st.Ended), ToolCalls: st.Calls, FailedCalls: st.FailedCalls,
		DeniedCalls: st.DeniedCalls, Subagents: st.Subagents, ToolCallsPerRun: "0.0"}
	for _, state := range runs.States {
		f.EndStates[state] = st.States[state]
	}
	if st.Runs > 0 {
		f.ToolCallsPerRun = fmt.Sprintf("%.1f", float64(st.Calls)/float64(st.Runs))
	}
	if st.Ended > 0 {
		p50, p95, mean := pct(&st.Walls, 0.50), pct(&st.Walls, 0.95), avg(st.WallSum, st.Ended)
		f.P50RunMs, f.P95RunMs, f.MeanRunMs = &p50, &p95, &mean
	}
	return f
}

// SkillResponse is one skill of /analytics/skills: its figures and the
// runs of the previous window of the same length.
type SkillResponse struct {
	Skill string `json:"skill"`
	SkillFigures
	PreviousRuns int64   `json:"previous_runs"`
	RunsChange   *string `json:"runs_change"` // percent against the previous window; null when it had none
}

// SkillsResponse is /analytics/skills: every skill with runs started in
// the window, most runs first.
type SkillsResponse struct {
	Period string          `json:"period"`
	Skills []SkillResponse `json:"skills"`
}

func (s *Server) handleSkills(c echo.Context) error {
	r, err := s.parse(c, skillsParams)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	list, err := s.db.SkillList(ctx, r.window, "")
	if err != nil {
		return err
	}
	before, err := s.db.SkillCounts(ctx, previousWindow(r.window))
	if err != nil {
		return err
	}
	prev := map[string]int64{}
	for _, st := range before {
		prev[st.Skill] = st.Runs
	}
	first, last := r.window.FirstDay(), r.window.LastDay()
	users, err := s.db.SkillUsers(ctx, first, last, "", false)
	if err != nil {
		return err
	}
	sessions, err := s.db.SkillUsers(ctx, first, last, "", true)
	if err != nil {
		return err
	}
	out := SkillsResponse{Period: r.period, Skills: make([]SkillResponse, 0, len(list))}
	for _, st := range list {
		sr := SkillResponse{Skill: st.Skill, SkillFigures: s.skillFigures(st, users[st.Skill], sessions[st.Skill]),
			PreviousRuns: prev[st.Skill]}
		if p := prev[st.Skill]; p > 0 {
			ch := fmt.Sprintf("%.1f", 100*float64(st.Runs-p)/float64(p))
			sr.RunsChange = &ch
		}
		out.Skills = append(out.Skills, sr)
	}
	slices.SortStableFunc(out.Skills, func(a, b SkillResponse) int {
		return cmp.Or(cmp.Compare(b.Runs, a.Runs), cmp.Compare(a.Skill, b.Skill))
	})
	return c.JSON(http.StatusOK, out)
}

// SkillDayResponse is one UTC day of a skill's daily series.
type SkillDayResponse struct {
	Date     string `json:"date"`
	Runs     int64  `json:"runs"`
	Failed   int64  `json:"failed"`
	P50RunMs *int64 `json:"p50_run_ms"`
}

// SkillCallResponse is a tool or an MCP server a skill's runs called.
type SkillCallResponse struct {
	Name        string `json:"name"`
	Runs        int64  `json:"runs"`
	Calls       int64  `json:"calls"`
	FailedCalls int64  `json:"failed_calls"`
}

// RunResponse is one run.
type RunResponse struct {
	Skill         string           `json:"skill"`
	Session       string           `json:"session_hash"`
	User          string           `json:"user_hash"`
	StartMs       int64            `json:"start_ms"`
	EndMs         int64            `json:"end_ms"`
	WallMs        int64            `json:"wall_ms"`
	EndState      string           `json:"end_state"`
	Trigger       string           `json:"trigger"` // "user-slash" for a typed /skill, else "tool"
	ToolCalls     int64            `json:"tool_calls"`
	FailedCalls   int64            `json:"failed_calls"`
	DeniedCalls   int64            `json:"denied_calls"`
	Subagents     int64            `json:"subagents"`
	MCPServers    []string         `json:"mcp_servers"`
	Tools         map[string]int64 `json:"tools"`
	ParentStartMs *int64           `json:"parent_start_ms"` // of the run it nests in; null at top level
}

func runResponse(r *sql.StoredRun) RunResponse {
	out := RunResponse{Skill: r.Skill, Session: r.Session, User: r.User, StartMs: r.Start, EndMs: r.End,
		WallMs: r.WallMs(), EndState: r.State, Trigger: "tool", ToolCalls: r.Calls, FailedCalls: r.FailedCalls,
		DeniedCalls: r.DeniedCalls, Subagents: r.Subagents(), MCPServers: []string{}, Tools: map[string]int64{}}
	if r.UserSlash {
		out.Trigger = "user-slash"
	}
	for name, t := range r.Tools {
		out.Tools[name] = t.Calls
		if server, _ := trackskills.SplitMCP(name); server != "" && !slices.Contains(out.MCPServers, server) {
			out.MCPServers = append(out.MCPServers, server)
		}
	}
	slices.Sort(out.MCPServers)
	if r.Parent {
		p := r.ParentStart
		out.ParentStartMs = &p
	}
	return out
}

// SkillDetailResponse is /analytics/skills/{name}.
type SkillDetailResponse struct {
	Skill  string `json:"skill"`
	Period string `json:"period"`
	SkillFigures
	Daily            []SkillDayResponse  `json:"daily"`
	Tools            []SkillCallResponse `json:"tools"`
	MCPServers       []SkillCallResponse `json:"mcp_servers"`
	RecentFailedRuns []RunResponse       `json:"recent_failed_runs"`
}

func (s *Server) handleSkill(c echo.Context) error {
	r, err := s.parse(c, skillParams)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	name := r.tool
	list, err := s.db.SkillList(ctx, r.window, name)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		return fmt.Errorf("%w: skill %q has no runs in this window (%s)", trackskills.ErrNotFound, name, r.period)
	}
	first, last := r.window.FirstDay(), r.window.LastDay()
	users, err := s.db.SkillUsers(ctx, first, last, name, false)
	if err != nil {
		return err
	}
	sessions, err := s.db.SkillUsers(ctx, first, last, name, true)
	if err != nil {
		return err
	}
	out := SkillDetailResponse{Skill: name, Period: r.period, SkillFigures: s.skillFigures(list[0], users[name], sessions[name]),
		Tools: []SkillCallResponse{}, MCPServers: []SkillCallResponse{}, RecentFailedRuns: []RunResponse{}}
	days, err := s.db.SkillDaily(ctx, r.window, name)
	if err != nil {
		return err
	}
	byDay := map[sql.Day]*sql.SkillDay{}
	for i := range days {
		byDay[days[i].Day] = &days[i]
	}
	for day := first; day <= last; day++ {
		d := SkillDayResponse{Date: day.String()}
		if sd := byDay[day]; sd != nil {
			d.Runs, d.Failed = sd.Runs, sd.Failed
			if sd.Walls.Count() > 0 {
				p := pct(&sd.Walls, 0.5)
				d.P50RunMs = &p
			}
		}
		out.Daily = append(out.Daily, d)
	}
	for _, mcp := range []bool{false, true} {
		calls, err := s.db.SkillCalls(ctx, r.window, mcp, name, "")
		if err != nil {
			return err
		}
		for _, c := range calls {
			cr := SkillCallResponse{Name: c.Name, Runs: c.Runs, Calls: c.Calls, FailedCalls: c.FailedCalls}
			if mcp {
				out.MCPServers = append(out.MCPServers, cr)
			} else {
				out.Tools = append(out.Tools, cr)
			}
		}
	}
	failed, err := s.db.Runs(ctx, sql.RunQuery{From: r.window.From, To: r.window.To, Skill: name, State: runs.Failed, Limit: 20})
	if err != nil {
		return err
	}
	for i := range failed {
		out.RecentFailedRuns = append(out.RecentFailedRuns, runResponse(&failed[i]))
	}
	return c.JSON(http.StatusOK, out)
}

// RunsResponse is /analytics/runs: the runs started in the window, newest
// first, of one skill and end state when asked.
type RunsResponse struct {
	Period string        `json:"period"`
	Runs   []RunResponse `json:"runs"`
}

func (s *Server) handleRuns(c echo.Context) error {
	r, err := s.parse(c, runsParams)
	if err != nil {
		return err
	}
	list, err := s.db.Runs(c.Request().Context(), sql.RunQuery{From: r.window.From, To: r.window.To, Skill: r.tool,
		State: r.status, Limit: r.limit})
	if err != nil {
		return err
	}
	out := RunsResponse{Period: r.period, Runs: make([]RunResponse, 0, len(list))}
	for i := range list {
		out.Runs = append(out.Runs, runResponse(&list[i]))
	}
	return c.JSON(http.StatusOK, out)
}
