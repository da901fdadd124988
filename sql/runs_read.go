package sql

import (
	"context"
	dbsql "database/sql"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/runs"
)

// The reads of the skill runs: the runs themselves (skill_runs) and the
// per-skill figures of a window, from the daily rollups for day windows
// and from the runs for hourly ones.

// StoredRun is one skill run as stored; Session and User are stored
// hashes (StoredHash), ParentStart is 0 for a top-level run.
type StoredRun struct {
	Session, User string
	Parent        bool  // nested in another run of its session
	ParentStart   int64 // the start of the run it nests in
	runs.Run
}

// RunQuery selects runs: those started in [From, To), of one skill and
// one end state when set, newest first, at most Limit (all when 0).
type RunQuery struct {
	From, To     int64
	Skill, State string
	Limit        int
}

// Runs returns the runs q selects, newest first (ties by session).
func (d *DB) Runs(ctx context.Context, q RunQuery) ([]StoredRun, error) {
	where, args := []string{"r.start_ms >= ?", "r.start_ms < ?"}, []any{q.From, q.To}
	if q.Skill != "" {
		where, args = append(where, "r.skill = ?"), append(args, q.Skill)
	}
	if q.State != "" {
		where, args = append(where, "r.state = ?"), append(args, q.State)
	}
	query := `SELECT ` + runColumns + ` FROM skill_runs AS r WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY r.start_ms DESC, r.session, r.start_id`
	if q.Limit > 0 {
		query += fmt.Sprintf(" LIMIT %d", q.Limit)
	}
	rows, err := d.conn().QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("runs: %w", err)
	}
	defer rows.Close()
	out := []StoredRun{}
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("runs: %w", err)
		}
		out = append(out, StoredRun{Session: hex.EncodeToString([]byte(r.session)), User: hex.EncodeToString([]byte(r.user)),
			Parent: r.ParentID != nil, ParentStart: r.ParentStart, Run: *r.Run})
	}
	return out, rows.Err()
}

// SkillStats are the figures of one skill's runs started in a window.
type SkillStats struct {
	Skill string
	Runs  int64
	// States counts the runs by end state (runs.States).
	States                          map[string]int64
	Calls, FailedCalls, DeniedCalls int64
	Subagents                       int64
	WallSum                         int64                 // of the ended runs
	Walls                           trackskills.Histogram // run times of the ended runs
	Ended                           int64                 // runs not open
}

func newSkillStats(skill string) *SkillStats {
	return &SkillStats{Skill: skill, States: map[string]int64{}}
}

// addRun counts r in st.
func (st *SkillStats) addRun(r *runs.Run) {
	st.Runs++
	st.States[r.State]++
	st.Calls += r.Calls
	st.FailedCalls += r.FailedCalls
	st.DeniedCalls += r.DeniedCalls
	st.Subagents += r.Subagents()
	if r.State != runs.Open {
		st.Ended++
		st.WallSum += r.WallMs()
		st.Walls.Add(r.WallMs())
	}
}

// SkillList returns the figures of every skill with runs started in w
// (of one skill when skill is set), by skill name.
func (d *DB) SkillList(ctx context.Context, w Window, skill string) ([]*SkillStats, error) {
	return d.skillList(ctx, w, skill, true)
}

// SkillCounts returns the figures of every skill with runs started in w
// as SkillList does, without the run times (Walls stays empty): the
// cheaper read for a trend or the portfolio.
func (d *DB) SkillCounts(ctx context.Context, w Window) ([]*SkillStats, error) {
	return d.skillList(ctx, w, "", false)
}

func (d *DB) skillList(ctx context.Context, w Window, skill string, walls bool) ([]*SkillStats, error) {
	by := map[string]*SkillStats{}
	get := func(name string) *SkillStats {
		st := by[name]
		if st == nil {
			st = newSkillStats(name)
			by[name] = st
		}
		return st
	}
	if w.Hourly {
		list, err := d.Runs(ctx, RunQuery{From: w.From, To: w.To, Skill: skill})
		if err != nil {
			return nil, fmt.Errorf("skills: %w", err)
		}
		for i := range list {
			get(list[i].Skill).addRun(&list[i].Run)
		}
	} else if err := d.skillRollups(ctx, w, skill, walls, get); err != nil {
		return nil, err
	}
	out := make([]*SkillStats, 0, len(by))
	for _, st := range by {
		if st.Runs > 0 {
			out = append(out, st)
		}
	}
	slices.SortFunc(out, func(a, b *SkillStats) int { return strings.Compare(a.Skill, b.Skill) })
	return out, nil
}

