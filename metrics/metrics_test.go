package metrics_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	dto "github.com/prometheus/client_model/go"

	"github.com/trackskills/trackskills/metrics"
	"github.com/trackskills/trackskills/testkit"
)

// gather returns the families of reg by name.
func gather(tb testing.TB, reg *metrics.Registry) map[string]*dto.MetricFamily {
	tb.Helper()
	fams, err := reg.Gatherer().Gather()
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}

// scrape serves reg's handler and parses what it answers.
func scrape(tb testing.TB, reg *metrics.Registry) testkit.Metrics {
	tb.Helper()
	hs := httptest.NewServer(reg.Handler())
	defer hs.Close()
	m, err := testkit.Scrape(hs.URL)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// registerAll registers every part on reg, over a real stream and a real
// database file, and records one observation of each hook.
func registerAll(tb testing.TB, reg *metrics.Registry) {
	tb.Helper()
	js := testkit.MustRunStream(tb)
	db := testkit.MustOpenDB(tb)
	path := filepath.Join(tb.TempDir(), "trackskills.db")
	testkit.MustOpenDBAt(tb, path)
	id, err := db.Identity(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	in, err := reg.RegisterIngest([]string{"invalid", "store_full"})
	if err != nil {
		tb.Fatal(err)
	}
	in.Accepted(2)
	in.Rejected("invalid", 1)
	in.Published(2, time.Millisecond, nil)
	cons, err := reg.RegisterConsumer(func() (metrics.ConsumerStats, bool) {
		return metrics.ConsumerStats{Ready: true, Batches: 1, Inserted: 2}, true
	})
	if err != nil {
		tb.Fatal(err)
	}
	cons.Committed(2, time.Millisecond)
	if err := reg.RegisterStream(js, func(context.Context) (string, error) { return id.Durable, nil }); err != nil {
		tb.Fatal(err)
	}
	testkit.MustPublish(tb, js, testkit.Events(1, "m")...)
	if _, err := testkit.MustEventsStream(tb, js).CreateOrUpdateConsumer(context.Background(), durableConfig(id.Durable)); err != nil {
		tb.Fatal(err)
	}
	if err := reg.RegisterDatabase(path); err != nil {
		tb.Fatal(err)
	}
	if err := reg.RegisterLive(func() int { return 3 }); err != nil {
		tb.Fatal(err)
	}
	e := echo.New()
	e.Use(reg.Middleware(metrics.Part("test")))
	e.GET("/x", func(c echo.Context) error { return c.NoContent(http.StatusOK) })
	testkit.Serve(e, http.MethodGet, "/x")
}

// Ensure a registry with every part exposes exactly the catalog (besides
// the go_ and process_ metrics), each with its type and labels.
func TestRegistry_Catalog(t *testing.T) {
	reg := metrics.New()
	registerAll(t, reg)
	fams := gather(t, reg)
	for _, m := range metrics.Catalog() {
		f, ok := fams[m.Name]
		if !ok {
			t.Errorf("%s: in the catalog, not exposed", m.Name)
			continue
		}
		if got := strings.ToLower(f.GetType().String()); got != m.Type {
			t.Errorf("%s: type %s, catalog says %s", m.Name, got, m.Type)
		}
		for _, s := range f.GetMetric() {
			var names []string
			for _, l := range s.GetLabel() {
				names = append(names, l.GetName())
			}
			slices.Sort(names)
			want := slices.Sorted(slices.Values(m.Labels))
			if !slices.Equal(names, want) {
				t.Errorf("%s: labels %v, catalog says %v", m.Name, names, want)
			}
		}
	}
	catalog := map[string]bool{}
	for _, m := range metrics.Catalog() {
		catalog[m.Name] = true
	}
	for name := range fams {
		if !catalog[name] && !strings.HasPrefix(name, "go_") && !strings.HasPrefix(name, "process_") {
			t.Errorf("%s: exposed, not in the catalog", name)
		}
	}
}

// Ensure the catalog follows the Prometheus naming conventions: the
// trackskills_ prefix, _total on counters only, base units.
func TestCatalog_Names(t *testing.T) {
	for _, m := range metrics.Catalog() {
		t.Run(m.Name, func(t *testing.T) {
			if !strings.HasPrefix(m.Name, "trackskills_") {
				t.Error("no trackskills_ prefix")
			}
			if got := strings.HasSuffix(m.Name, "_total"); got != (m.Type == metrics.Counter) {
				t.Errorf("a %s whose name ends in _total: %v", m.Type, got)
			}
			for _, unit := range []string{"_ms", "_milliseconds", "_kb", "_mb", "_count", "_sum", "_bucket"} {
				if strings.HasSuffix(strings.TrimSuffix(m.Name, "_total"), unit) {
					t.Errorf("suffix %s: not a base unit, or a reserved one", unit)
				}
			}
			if m.Help == "" || !strings.HasSuffix(m.Help, ".") {
				t.Errorf("help %q: want a sentence", m.Help)
			}
		})
	}
}

// Ensure the HTTP middleware labels requests by route pattern and the
// status that went out, including an error's, and never by raw path.
func TestRegistry_Middleware(t *testing.T) {
	reg := metrics.New()
	e := echo.New()
	e.Use(reg.Middleware(func(route string) string {
		if strings.HasPrefix(route, "/tools") {
			return "analytics"
		}
		return "other"
	}))
	e.GET("/tools/:name", func(c echo.Context) error {
		if c.Param("name") == "missing" {
			return echo.NewHTTPError(http.StatusNotFound, "no such tool")
		}
		if c.Param("name") == "broken" {
			return errors.New("boom")
		}
		return c.NoContent(http.StatusOK)
	})
	for _, target := range []string{"/tools/a", "/tools/b", "/tools/missing", "/tools/broken", "/nowhere/at/all"} {
		testkit.Serve(e, http.MethodGet, target)
	}
	m := scrape(t, reg)
	tests := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"OK", []string{"part", "analytics", "route", "/tools/:name", "code", "200"}, 2},
		{"HTTPError", []string{"route", "/tools/:name", "code", "404"}, 1},
		{"Error", []string{"route", "/tools/:name", "code", "500"}, 1},
		{"Unmatched", []string{"part", "other", "route", metrics.UnmatchedRoute, "code", "404"}, 1},
		{"RawPath", []string{"route", "/tools/a"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, _ := m.Value("trackskills_http_requests_total", tt.labels...); got != tt.want {
				t.Fatalf("requests%v=%v, want %v", tt.labels, got, tt.want)
			}
		})
	}
	if got, _ := m.Value("trackskills_http_request_duration_seconds", "route", "/tools/:name"); got != 4 {
		t.Fatalf("duration count=%v, want 4", got)
	}
}

// Ensure a part registered twice is an error, not a panic.
func TestRegistry_RegisterTwice(t *testing.T) {
	reg := metrics.New()
	if err := reg.RegisterLive(func() int { return 0 }); err != nil {
		t.Fatal(err)
	}
	if err := reg.RegisterLive(func() int { return 0 }); err == nil {
		t.Fatal("registered the live metrics twice")
	}
}
