package main

import (
	"bytes"
	"context"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionString(t *testing.T) {
	for _, tt := range []struct {
		name string
		info *debug.BuildInfo
		want string
	}{
		{"NoBuildInfo", nil, "trackskills (devel) (revision unknown) unknown"},
		{"Devel", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			"trackskills (devel) (revision unknown) go1.26.8"},
		{"EmptyVersion", &debug.BuildInfo{GoVersion: "go1.26.8"}, "trackskills (devel) (revision unknown) go1.26.8"},
		{"Release", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.modified", Value: "false"}}},
			"trackskills v1.2.3 (revision 0123abcd) go1.26.8"},
		{"Modified", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.modified", Value: "true"}}},
			"trackskills (devel) (revision 0123abcd, modified) go1.26.8"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := versionString(tt.info); got != tt.want {
				t.Fatalf("version=%q, want %q", got, tt.want)
			}
		})
	}
}

// Ensure `trackskills version` and `trackskills --version` print this
// binary's version line, and the usage lists the command.
func TestRun_Version(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), args, func(string) string { return "" }, &out, &errOut); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, errOut.String())
		}
		if got := out.String(); !strings.HasPrefix(got, "trackskills ") || !strings.Contains(got, runtime.Version()) || !strings.Contains(got, "(revision ") {
			t.Fatalf("%v printed %q, want a version line with %s", args, got, runtime.Version())
		}
	}
	if err := run(context.Background(), []string{"version", "extra"}, func(string) string { return "" }, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Fatal("version with an argument: err=nil, want a usage error")
	}
	if !strings.Contains(usage, "\n  version ") {
		t.Fatalf("usage does not list version:\n%s", usage)
	}
}
