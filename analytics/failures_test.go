package analytics_test

import (
	"strconv"
	"testing"

	"github.com/trackskills/trackskills/analytics"
	"github.com/trackskills/trackskills/testkit"
)

// TestErrors_CountAgreesWithErrorRate checks that the default error list
// holds the events that the summary's error_rate counts (errors, not
// timeouts), and that status=error,timeout adds the timeouts.
func TestErrors_CountAgreesWithErrorRate(t *testing.T) {
	db := testkit.MustOpenDB(t)
	testkit.MustWriteBatch(t, db, goldenEvents())
	e := newRouter(t, db.Path(), analytics.Config{})

	for _, tt := range []struct {
		name, filter string
	}{
		{"All", ""},
		{"Tool", "&tool=" + urlQuery(quotedTool)},
		{"Category", "&category=comm"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var sum analytics.SummaryResponse
			mustGetJSON(t, e, "/analytics/summary?days=7"+tt.filter, &sum)
			var errs, both analytics.ErrorsResponse
			mustGetJSON(t, e, "/analytics/errors?days=7&limit=1000"+tt.filter, &errs)
			mustGetJSON(t, e, "/analytics/errors?days=7&limit=1000&status=error,timeout"+tt.filter, &both)
			for _, er := range errs.Errors {
				if er.Status != "error" {
					t.Errorf("default list holds a %s: %+v", er.Status, er)
				}
			}
			pct := func(n int) string {
				return strconv.FormatFloat(100*float64(n)/float64(sum.TotalInvocations), 'f', 2, 64)
			}
			if got, want := pct(errs.Count), sum.ErrorRate; got != want {
				t.Errorf("errors count=%d of %d is %s%%, want error_rate %s%%", errs.Count, sum.TotalInvocations, got, want)
			}
			if got, want := pct(both.Count-errs.Count), sum.TimeoutRate; got != want {
				t.Errorf("error,timeout adds %d of %d, %s%%, want timeout_rate %s%%", both.Count-errs.Count, sum.TotalInvocations, got, want)
			}
		})
	}
}
