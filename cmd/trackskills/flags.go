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

// newPlainFlags is a flag set without environment twins, for commands
// whose flags would clash with the variables they read (hook install's
// --user is not TRACKSKILLS_USER).
func newPlainFlags(name, summary string, stderr io.Writer) *cmdFlags {
	f := newCmdFlags(name, summary, func(string) string { return "" }, stderr)
	f.Usage = func() {
		fmt.Fprintf(stderr, "Usage: trackskills %s [flags]\n\n%s\n\nFlags:\n", name, summary)
		f.PrintDefaults()
	}
	return f
}

func envName(flagName string) string {
	return "TRACKSKILLS_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// durationFlag is a time.Duration flag that also takes days ("90d").
type durationFlag struct{ p *time.Duration }

func (d durationFlag) String() string {
	if d.p == nil {
		return ""
	}
	return formatDuration(*d.p)
}

// Get returns the duration, for flag.Getter.
func (d durationFlag) Get() any { return *d.p }

func (d durationFlag) Set(s string) error {
	v, err := parseDuration(s)
	if err != nil {
		return err
	}
	*d.p = v
	return nil
}

// duration defines a duration flag that accepts a "d" suffix for days.
func (f *cmdFlags) duration(p *time.Duration, name string, def time.Duration, usage string) {
	*p = def
	f.Var(durationFlag{p}, name, usage)
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

// given reports whether the flag name was set, on the command line or
// through its environment twin.
func (f *cmdFlags) given(name string) bool {
	if f.Lookup(name) == nil {
		return false
	}
	set := f.getenv(envName(name)) != ""
	f.Visit(func(fl *flag.Flag) { set = set || fl.Name == name })
	return set
}

// percentFlag is a share from 0 to 1 given in percent ("90" or "90%").
type percentFlag struct{ p *float64 }

func (p percentFlag) String() string {
	if p.p == nil {
		return ""
	}
	return strconv.FormatFloat(*p.p*100, 'f', -1, 64) + "%"
}

// Get returns the share, for flag.Getter.
func (p percentFlag) Get() any { return *p.p }

func (p percentFlag) Set(s string) error {
	v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(s), "%"), 64)
	if err != nil || v < 0 || v > 100 {
		return fmt.Errorf("bad percentage %q: want 0-100", s)
	}
	*p.p = v / 100
	return nil
}

// listFlag is a repeatable flag of comma-separated items. The command
// line replaces what the environment twin gave, as with every other flag:
// its first item from the command line starts the list afresh.
type listFlag struct {
	p      *[]string
	append bool // the next Set adds to the list
}

func (l *listFlag) String() string {
	if l.p == nil {
		return ""
	}
	return strings.Join(*l.p, ",")
}

// Get returns the items, for flag.Getter.
func (l *listFlag) Get() any { return *l.p }

func (l *listFlag) Set(s string) error {
	items, err := splitList(s)
	if err != nil {
		return err
	}
	if !l.append {
		*l.p = nil
	}
	*l.p, l.append = append(*l.p, items...), true
	return nil
}

// fromEnv makes the next Set, the command line's, replace the list.
func (l *listFlag) fromEnv() { l.append = false }

// parse parses args; --help prints the usage and reports errHelp.
func (f *cmdFlags) parse(args []string) error {
	if err := flagsFromEnv(f.FlagSet, f.getenv); err != nil {
		return err
	}
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
	return nil
}

// flagsFromEnv sets the default of every flag in fs from its environment
// twin, TRACKSKILLS_<FLAG> (upper case, "-" as "_"), read through getenv; a
// flag on the command line still wins. Call it after defining the flags and
// before fs.Parse.
func flagsFromEnv(fs *flag.FlagSet, getenv func(string) string) error {
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		name := envName(f.Name)
		v := getenv(name)
		if v == "" {
			return
		}
		if err := f.Value.Set(v); err != nil {
			if secretFlag(f.Name) { // never print a key, not even a bad one
				errs = append(errs, fmt.Errorf("%s: want %s", name, expectedForm(f)))
			} else {
				errs = append(errs, fmt.Errorf("%s=%q: want %s", name, v, expectedForm(f)))
			}
			return
		}
		if l, ok := f.Value.(*listFlag); ok {
			l.fromEnv()
		}
		switch {
		case secretFlag(f.Name):
			f.DefValue = "set from " + name // never print a key
		case strings.HasSuffix(f.Name, "-url"):
			f.DefValue = redactURLs(v) // nor a password in a URL
		default:
			f.DefValue = v // --help then shows the effective default
		}
	})
	return errors.Join(errs...)
}

// expectedForm describes the values a flag takes, for an error about a bad
// one.
func expectedForm(f *flag.Flag) string {
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		return "true or false"
	}
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return "a valid value"
	}
	switch g.Get().(type) {
	case time.Duration:
		return "a duration such as 50ms or 90d"
	case int, int64:
		return "an integer"
	case uint, uint64:
		return "a non-negative integer"
	case float64:
		if _, ok := f.Value.(percentFlag); ok {
			return "a percentage from 0 to 100"
		}
		return "a number"
	}
	return "a valid value"
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
	f.StringVar(&o.level, "log-level", o.level, "log level: debug, info, warn or error")
	f.StringVar(&o.format, "log-format", o.format, "log format: text or json")
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

// secretFlag reports whether a flag holds keys, passwords or tokens, whose
// values must never be printed (help output and parse errors end up in
// process logs).
func secretFlag(name string) bool {
	return name == "key" || strings.HasSuffix(name, "-key") || strings.HasSuffix(name, "-keys") ||
		strings.HasSuffix(name, "-password") || strings.HasSuffix(name, "-token")
}
