package analytics

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/trackskills/trackskills/claudecode"
)

// /analytics/coverage: which sources report the tool calls, and what
// they miss.

var coverageParams = endpoint{window(7), noToolFilter("does not apply to /analytics/coverage, which groups by source: leave it out")}

// SourceEntry is one source of /analytics/coverage.
type SourceEntry struct {
	Source      string `json:"source"`
	CallsStored int64  `json:"calls_stored"` // calls it reported first: their rows are its
	CallsSeen   int64  `json:"calls_seen"`   // calls it reported
	CallsShared int64  `json:"calls_shared"` // calls it reported that another source reported too
	SharedShare string `json:"shared_share"` // calls_shared of calls_seen, as success_rate is of invocations
}

// RedactedEntry is a placeholder Claude Code sent for a name.
type RedactedEntry struct {
	Name  string `json:"name"`
	Where string `json:"where"` // tool_calls or model_requests
	Count int64  `json:"count"`
}

// CoverageResponse is the body of /analytics/coverage.
type CoverageResponse struct {
	Period  string        `json:"period"`
	Sources []SourceEntry `json:"sources"`
	// SessionsWithoutHook counts the sessions whose calls came from
	// telemetry and none from the hook: a machine without the hook.
	SessionsWithoutHook int64           `json:"sessions_without_hook"`
	Redacted            []RedactedEntry `json:"redacted"`
	RevealSetting       string          `json:"reveal_setting"`
	Notes               []string        `json:"notes"`
}

// CoverageNotes say how /analytics/coverage counts, in every answer.
var CoverageNotes = []string{
	"A call two sources report is stored once, from the first; calls_seen adds the calls a source reported after another.",
	"sessions_without_hook counts the sessions last active in the window whose calls came from telemetry and none from the hook.",
	"Claude Code sends custom_skill and mcp_tool in place of names unless OTEL_LOG_TOOL_DETAILS=1; third-party plugin skills stay third-party on model requests.",
}

// handleCoverage answers what each source reported in the window.
func (s *Server) handleCoverage(c echo.Context) error {
	r, err := s.parse(c, coverageParams)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	sources, err := s.db.Coverage(ctx, r.window)
	if err != nil {
		return err
	}
	without, err := s.db.SessionsWithout(ctx, r.window, "otlp", "hook")
	if err != nil {
		return err
	}
	redacted, err := s.db.RedactedNames(ctx, r.window, []string{claudecode.RedactedSkill, claudecode.RedactedMCPTool,
		claudecode.RedactedThirdParty, claudecode.RedactedCustom})
	if err != nil {
		return err
	}
	out := CoverageResponse{Period: r.period, Sources: []SourceEntry{}, SessionsWithoutHook: without, Redacted: []RedactedEntry{},
		RevealSetting: "OTEL_LOG_TOOL_DETAILS=1", Notes: CoverageNotes}
	for _, sc := range sources {
		out.Sources = append(out.Sources, SourceEntry{Source: sc.Source, CallsStored: sc.Stored, CallsSeen: sc.Seen,
			CallsShared: sc.Shared, SharedShare: rate(sc.Shared, sc.Seen)})
	}
	for _, rn := range redacted {
		out.Redacted = append(out.Redacted, RedactedEntry{Name: rn.Name, Where: rn.Where, Count: rn.Count})
	}
	return c.JSON(http.StatusOK, out)
}
