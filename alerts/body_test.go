package alerts_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/trackskills/trackskills/alerts"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// Ensure the bodies keep the shapes docs/ALERTS.md documents: a firing
// and a resolved alert, for each target type.
func TestBody_Golden(t *testing.T) {
	firing := alerts.Notification{
		Version: 1, Source: "trackskills", Status: alerts.StatusFiring, Repeat: true,
		Rule: "skill-errors", Kind: alerts.KindErrorRate, Severity: alerts.SeverityCritical, Subject: "pdf-extract",
		Summary: "pdf-extract: 35.0% of 40 calls failed in the last 15m (above 20%)",
		Value:   35, Threshold: 20, Unit: alerts.UnitPercent, Calls: 40, Failures: 14, WindowSeconds: 900,
		StartsAt: testNow, SentAt: testNow.Add(time.Hour),
	}
	resolved := firing
	resolved.Status, resolved.Repeat = alerts.StatusResolved, false
	end := testNow.Add(90 * time.Minute)
	resolved.EndsAt, resolved.SentAt = &end, end
	for _, tt := range []struct {
		name, typ string
		n         alerts.Notification
	}{
		{"json_firing", alerts.TargetJSON, firing},
		{"json_resolved", alerts.TargetJSON, resolved},
		{"slack_firing", alerts.TargetSlack, firing},
		{"slack_resolved", alerts.TargetSlack, resolved},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, err := alerts.Body(tt.typ, tt.n)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if err := json.Indent(&out, b, "", "  "); err != nil {
				t.Fatal(err)
			}
			out.WriteByte('\n')
			path := filepath.Join("testdata", t.Name()+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to write it)", err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Fatalf("body:\n%s\nwant (%s):\n%s", out.Bytes(), path, want)
			}
		})
	}
}