// skillRollups adds the daily rollups of the days of w to the stats get
// returns, with the run times when walls is set.
func (d *DB) skillRollups(ctx context.Context, w Window, skill string, walls bool, get func(string) *SkillStats) error {
	cond, args := `day >= ? AND day <= ?`, []any{w.FirstDay().String(), w.LastDay().String()}
	if skill != "" {
		cond += ` AND skill = ?`
		args = append(args, skill)
	}
	hists := `NULL, NULL`
	if walls {
		hists = `hist_sum(walls) FILTER (WHERE walls IS NOT NULL), hist_sum(walls_off) FILTER (WHERE walls_off IS NOT NULL)`
	}
	rows, err := d.conn().QueryContext(ctx, `SELECT skill, SUM(runs), SUM(completed), SUM(failed), SUM(interrupted),
		SUM(abandoned), SUM(open), SUM(calls), SUM(failed_calls), SUM(denied_calls), SUM(subagents), SUM(wall_sum), `+hists+`
		FROM skill_daily WHERE `+cond+` GROUP BY skill`, args...)
	if err != nil {
		return fmt.Errorf("skills: %w", err)
	}
	for rows.Next() {
		var name string
		var v [11]int64
		var on, off []byte
		if err := rows.Scan(&name, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], &on, &off); err != nil {
			rows.Close()
			return fmt.Errorf("skills: %w", err)
		}
		st := get(name)
		st.Runs += v[0]
		for i, s := range runs.States {
			if v[1+i] != 0 {
				st.States[s] += v[1+i]
			}
		}
		st.Ended += v[0] - v[5]
		st.Calls, st.FailedCalls, st.DeniedCalls, st.Subagents, st.WallSum = v[6], v[7], v[8], v[9], v[10]
		if err := decodeWalls(on, off, &st.Walls); err != nil {
			rows.Close()
			return fmt.Errorf("skills: run times of %q: %w", name, err)
		}
	}
	if err := closeRows(rows); err != nil {
		return fmt.Errorf("skills: %w", err)
	}
	return nil
}

// decodeWalls adds to h the run times of on less those of off, the walls
// and walls_off of skill_daily.
func decodeWalls(on, off []byte, h *trackskills.Histogram) error {
	var sum, minus trackskills.Histogram
	if err := trackskills.DecodeHistogram(on, &sum); err != nil {
		return err
	}
	if err := trackskills.DecodeHistogram(off, &minus); err != nil {
		return err
	}
	if err := sum.Subtract(&minus); err != nil {
		return err
	}
	h.Merge(&sum)
	return nil
}

func closeRows(rows *dbsql.Rows) error {
	err := rows.Err()
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	return err
}

// SkillDay is one UTC day of a skill's runs.
type SkillDay struct {
	Day    Day
	Runs   int64
	Failed int64
	Walls  trackskills.Histogram
}

// SkillDaily returns the days of the window with runs of skill, oldest
// first, from the daily rollups of the days the window touches.
func (d *DB) SkillDaily(ctx context.Context, w Window, skill string) ([]SkillDay, error) {
	first, last := w.FirstDay().String(), w.LastDay().String()
	rows, err := d.conn().QueryContext(ctx, `SELECT day, runs, failed, walls, walls_off FROM skill_daily
		WHERE day >= ? AND day <= ? AND skill = ? AND runs > 0 ORDER BY day`, first, last, skill)
	if err != nil {
		return nil, fmt.Errorf("skill daily: %w", err)
	}
	out := []SkillDay{}
	for rows.Next() {
		var text string
		var on, off []byte
		var sd SkillDay
		if err := rows.Scan(&text, &sd.Runs, &sd.Failed, &on, &off); err != nil {
			rows.Close()
			return nil, fmt.Errorf("skill daily: %w", err)
		}
		if sd.Day, err = ParseDay(text); err != nil {
			rows.Close()
			return nil, fmt.Errorf("skill daily: %w", err)
		}
		if err := decodeWalls(on, off, &sd.Walls); err != nil {
			rows.Close()
			return nil, fmt.Errorf("skill daily: run times of %s: %w", text, err)
		}
		out = append(out, sd)
	}
	if err := closeRows(rows); err != nil {
		return nil, fmt.Errorf("skill daily: %w", err)
	}
	return out, nil
}

// SkillCall is a tool or an MCP server the runs of a skill called: in how
// many runs, how many calls, how many of them failed.
type SkillCall struct {
	Skill, Name              string
	Runs, Calls, FailedCalls int64
}

// SkillCalls returns what the runs started on the days of w called: the
// tools (mcp false) or the MCP servers (mcp true), of one skill or calling
// one server when set, most calls first.
func (d *DB) SkillCalls(ctx context.Context, w Window, mcp bool, skill, server string) ([]SkillCall, error) {
	table, key := "skill_daily_tools", "tool_name"
	if mcp {
		table, key = "skill_daily_mcp", "mcp_server"
	}
	cond, args := `day >= ? AND day <= ?`, []any{w.FirstDay().String(), w.LastDay().String()}
	if skill != "" {
		cond += ` AND skill = ?`
		args = append(args, skill)
	}
	if server != "" && mcp {
		cond += ` AND mcp_server = ?`
		args = append(args, server)
	}
	// The table and key names are constants chosen above.
	rows, err := d.conn().QueryContext(ctx, `SELECT skill, `+key+`, SUM(runs), SUM(calls), SUM(failed_calls) FROM `+table+`
		WHERE `+cond+` GROUP BY skill, `+key+` HAVING SUM(runs) > 0 ORDER BY 4 DESC, 1, 2`, args...)
	if err != nil {
		return nil, fmt.Errorf("skill calls: %w", err)
	}
	defer rows.Close()
	out := []SkillCall{}
	for rows.Next() {
		var c SkillCall
		if err := rows.Scan(&c.Skill, &c.Name, &c.Runs, &c.Calls, &c.FailedCalls); err != nil {
			return nil, fmt.Errorf("skill calls: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// SkillUsers returns the distinct users (sessions when sessions is set)
// of each skill (of one when skill is set) with runs on the UTC days
// [first, last], as MCPUsers counts those of a server.
func (d *DB) SkillUsers(ctx context.Context, first, last Day, skill string, sessions bool) (map[string]int64, error) {
	names := userTableNames("skill")
	if sessions {
		names = [4]string{"skill_session_daily", "skill_session_last_seen", "skill_session_last_seen_counts", "skill_daily_sessions"}
	}
	return d.keyUserCounts(ctx, names, "skill", first, last, skill)
}
