package metrics_test

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/trackskills/trackskills/metrics"
)

// exposed returns every series name a Track Skills process may expose:
// the catalog, the go_ and process_ metrics of a registry, with the
// _bucket, _sum and _count series of histograms and summaries, and up,
// which Prometheus records for every scrape.
func exposed(tb testing.TB) map[string]bool {
	tb.Helper()
	names := map[string]bool{"up": true}
	add := func(name string) {
		for _, suffix := range []string{"", "_bucket", "_sum", "_count"} {
			names[name+suffix] = true
		}
	}
	for _, m := range metrics.Catalog() {
		add(m.Name)
	}
	for name := range gather(tb, metrics.New()) {
		add(name)
	}
	return names
}

var (
	promString   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	promMatchers = regexp.MustCompile(`\{[^}]*\}`)
	promRange    = regexp.MustCompile(`\[[^\]]*\]`)
	promGrouping = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promToken    = regexp.MustCompile(`[A-Za-z0-9_:.]+(\s*\()?`)
	promKeywords = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true,
		"group_right": true, "and": true, "or": true, "unless": true, "bool": true, "offset": true, "inf": true, "nan": true}
)

// metricNames returns the metric names a PromQL expression selects: its
// identifiers that are neither functions, keywords, label names nor
// numbers. It is no PromQL parser, but enough for the expressions of docs/.
func metricNames(expr string) []string {
	expr = promString.ReplaceAllString(expr, `""`)
	expr = promMatchers.ReplaceAllString(expr, " ")
	expr = promRange.ReplaceAllString(expr, " ")
	expr = promGrouping.ReplaceAllString(expr, " ")
	var out []string
	for _, m := range promToken.FindAllStringSubmatch(expr, -1) {
		name := m[0]
		if m[1] != "" || promKeywords[strings.ToLower(name)] || strings.ContainsAny(name[:1], "0123456789.") {
			continue // a function call, a keyword or a number
		}
		out = append(out, name)
	}
	return out
}

// Ensure metricNames finds the metrics of an expression and nothing else.
func TestMetricNames(t *testing.T) {
	tests := []struct {
		expr string
		want []string
	}{
		{`sum by (reason) (rate(a_total{reason=~"x|y"}[5m]))`, []string{"a_total"}},
		{`histogram_quantile(0.99, sum by (le) (rate(b_bucket[$__rate_interval])))`, []string{"b_bucket"}},
		{"x / (y > 0) > 0.8 unless z == 1e9", []string{"x", "y", "z"}},
		{`up{job=~"trackskills.*"} == 0`, []string{"up"}},
	}
	for _, tt := range tests {
		if got := metricNames(tt.expr); !slices.Equal(got, tt.want) {
			t.Errorf("metricNames(%q)=%v, want %v", tt.expr, got, tt.want)
		}
	}
}

// checkExpr fails tb unless expr names at least one trackskills_ metric
// (or up) and only metrics in known.
func checkExpr(tb testing.TB, where, expr string, known map[string]bool) {
	tb.Helper()
	names := metricNames(expr)
	if len(names) == 0 {
		tb.Errorf("%s: %q names no metric", where, expr)
	}
	for _, n := range names {
		if !known[n] {
			tb.Errorf("%s: %q names %s, which no process exposes", where, expr, n)
		}
	}
}

