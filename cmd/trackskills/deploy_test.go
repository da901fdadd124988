package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trackskills/trackskills/testkit"
)

// Ensure every example systemd unit starts a subcommand with flags that
// subcommand has, so that the units do not drift from the binary.
func TestSystemdUnits_Flags(t *testing.T) {
	t.Parallel()
	units, err := filepath.Glob("../../examples/systemd/*.service")
	if err != nil || len(units) < 4 {
		t.Fatalf("units %v, err %v: want one a process", units, err)
	}
	for _, unit := range units {
		b, err := os.ReadFile(unit)
		if err != nil {
			t.Fatal(err)
		}
		var exec string
		for line := range strings.SplitSeq(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "ExecStart="); ok {
				exec = rest
			}
		}
		fields := strings.Fields(exec)
		if len(fields) < 2 || filepath.Base(fields[0]) != "trackskills" {
			t.Fatalf("%s: ExecStart %q, want trackskills <command> ...", unit, exec)
		}
		var usage testkit.LockedBuffer
		_ = run(context.Background(), []string{fields[1], "--help"}, func(string) string { return "" }, &usage, &usage)
		for _, f := range fields[2:] {
			name, ok := strings.CutPrefix(f, "--")
			if !ok {
				continue
			}
			name, _, _ = strings.Cut(name, "=")
			if !strings.Contains(usage.String(), "--"+name+" (") {
				t.Errorf("%s: trackskills %s has no flag --%s", filepath.Base(unit), fields[1], name)
			}
		}
		for _, want := range []string{"NoNewPrivileges=yes", "ProtectSystem=strict", "ReadWritePaths=", "PrivateTmp=yes", "User=trackskills"} {
			if !strings.Contains(string(b), want) {
				t.Errorf("%s: no %s", filepath.Base(unit), want)
			}
		}
	}
}
