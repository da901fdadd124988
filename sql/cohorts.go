package sql

import (
	"context"
	"fmt"
)

// CohortCell is the number of users of a cohort active in a week: those
// first seen (their earliest day in user_daily) in the ISO week starting
// on Cohort, active in the week starting on Week (both Mondays). Week
// equal to Cohort gives the cohort's size.
type CohortCell struct {
	Cohort Day
	Week   Day
	Users  int64
}

// Cohorts returns the weekly cohorts whose Monday is in [first,
// lastCohort] (both Mondays) with their activity up to the day lastDay,
// exact counts from user_daily.
func (d *DB) Cohorts(ctx context.Context, first, lastCohort, lastDay Day) ([]CohortCell, error) {
	// date(day, 'weekday 0', '-6 days') is the Monday of day's ISO week:
	// 'weekday 0' moves forward to the Sunday ending it.
	// A user's cohort is the week of their first day (user_first_seen);
	// their activity comes from user_weekly, one row per active week.
	// lastDay bounds the first day so that a window in the past ignores
	// later arrivals, as the activity does.
	rows, err := d.conn().QueryContext(ctx, `SELECT date(f.day, 'weekday 0', '-6 days') AS cohort, w.week, COUNT(*)
		FROM user_weekly w JOIN user_first_seen f ON f.user_id_hash = w.user_id_hash
		WHERE w.week >= ? AND w.week <= date(?, 'weekday 0', '-6 days')
		  AND f.day >= ? AND f.day <= ? AND f.day <= ?
		GROUP BY 1, 2 ORDER BY 1, 2`, first.String(), lastDay.String(), first.String(), (lastCohort + 6).String(), lastDay.String())
	if err != nil {
		return nil, fmt.Errorf("cohorts: %w", err)
	}
	defer rows.Close()
	out := []CohortCell{}
	var cohort, week string
	for rows.Next() {
		var c CohortCell
		if err := rows.Scan(&cohort, &week, &c.Users); err != nil {
			return nil, fmt.Errorf("cohorts: %w", err)
		}
		if c.Cohort, err = ParseDay(cohort); err != nil {
			return nil, fmt.Errorf("cohorts: %w", err)
		}
		if c.Week, err = ParseDay(week); err != nil {
			return nil, fmt.Errorf("cohorts: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cohorts: %w", err)
	}
	return out, nil
}