// Ensure the Grafana dashboard is valid JSON whose every panel queries
// only metrics the registry exposes, and that it shows the pipeline.
func TestDocs_GrafanaDashboard(t *testing.T) {
	b, err := os.ReadFile("../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title         string `json:"title"`
		UID           string `json:"uid"`
		SchemaVersion int    `json:"schemaVersion"`
		Panels        []struct {
			ID      int    `json:"id"`
			Type    string `json:"type"`
			Title   string `json:"title"`
			GridPos struct {
				H, W, X, Y int
			} `json:"gridPos"`
			Targets []struct {
				RefID string `json:"refId"`
				Expr  string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&dash); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	if dash.Title == "" || dash.UID == "" || dash.SchemaVersion == 0 {
		t.Fatalf("title %q, uid %q, schemaVersion %d: want all set", dash.Title, dash.UID, dash.SchemaVersion)
	}
	known := exposed(t)
	ids := map[int]bool{}
	used := map[string]bool{}
	for _, p := range dash.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q: grid position %+v", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no target", p.Title)
		}
		for _, tg := range p.Targets {
			checkExpr(t, "panel "+p.Title, tg.Expr, known)
			for _, n := range metricNames(tg.Expr) {
				used[n] = true
			}
		}
	}
	for _, n := range []string{
		"trackskills_ingest_events_accepted_total", "trackskills_consumer_events_written_total",
		"trackskills_ingest_events_rejected_total", "trackskills_consumer_lag_seconds",
		"trackskills_consumer_dead_letters_total", "trackskills_http_requests_total",
		"trackskills_stream_bytes", "trackskills_database_bytes",
	} {
		if !used[n] {
			t.Errorf("no panel shows %s", n)
		}
	}
}

// promDuration is a Prometheus duration such as 5m or 1h30m.
var promDuration = regexp.MustCompile(`^([0-9]+(ms|s|m|h|d|w|y))+$`)

// Ensure the alert rules parse (no unknown field), each with an alert
// name, an expression over metrics the registry exposes, a severity and a
// summary, and that they cover what the docs promise.
func TestDocs_PrometheusAlerts(t *testing.T) {
	f, err := os.Open("../docs/prometheus-alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rules struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				For         string            `yaml:"for"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(&rules); err != nil {
		t.Fatalf("prometheus-alerts.yml: %v", err)
	}
	known := exposed(t)
	alerts := map[string]bool{}
	var exprs strings.Builder
	for _, g := range rules.Groups {
		if g.Name == "" || len(g.Rules) == 0 {
			t.Errorf("group %q: want a name and rules", g.Name)
		}
		for _, r := range g.Rules {
			if r.Alert == "" || alerts[r.Alert] {
				t.Errorf("alert %q: empty or twice", r.Alert)
			}
			alerts[r.Alert] = true
			checkExpr(t, "alert "+r.Alert, r.Expr, known)
			exprs.WriteString(r.Expr + "\n")
			if r.For != "" && !promDuration.MatchString(r.For) {
				t.Errorf("alert %s: for %q is not a duration", r.Alert, r.For)
			}
			if !slices.Contains([]string{"critical", "warning", "info"}, r.Labels["severity"]) {
				t.Errorf("alert %s: severity %q", r.Alert, r.Labels["severity"])
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("alert %s: want a summary and a description", r.Alert)
			}
		}
	}
	all := exprs.String()
	for what, n := range map[string]string{
		"consumer lag":      "trackskills_consumer_lag_seconds",
		"ingest 503":        `reason=~"unavailable|store_full"`,
		"ingest 5xx":        `code=~"5.."`,
		"dead letters":      "trackskills_consumer_dead_letters_total",
		"stream near full":  "trackskills_stream_max_bytes",
		"disk near full":    "trackskills_database_fs_free_bytes",
		"no events written": "trackskills_consumer_events_written_total",
	} {
		if !strings.Contains(all, n) {
			t.Errorf("no alert on %s (%s)", what, n)
		}
	}
}

// Ensure docs/OPERATIONS.md lists every metric of the catalog with its
// type and labels, and names no trackskills_ metric that does not exist.
func TestDocs_Operations(t *testing.T) {
	b, err := os.ReadFile("../docs/OPERATIONS.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, m := range metrics.Catalog() {
		labels := "-"
		if len(m.Labels) > 0 {
			labels = "`" + strings.Join(m.Labels, "`, `") + "`"
		}
		row := "| `" + m.Name + "` | " + m.Type + " | " + labels + " |"
		if !strings.Contains(doc, row) {
			t.Errorf("OPERATIONS.md has no row %q", row)
		}
	}
	known := exposed(t)
	for _, n := range regexp.MustCompile(`trackskills_[a-z0-9_]+`).FindAllString(doc, -1) {
		if !known[n] && !strings.HasSuffix(n, "_") {
			t.Errorf("OPERATIONS.md names %s, which no process exposes", n)
		}
	}
}
