package main

import (
	"context"
	"io"
	"strings"
	"testing"
)

// Ensure --min-group-size defaults to 1 (off), comes from the command line
// or TRACKSKILLS_MIN_GROUP_SIZE, reaches analytics.Config, and refuses a
// value below 1.
func TestOptions_MinGroupSize(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		want int
		err  string
	}{
		{name: "Default", want: 1},
		{name: "Flag", args: []string{"--min-group-size", "5"}, want: 5},
		{name: "Env", env: map[string]string{"TRACKSKILLS_MIN_GROUP_SIZE": "3"}, want: 3},
		{name: "FlagOverEnv", args: []string{"--min-group-size", "7"}, env: map[string]string{"TRACKSKILLS_MIN_GROUP_SIZE": "3"}, want: 7},
		{name: "ErrZero", args: []string{"--min-group-size", "0"}, err: "at least 1"},
		{name: "ErrNegative", env: map[string]string{"TRACKSKILLS_MIN_GROUP_SIZE": "-2"}, err: "at least 1"},
		{name: "ErrWord", args: []string{"--min-group-size", "five"}, err: "usage"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, cmd := range []string{"serve", "analytics"} {
				o := defaultOptions()
				f := newCmdFlags(cmd, "", func(k string) string { return tt.env[k] }, io.Discard)
				o.registerAnalytics(f)
				_, err := o.parse(f, tt.args, io.Discard)
				if tt.err != "" {
					if err == nil || !strings.Contains(err.Error(), tt.err) {
						t.Fatalf("%s: err %v, want one naming %q", cmd, err, tt.err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s: %v", cmd, err)
				}
				cfg, err := o.analyticsConfig()
				if err != nil {
					t.Fatalf("%s: %v", cmd, err)
				}
				if got := cfg.MinGroupSize; got != tt.want {
					t.Fatalf("%s: MinGroupSize=%d, want %d", cmd, got, tt.want)
				}
			}
		})
	}
}

// Ensure serve and analytics, as run, list --min-group-size with its
// environment twin and its default.
func TestRun_MinGroupSizeHelp(t *testing.T) {
	for _, cmd := range []string{"serve", "analytics"} {
		var stderr strings.Builder
		if err := run(context.Background(), []string{cmd, "--help"}, func(string) string { return "" }, io.Discard, &stderr); err != nil {
			t.Fatalf("%s --help: %v", cmd, err)
		}
		_, after, ok := strings.Cut(stderr.String(), "  --min-group-size (TRACKSKILLS_MIN_GROUP_SIZE)\n")
		if line, _, _ := strings.Cut(after, "\n"); !ok || !strings.HasSuffix(line, `(default "1")`) {
			t.Fatalf("%s --help does not list --min-group-size with default 1:\n%s", cmd, stderr.String())
		}
	}
}
