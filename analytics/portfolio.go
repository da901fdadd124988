package analytics

import (
	"cmp"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/trackskills/trackskills/sql"
)

// The skill portfolio: the skills and MCP servers that scans registered
// (trackskills skills scan) set against what was used in the window.

// Defaults of the portfolio's thresholds.
const (
	DefaultFade = 50 // % drop against the previous window that makes a skill fading
	DefaultFail = 20 // % failure share over which a skill is failing
	DefaultMin  = 5  // uses a skill needs before it can fade or fail
)

// Sections of the portfolio, in the order of the answer.
const (
	SectionNeverUsed    = "never_used"
	SectionFading       = "fading"
	SectionFailing      = "failing"
	SectionUnregistered = "unregistered"
	SectionMCPUnused    = "mcp_unused"
	SectionPluginUnused = "plugins_unused"
)

// portfolioThresholds are the parameters of /analytics/portfolio.
type portfolioThresholds struct {
	fade, fail int   // percentages
	min        int64 // uses
}

var portfolioParams = endpoint{window(30), threshold("fade", DefaultFade, 1, 100), threshold("fail", DefaultFail, 0, 99),
	threshold("min", DefaultMin, 1, 1_000_000)}

// threshold reads the whole number name= (lo to hi), def when absent.
func threshold(name string, def, lo, hi int) param {
	return func(p *parser) error {
		n := def
		if v := p.q.Get(name); v != "" {
			var err error
			if n, err = strconv.Atoi(v); err != nil || n < lo || n > hi {
				return badParam(name, "must be a whole number from %d to %d, not %q", lo, hi, v)
			}
		}
		switch name {
		case "fade":
			p.r.portfolio.fade = n
		case "fail":
			p.r.portfolio.fail = n
		case "min":
			p.r.portfolio.min = int64(n)
		}
		return nil
	}
}

// PortfolioResponse is /analytics/portfolio.
type PortfolioResponse struct {
	Period          string              `json:"period"`
	Thresholds      PortfolioThresholds `json:"thresholds"`
	KnownSkills     int                 `json:"known_skills"`      // registered by any scan, ever
	KnownMCPServers int                 `json:"known_mcp_servers"` // likewise
	KnownPlugins    int                 `json:"known_plugins"`     // loaded, as telemetry reports
	Sections        []PortfolioSection  `json:"sections"`
}

// PortfolioThresholds are the thresholds the answer applied.
type PortfolioThresholds struct {
	Fade int   `json:"fade"` // %
	Fail int   `json:"fail"` // %
	Min  int64 `json:"min"`  // uses
}

// PortfolioSection is one section of the portfolio: its rows and why they
// are there.
type PortfolioSection struct {
	ID    string         `json:"id"`
	Title string         `json:"title"`
	Rows  []PortfolioRow `json:"rows"`
}

// PortfolioRow is a skill or an MCP server of a section, with the fact
// that put it there.
type PortfolioRow struct {
	Name         string        `json:"name"`
	Fact         string        `json:"fact"`
	Uses         int64         `json:"uses"`                    // in the window (an MCP server's calls)
	PreviousUses *int64        `json:"previous_uses,omitempty"` // fading: in the window before
	Failures     *int64        `json:"failures,omitempty"`      // failing
	Registered   *Registration `json:"registered"`              // null: no scan registered it
}

// Registration is what scans registered of a skill or an MCP server.
type Registration struct {
	Users       int64  `json:"users"`
	Source      string `json:"source"`
	Plugin      string `json:"plugin,omitempty"`
	Description string `json:"description,omitempty"`
	SizeBytes   int64  `json:"size_bytes,omitempty"`
	FirstSeen   string `json:"first_seen"` // the first scan that registered it
	LastSeen    string `json:"last_seen"`  // the latest
}

