package analytics

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/sql"
)

// request is one analytics request, parsed once by Server.parse: the
// window and filter that most endpoints read, then the parameters of each
// endpoint. Handlers read nothing from the query themselves.
type request struct {
	window sql.Window
	filter sql.Filter
	// period names the window in responses: "7 days", "24 hours", or
	// "<from> to <to>" in RFC 3339.
	period string

	tool      string  // /tools/{name}: the tool, from the path or name=
	server    string  // /mcp/{server}: the MCP server, from the path
	limit     int     // /errors, /export: the most rows; 0 is no limit
	status    string  // /errors, /export: only this status; empty for any (on /errors: error or timeout)
	interval  string  // /timeseries: hour or day
	step      int64   // /timeseries: the interval in ms
	byTool    bool    // /timeseries: a series per top tool too (by=tool)
	firstWeek sql.Day // /cohorts: the Monday of the first cohort
	lastDay   sql.Day // /cohorts: the last day of the activity counted
	ndjson    bool    // /export: NDJSON rather than CSV

	portfolio portfolioThresholds // /portfolio
}

// endpoint lists the parameters one endpoint reads, in the order it
// checks them: the first bad one is the 400.
type endpoint []param

// param reads one parameter (or a group, such as the window) into p.r.
type param func(p *parser) error

// parser holds a request being parsed.
type parser struct {
	c   echo.Context
	q   url.Values
	now time.Time // UTC
	r   request
}

// The parameters of each endpoint.
var (
	summaryParams      = endpoint{window(7)}
	toolsParams        = endpoint{window(7)}
	retentionParams    = endpoint{window(30), usersPerTool}
	errorsParams       = endpoint{window(7), limit(50, 1000), failureStatus}
	timeseriesParams   = endpoint{window(7), interval, by, bucketCount}
	toolParams         = endpoint{nameParam("/analytics/tools/{name} or /analytics/tool?name="), window(7)}
	categoriesParams   = endpoint{window(7)}
	cohortsParams      = endpoint{cohortWeeks(8, 26)}
	exportCSVParams    = endpoint{window(7), exportStatus, limit(0, maxExportRows)}
	exportNDJSONParams = endpoint{ndjson, window(7), exportStatus, limit(0, maxExportRows)}

	exportStatus = status(trackskills.StatusSuccess, trackskills.StatusError, trackskills.StatusTimeout)
)

// parse reads the query of c (and the path, for a tool's name) as ep
// says, at the server's clock.
func (s *Server) parse(c echo.Context, ep endpoint) (request, error) {
	p := parser{c: c, q: c.QueryParams(), now: s.Now().UTC()}
	for _, read := range ep {
		if err := read(&p); err != nil {
			return request{}, err
		}
	}
	return p.r, nil
}

func badParam(name, format string, args ...any) error {
	return &trackskills.FieldError{Field: name, Message: fmt.Sprintf(format, args...)}
}

// wholeNumber reads the parameter name, whose value v must be a whole
// number from 1 to hi.
func wholeNumber(name, v string, hi int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > hi {
		return 0, badParam(name, "must be a whole number from 1 to %d, not %q", hi, v)
	}
	return n, nil
}

