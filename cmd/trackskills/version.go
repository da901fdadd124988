package main

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// runVersion prints the module version, the VCS revision (and whether the
// tree had local changes) and the Go version the binary was built with.
func runVersion(_ context.Context, args []string, _ func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "Usage: trackskills version\n\nPrints the version, the VCS revision and the Go version of this binary.\n")
		if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
			return errHelp
		}
		return errUsage
	}
	info, _ := debug.ReadBuildInfo() // nil without build info: versionString says unknown
	fmt.Fprintln(stdout, versionString(info))
	return nil
}

// versionString formats build info as
// "trackskills v1.2.3 (revision 0123abcd, modified) go1.26.8"; a missing
// module version is "(devel)", a missing revision "unknown".
func versionString(info *debug.BuildInfo) string {
	version, revision, goVersion, modified := "(devel)", "unknown", "unknown", false
	if info != nil {
		if v := info.Main.Version; v != "" {
			version = v
		}
		if info.GoVersion != "" {
			goVersion = info.GoVersion
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if s.Value != "" {
					revision = s.Value
				}
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "trackskills %s (revision %s", version, revision)
	if modified {
		b.WriteString(", modified")
	}
	fmt.Fprintf(&b, ") %s", goVersion)
	return b.String()
}