// handlePortfolio answers the portfolio of the window.
func (s *Server) handlePortfolio(c echo.Context) error {
	r, err := s.parse(c, portfolioParams)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	skills, err := s.db.KnownSkills(ctx)
	if err != nil {
		return err
	}
	servers, err := s.db.KnownMCPServers(ctx)
	if err != nil {
		return err
	}
	use, err := s.db.SkillUse(ctx, r.window)
	if err != nil {
		return err
	}
	before, err := s.db.SkillUse(ctx, previousWindow(r.window))
	if err != nil {
		return err
	}
	calls, err := s.db.MCPServerCalls(ctx, r.window)
	if err != nil {
		return err
	}
	plugins, err := s.db.KnownPlugins(ctx)
	if err != nil {
		return err
	}
	pluginRequests, err := s.db.PluginRequests(ctx, r.window)
	if err != nil {
		return err
	}
	th := r.portfolio
	out := PortfolioResponse{
		Period: r.period, Thresholds: PortfolioThresholds{Fade: th.fade, Fail: th.fail, Min: th.min},
		KnownSkills: len(skills), KnownMCPServers: len(servers), KnownPlugins: len(plugins),
	}
	in := "in " + r.period
	if strings.Contains(r.period, " to ") {
		in = "in the window"
	}
	known := make(map[string]*Registration, len(skills))
	for _, k := range skills {
		known[k.Name] = &Registration{Users: k.Users, Source: k.Source, Plugin: k.Plugin, Description: k.Description,
			SizeBytes: k.SizeBytes, FirstSeen: seenTime(k.FirstSeen), LastSeen: seenTime(k.LastSeen)}
	}

	never := []PortfolioRow{}
	for _, k := range skills {
		if use[k.Name].Uses == 0 {
			never = append(never, PortfolioRow{Name: k.Name, Registered: known[k.Name],
				Fact: fmt.Sprintf("registered by %s, no use %s", plural(k.Users, "user"), in)})
		}
	}
	sortRows(never, func(r PortfolioRow) int64 { return r.Registered.Users })

	fading := []PortfolioRow{}
	for name, prev := range before {
		now := use[name].Uses
		// A drop of fade% or more: (prev-now)/prev >= fade/100, in integers.
		if prev.Uses < th.min || (prev.Uses-now)*100 < int64(th.fade)*prev.Uses {
			continue
		}
		fading = append(fading, PortfolioRow{Name: name, Uses: now, PreviousUses: &prev.Uses, Registered: known[name],
			Fact: fmt.Sprintf("%s, down from %d (%s)", plural(now, "use"), prev.Uses, change(now, prev.Uses))})
	}
	sortRows(fading, func(r PortfolioRow) int64 { return (*r.PreviousUses - r.Uses) * 1000 / *r.PreviousUses })

	failing := []PortfolioRow{}
	unregistered := []PortfolioRow{}
	for name, u := range use {
		if u.Uses >= th.min && u.Failures*100 > int64(th.fail)*u.Uses {
			failures := u.Failures
			failing = append(failing, PortfolioRow{Name: name, Uses: u.Uses, Failures: &failures, Registered: known[name],
				Fact: fmt.Sprintf("%d of %s failed (%d%%)", u.Failures, plural(u.Uses, "use"), percent(u.Failures, u.Uses))})
		}
		if known[name] == nil {
			unregistered = append(unregistered, PortfolioRow{Name: name, Uses: u.Uses,
				Fact: fmt.Sprintf("%s %s, registered by no scan", plural(u.Uses, "use"), in)})
		}
	}
	sortRows(failing, func(r PortfolioRow) int64 { return *r.Failures * 1000 / r.Uses })
	sortRows(unregistered, func(r PortfolioRow) int64 { return r.Uses })

	mcpUnused := []PortfolioRow{}
	for _, k := range servers {
		if calls[k.Name] > 0 {
			continue
		}
		mcpUnused = append(mcpUnused, PortfolioRow{Name: k.Name,
			Registered: &Registration{Users: k.Users, Source: k.Source, FirstSeen: seenTime(k.FirstSeen), LastSeen: seenTime(k.LastSeen)},
			Fact:       fmt.Sprintf("configured by %s, no call %s", plural(k.Users, "user"), in)})
	}
	sortRows(mcpUnused, func(r PortfolioRow) int64 { return r.Registered.Users })

	// A plugin is used when one of its skills (named <plugin>:<skill>) was,
	// or a model request was attributed to it.
	pluginUses := map[string]int64{}
	for name, u := range use {
		if plugin, _, ok := strings.Cut(name, ":"); ok {
			pluginUses[plugin] += u.Uses
		}
	}
	pluginUnused := []PortfolioRow{}
	for _, k := range plugins {
		if pluginUses[k.Name] > 0 || pluginRequests[k.Name] > 0 {
			continue
		}
		pluginUnused = append(pluginUnused, PortfolioRow{Name: k.Name,
			Registered: &Registration{Users: k.Users, Source: k.Scope, FirstSeen: seenTime(k.FirstSeen), LastSeen: seenTime(k.LastSeen)},
			Fact: fmt.Sprintf("loaded by %s, %s, no skill use or model request %s", plural(k.Users, "user"),
				plural(k.Skills, "skill"), in)})
	}
	sortRows(pluginUnused, func(r PortfolioRow) int64 { return r.Registered.Users })

	out.Sections = []PortfolioSection{
		{ID: SectionNeverUsed, Title: "Never used", Rows: never},
		{ID: SectionFading, Title: "Fading", Rows: fading},
		{ID: SectionFailing, Title: "Failing", Rows: failing},
		{ID: SectionUnregistered, Title: "Used but never registered", Rows: unregistered},
		{ID: SectionMCPUnused, Title: "MCP servers configured but never called", Rows: mcpUnused},
		{ID: SectionPluginUnused, Title: "Plugins loaded but never used", Rows: pluginUnused},
	}
	return c.JSON(http.StatusOK, out)
}

// previousWindow is the window of the same length just before w: the N
// days before a window of N days, the hours before an hourly one.
func previousWindow(w sql.Window) sql.Window {
	if !w.Hourly {
		first, last := w.FirstDay(), w.LastDay()
		n := last - first + 1
		return sql.Window{From: (first - n).StartMs(), To: first.StartMs()}
	}
	from := floorMs(w.From, hourMs)
	return sql.Window{From: from - (w.To - from), To: from, Hourly: true}
}

// sortRows orders rows by key, largest first, then by name.
func sortRows(rows []PortfolioRow, key func(PortfolioRow) int64) {
	slices.SortFunc(rows, func(a, b PortfolioRow) int {
		return cmp.Or(cmp.Compare(key(b), key(a)), strings.Compare(a.Name, b.Name))
	})
}

// plural is "1 use", "2 uses".
func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.FormatInt(n, 10) + " " + noun + "s"
}

// percent is part/total in whole percent, rounded.
func percent(part, total int64) int64 {
	return int64(math.Round(100 * float64(part) / float64(total)))
}

// change is now against before as a signed whole percentage: "-70%".
func change(now, before int64) string {
	return fmt.Sprintf("%+d%%", int64(math.Round(100*float64(now-before)/float64(before))))
}

func seenTime(ms int64) string { return time.UnixMilli(ms).UTC().Format(time.RFC3339) }
