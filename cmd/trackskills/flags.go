package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// cmdFlags is a flag set whose every flag defaults from its environment
// twin TRACKSKILLS_<FLAG>, upper case with - as _.
type cmdFlags struct {
	*flag.FlagSet
	getenv func(string) string
	envErr error
}

func newCmdFlags(name, summary string, getenv func(string) string, stderr io.Writer) *cmdFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := &cmdFlags{FlagSet: fs, getenv: getenv}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: trackskills %s [flags]\n\n%s\n\nFlags (each also read from its environment variable):\n", name, summary)
		fs.VisitAll(func(fl *flag.Flag) {
			fmt.Fprintf(stderr, "  --%s (%s)\n    \t%s", fl.Name, envName(fl.Name), fl.Usage)
			if fl.DefValue != "" {
				fmt.Fprintf(stderr, " (default %q)", fl.DefValue)
			}
			fmt.Fprintln(stderr)
		})
	}
	return f
}

func envName(flagName string) string {
	return "TRACKSKILLS_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// env returns the environment value for a flag, or def.
func (f *cmdFlags) env(name, def string) string {
	if v := f.getenv(envName(name)); v != "" {
		return v
	}
	return def
}

func (f *cmdFlags) badEnv(name string, err error) {
	if f.envErr == nil {
		f.envErr = fmt.Errorf("%s: %w", envName(name), err)
	}
}

func (f *cmdFlags) str(p *string, name, def, usage string) {
	f.StringVar(p, name, f.env(name, def), usage)
}

func (f *cmdFlags) integer(p *int, name string, def int, usage string) {
	v := def
	if s := f.env(name, ""); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			f.badEnv(name, err)
		}
		v = n
	}
	f.IntVar(p, name, v, usage)
}

func (f *cmdFlags) bytes(p *int64, name string, def int64, usage string) {
	v := def
	if s := f.env(name, ""); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			f.badEnv(name, err)
		}
		v = n
	}
	f.Int64Var(p, name, v, usage)
}

func (f *cmdFlags) float(p *float64, name string, def float64, usage string) {
	v := def
	if s := f.env(name, ""); s != "" {
		n, err := strconv.ParseFloat(s, 64)
		if err != nil {
			f.badEnv(name, err)
		}
		v = n
	}
	f.Float64Var(p, name, v, usage)
}

func (f *cmdFlags) duration(p *time.Duration, name string, def time.Duration, usage string) {
	v := def
	if s := f.env(name, ""); s != "" {
		d, err := parseDuration(s)
		if err != nil {
			f.badEnv(name, err)
		}
		v = d
	}
	f.Func(name, usage, func(s string) error {
		d, err := parseDuration(s)
		if err != nil {
			return err
		}
		*p = d
		return nil
	})
	*p = v
	f.Lookup(name).DefValue = formatDuration(def)
}

// parseDuration accepts Go durations plus a "d" suffix for days.
func parseDuration(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(d, 64)
		if err != nil {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		return time.Duration(n * float64(24*time.Hour)), nil
	}
	return time.ParseDuration(s)
}

func formatDuration(d time.Duration) string {
	if d >= 24*time.Hour && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

func (f *cmdFlags) boolean(p *bool, name string, def bool, usage string) {
	v := def
	if s := f.env(name, ""); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			f.badEnv(name, err)
		}
		v = b
	}
	f.BoolVar(p, name, v, usage)
}

// parse parses args; --help prints the usage and reports errHelp.
func (f *cmdFlags) parse(args []string) error {
	if err := f.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return errUsage
	}
	if f.NArg() > 0 {
		fmt.Fprintf(f.Output(), "unexpected argument %q\n", f.Arg(0))
		return errUsage
	}
	return f.envErr
}

// errHelp reports that --help was asked for and answered.
var errHelp = errors.New("help")

// splitList splits a comma-separated list; "@file" reads one item a line.
func splitList(s string) ([]string, error) {
	if path, ok := strings.CutPrefix(s, "@"); ok {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		s = strings.ReplaceAll(string(b), "\n", ",")
	}
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out, nil
}

// logOptions are the logging flags every subcommand has.
type logOptions struct {
	level, format string
}

func (o *logOptions) register(f *cmdFlags) {
	f.str(&o.level, "log-level", "info", "log level: debug, info, warn or error")
	f.str(&o.format, "log-format", "text", "log format: text or json")
}

func (o *logOptions) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.level)); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", o.level)
	}
	hopts := &slog.HandlerOptions{Level: level}
	switch o.format {
	case "text":
		return slog.New(slog.NewTextHandler(w, hopts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, hopts)), nil
	}
	return nil, fmt.Errorf("log format %q: want text or json", o.format)
}

// isLoopback reports whether a listen address only accepts local peers.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