// window reads days=N (1-365), hours=N (1-168) or from/to (RFC 3339), and
// the tool and category filters. days=N is the last N UTC days, today
// included; hours=N the last N hours, this one included; none is the last
// defDays days.
func window(defDays int) param {
	return func(p *parser) error {
		now, r := p.now, &p.r
		days, hours, from, to := p.q.Get("days"), p.q.Get("hours"), p.q.Get("from"), p.q.Get("to")
		set := 0
		for _, v := range []string{days, hours, from + to} {
			if v != "" {
				set++
			}
		}
		if set > 1 {
			return badParam("days", "use one of days, hours, or from and to")
		}
		r.filter = sql.Filter{Tool: p.q.Get("tool"), Category: p.q.Get("category")}
		if r.tool != "" {
			r.filter.Tool = r.tool // /tools/{name} names its tool itself
		}
		switch {
		case hours != "":
			n, err := wholeNumber("hours", hours, 168)
			if err != nil {
				return err
			}
			start := now.Truncate(time.Hour).Add(-time.Duration(n-1) * time.Hour)
			r.window = sql.Window{From: start.UnixMilli(), To: now.UnixMilli() + 1, Hourly: true}
			r.period = fmt.Sprintf("%d hours", n)
		case from != "" || to != "":
			f, err := time.Parse(time.RFC3339, from)
			if err != nil {
				return badParam("from", "must be an RFC 3339 time such as 2026-02-09T00:00:00Z, not %q", from)
			}
			t := now
			if to != "" {
				if t, err = time.Parse(time.RFC3339, to); err != nil {
					return badParam("to", "must be an RFC 3339 time such as 2026-02-10T00:00:00Z, not %q", to)
				}
			}
			if !t.After(f) {
				return badParam("to", "must be after from")
			}
			if t.Sub(f) > 366*24*time.Hour {
				return badParam("from", "the window can be at most 366 days")
			}
			r.window = sql.Window{From: f.UnixMilli(), To: t.UnixMilli(), Hourly: true}
			r.period = fmt.Sprintf("%s to %s", f.UTC().Format(time.RFC3339), t.UTC().Format(time.RFC3339))
		default:
			n := defDays
			if days != "" {
				var err error
				if n, err = wholeNumber("days", days, 365); err != nil {
					return err
				}
			}
			start := now.Truncate(24*time.Hour).AddDate(0, 0, -(n - 1))
			r.window = sql.Window{From: start.UnixMilli(), To: now.UnixMilli() + 1}
			r.period = fmt.Sprintf("%d days", n)
		}
		return nil
	}
}

// usersPerTool refuses category=: users are kept per tool, not per
// category.
func usersPerTool(p *parser) error {
	if p.r.filter.Category != "" {
		return badParam("category", "retention counts users, which are kept per tool, not per category: use tool")
	}
	return nil
}

// limit reads limit=N (1 to hi), def when absent.
func limit(def, hi int) param {
	return func(p *parser) error {
		p.r.limit = def
		if v := p.q.Get("limit"); v != "" {
			var err error
			if p.r.limit, err = wholeNumber("limit", v, hi); err != nil {
				return err
			}
		}
		return nil
	}
}

// status reads status=, one of allowed or absent.
func status(allowed ...string) param {
	want := strings.Join(allowed[:len(allowed)-1], ", ") + " or " + allowed[len(allowed)-1]
	return func(p *parser) error {
		v := p.q.Get("status")
		for _, a := range allowed {
			if v == a {
				p.r.status = v
				return nil
			}
		}
		if v == "" {
			return nil
		}
		return badParam("status", "must be %s, not %q", want, v)
	}
}

// failureStatus reads the status= of /analytics/errors: error (the
// default, as the original design lists only errors, so that the count
// agrees with the summary's error_rate), timeout, or both as a comma list
// (error,timeout in either order). It sets status as sql.DB.Failures
// takes it: one status, or empty for both.
func failureStatus(p *parser) error {
	v := p.q.Get("status")
	if v == "" {
		p.r.status = trackskills.StatusError
		return nil
	}
	var errs, timeouts bool
	for item := range strings.SplitSeq(v, ",") {
		switch strings.TrimSpace(item) {
		case trackskills.StatusError:
			errs = true
		case trackskills.StatusTimeout:
			timeouts = true
		default:
			return badParam("status", "must be error (the default), timeout, or error,timeout for both, not %q", v)
		}
	}
	switch {
	case errs && timeouts:
		p.r.status = ""
	case timeouts:
		p.r.status = trackskills.StatusTimeout
	default:
		p.r.status = trackskills.StatusError
	}
	return nil
}

// interval reads interval=hour|day: day by default, hour for an hours=N
// window.
func interval(p *parser) error {
	v := p.q.Get("interval")
	if v == "" {
		v = "day"
		if p.q.Get("hours") != "" {
			v = "hour"
		}
	}
	switch v {
	case "hour":
		p.r.step = hourMs
	case "day":
		p.r.step = dayMs
	default:
		return badParam("interval", "must be hour or day, not %q", v)
	}
	p.r.interval = v
	return nil
}

// by reads by=tool or none.
func by(p *parser) error {
	v := p.q.Get("by")
	if v != "" && v != "tool" {
		return badParam("by", "must be tool or absent, not %q", v)
	}
	p.r.byTool = v == "tool"
	return nil
}

// bucketCount refuses a series of more than maxBuckets buckets.
func bucketCount(p *parser) error {
	first, last := p.r.buckets()
	if n := (last-first)/p.r.step + 1; n > maxBuckets {
		return badParam("interval", "%d %s buckets is too many (at most %d): use interval=day or a shorter window", n, p.r.interval, maxBuckets)
	}
	return nil
}

// buckets returns the starts (Unix ms) of the first and last buckets of a
// series of the window at its interval.
func (r *request) buckets() (first, last int64) {
	return floorMs(r.window.From, r.step), floorMs(r.window.To-1, r.step)
}

// nameParam reads the name of a /<things>/{name} path (the tool of
// /analytics/tools/{name}, the skill of /analytics/skills/{name}): the
// name= query parameter when set (for names with a slash, which a path
// segment cannot hold unescaped), else the path segment, URL-unescaped;
// usage names both forms in the 400.
func nameParam(usage string) param {
	return func(p *parser) error {
		if name := p.q.Get("name"); name != "" {
			p.r.tool = name
			return nil
		}
		name, err := pathParam(p, "name")
		if err != nil {
			return err
		}
		if name == "" {
			return badParam("name", "is required: %s", usage)
		}
		p.r.tool = name
		return nil
	}
}

// pathParam returns the path parameter name, URL-unescaped.
func pathParam(p *parser, name string) (string, error) {
	v := p.c.Param(name)
	// echo routes on the escaped path when it differs from the decoded
	// one (RawPath set); its parameters are then still escaped.
	if p.c.Request().URL.RawPath != "" {
		var err error
		if v, err = url.PathUnescape(v); err != nil {
			return "", badParam(name, "is not a valid URL path segment: %v", err)
		}
	}
	return v, nil
}

// cohortWeeks reads the weeks of /analytics/cohorts. weeks=N (1 to hi,
// def when there is no window either) takes the last N ISO weeks, this
// one included; days/hours/from-to instead take the weeks whose Monday is
// inside that window. Activity counts up to the window's last day.
func cohortWeeks(def, hi int) param {
	return func(p *parser) error {
		v := p.q.Get("weeks")
		windowSet := p.q.Get("days")+p.q.Get("hours")+p.q.Get("from")+p.q.Get("to") != ""
		if v == "" && windowSet {
			if err := window(7)(p); err != nil {
				return err
			}
			p.r.lastDay = p.r.window.LastDay()
			p.r.firstWeek = monday(p.r.window.FirstDay() + 6)
			return nil
		}
		n := def
		if v != "" {
			var err error
			if n, err = wholeNumber("weeks", v, hi); err != nil {
				return err
			}
		}
		if windowSet {
			return badParam("weeks", "use weeks or one of days, hours, or from and to, not both")
		}
		p.r.lastDay = sql.DayOfTime(p.now)
		p.r.firstWeek = monday(p.r.lastDay) - sql.Day(7*(n-1))
		return nil
	}
}

// ndjson marks an export as NDJSON.
func ndjson(p *parser) error {
	p.r.ndjson = true
	return nil
}
