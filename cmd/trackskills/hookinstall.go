package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/trackskills/trackskills/claudecode"
	"github.com/trackskills/trackskills/claudecode/hookcmd"
	"github.com/trackskills/trackskills/relay"
)

const hookInstallSummary = `Adds Track Skills' hook entries to Claude Code's settings.json (install), or
removes them and only them (uninstall). Every other setting and hook is kept;
running install again changes nothing. The old file is kept as a backup
(settings.json.bak-<time>), and the change is printed.

The default is the command hook: "trackskills hook", async, on the tool
events (PreToolUse, PostToolUse, PostToolUseFailure, UserPromptExpansion)
and the session events (UserPromptSubmit, Stop, SubagentStart, SessionStart,
...), with TRACKSKILLS_URL in the settings' env block. --http installs Claude
Code HTTP hooks instead, which POST to <url>/api/hooks/claude-code (no
process per call, but synchronous: nothing is spooled when the server is
down). Either way, a SessionStart command hook runs "trackskills skills scan
--if-changed", which registers the installed skills when they changed.

--relay installs HTTP hooks to the local relay instead (trackskills relay,
at --relay-listen; a hook call costs a loopback round trip, and the relay
spools what the server cannot take now), and a user service that runs the
relay, forwarding to --url: a systemd user unit on Linux, a launchd agent
on macOS, started at once unless --no-start. TRACKSKILLS_KEY, when set, is
written for the relay to a file only this user can read. --dry-run prints
the service too. Uninstall --relay stops and removes it.

--managed FILE writes the same entries into a managed-settings file, which
an administrator deploys to every machine (FILE "-" prints it instead). Its
commands name no path of this machine: "trackskills-hook" and "trackskills"
must be on the PATH of every user (or give --hook-command). With --http it
also allows the hook URL in allowedHttpHookUrls, which managed settings
apply to every source of hooks. With --plugin it force-enables the Track
Skills plugin instead (extraKnownMarketplaces and enabledPlugins; its
hooks run even under allowManagedHooksOnly) and sets TRACKSKILLS_URL in the
env block, which the plugin's hook reads before the user's own option.
Claude Code reads managed settings from
  macOS:        /Library/Application Support/ClaudeCode/managed-settings.json
  Linux, WSL:   /etc/claude-code/managed-settings.json
  Windows:      C:\Program Files\ClaudeCode\managed-settings.json
                (C:\ProgramData\ClaudeCode\ before Claude Code 2.1.75)
and from the drop-in folder managed-settings.d/*.json beside it, where a
file of Track Skills' own (managed-settings.d/trackskills.json) leaves
the main file alone; or from an MDM profile, the registry or the claude.ai
console, which take the same JSON.`

func runHookInstall(_ context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, install bool) error {
	name := "hook uninstall"
	if install {
		name = "hook install"
	}
	f := newPlainFlags(name, hookInstallSummary, stderr)
	user := f.Bool("user", false, "change ~/.claude/settings.json (the default)")
	project := f.String("project", "", "change <DIR>/.claude/settings.json instead: this project only")
	useHTTP := f.Bool("http", false, "install HTTP hooks that POST to <url>/api/hooks/claude-code instead of the command hook")
	url := f.String("url", hookcmd.FirstNonEmpty(getenv("TRACKSKILLS_URL"), hookcmd.DefaultURL), "the Track Skills server")
	dryRun := f.Bool("dry-run", false, "print the change, write nothing")
	managed := f.String("managed", "", "change this managed-settings file instead (\"-\": print it), for every user of a machine")
	hookCmd := f.String("hook-command", "", "with --managed: the hook's command line (default: trackskills-hook, on the PATH)")
	relayMode := f.Bool("relay", false, "install HTTP hooks to the local relay (trackskills relay) and a user service that runs it, forwarding to --url")
	relayListen := f.String("relay-listen", relay.DefaultListen, "with --relay: where the relay listens (loopback)")
	service := f.String("service", "auto", "with --relay: the user service, systemd (Linux), launchd (macOS), none, or auto")
	noStart := f.Bool("no-start", false, "with --relay: write the service, do not start (or stop) it")
	plugin := f.Bool("plugin", false, "with --managed: force-enable the Track Skills plugin, which brings the hooks, instead of writing hook entries")
	market := f.String("marketplace", claudecode.DefaultMarketplace, "with --plugin: where the marketplace is (GitHub owner/repo, git URL, or absolute directory)")
	if err := f.parse(args); err != nil {
		return err
	}
	if n := countSet(*user, *project != "", *managed != ""); n > 1 {
		fmt.Fprintln(stderr, "trackskills hook: use one of --user, --project and --managed")
		return errUsage
	}
	if (*hookCmd != "" || *plugin) && *managed == "" {
		fmt.Fprintln(stderr, "trackskills hook: --hook-command and --plugin go with --managed")
		return errUsage
	}
	for _, name := range []string{"relay-listen", "service", "no-start"} {
		if f.given(name) && !*relayMode {
			fmt.Fprintf(stderr, "trackskills hook: --%s goes with --relay\n", name)
			return errUsage
		}
	}
	if f.given("marketplace") && !*plugin {
		fmt.Fprintln(stderr, "trackskills hook: --marketplace goes with --managed --plugin")
		return errUsage
	}
	if *relayMode && (*useHTTP || *managed != "" || *project != "") {
		fmt.Fprintln(stderr, "trackskills hook: --relay is for this user's settings: it goes without --http, --managed and --project")
		return errUsage
	}
	if !slices.Contains([]string{"auto", "systemd", "launchd", "none"}, *service) {
		fmt.Fprintf(stderr, "trackskills hook: --service %q: want systemd, launchd, none or auto\n", *service)
		return errUsage
	}
	if *relayMode && !isLoopback(*relayListen) {
		fmt.Fprintf(stderr, "trackskills hook: --relay-listen %s is not a loopback address (use 127.0.0.1:PORT)\n", *relayListen)
		return errUsage
	}
	if _, port, _ := net.SplitHostPort(*relayListen); *relayMode && !fixedPort(port) {
		fmt.Fprintf(stderr, "trackskills hook: --relay-listen %s: the hooks need a fixed port (127.0.0.1:PORT, PORT from 1 to 65535)\n", *relayListen)
		return errUsage
	}
	if *plugin && (*useHTTP || *hookCmd != "") {
		fmt.Fprintln(stderr, "trackskills hook: the plugin brings its own command hooks: --plugin goes without --http and --hook-command")
		return errUsage
	}
	source, err := claudecode.MarketplaceSource(*market)
	if err != nil {
		fmt.Fprintf(stderr, "trackskills hook: %v\n", err)
		return errUsage
	}
	path := ""
	switch {
	case *managed == "-":
		path = "" // printed, not read or written
	case *managed != "":
		path = *managed
	case *project != "":
		path = filepath.Join(*project, ".claude", "settings.json")
	default:
		home, err := os.UserHomeDir()
		if err != nil {
			return fmt.Errorf("find the home directory: %w", err)
		}
		path = filepath.Join(home, ".claude", "settings.json")
	}
	var old []byte
	if path != "" {
		old, err = os.ReadFile(path)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("read %s: %w", path, err)
		}
	}
	settings, err := claudecode.ParseSettings(old)
	if errors.Is(err, claudecode.ErrNotObject) {
		return fmt.Errorf("%s does not hold a JSON object; nothing was changed", path)
	} else if err != nil {
		return fmt.Errorf("%s is not valid JSON (fix it first; nothing was changed): %w", path, err)
	}
	// The diff compares the old settings in our layout, so that it shows
	// what changed, not how the file was indented.
	before := settings.Encode()
	command, scan := hookCommand(), scanCommand()
	switch {
	case *managed != "":
		// Every user of every machine: commands on the PATH.
		scan, command = "trackskills "+scanArgs, "trackskills-hook"
		if *hookCmd != "" {
			command = *hookCmd
		}
	case *project != "":
		// A project's settings are shared (often committed): no path of
		// this machine in them. Teammates need trackskills on their PATH.
		scan = "trackskills " + scanArgs
		if !*useHTTP {
			command = "trackskills hook"
		}
	}
	settings.RemoveHooks(command)
	if *managed != "" {
		settings.DisallowHTTPHookURLs()
		settings.RemovePlugin()
	}
	switch base := strings.TrimRight(*url, "/"); {
	case install && *plugin:
		settings.EnablePlugin(source, base)
	case install && *relayMode:
		settings.AddHooks(claudecode.HookConfig{HTTP: true, Relay: true, URL: "http://" + *relayListen, ServerURL: base, ScanCommand: scan})
	case install:
		settings.AddHooks(claudecode.HookConfig{HTTP: *useHTTP, URL: base, Command: command, ScanCommand: scan})
		if *managed != "" && *useHTTP {
			settings.AllowHTTPHookURL(base + claudecode.HookPath)
		}
	}
	updated := settings.Encode()
	if *managed == "-" {
		_, err := stdout.Write(updated)
		return err
	}
	if err := writeSettings(stdout, path, name, old, before, updated, *dryRun); err != nil {
		return err
	}
	if *relayMode {
		return setUpRelayService(stdout, relaySetup{install: install, dryRun: *dryRun, noStart: *noStart,
			service: *service, server: strings.TrimRight(*url, "/"), listen: *relayListen, key: getenv("TRACKSKILLS_KEY")})
	}
	return nil
}

// writeSettings writes updated to path (with a backup of old) and prints
// the change from before; with dryRun it prints only.
func writeSettings(stdout io.Writer, path, name string, old, before, updated []byte, dryRun bool) error {
	if bytes.Equal(updated, before) {
		fmt.Fprintf(stdout, "%s: already up to date, nothing to change\n", path)
		return nil
	}
	fmt.Fprintf(stdout, "--- %s\n+++ %s (%s)\n", path, path, name)
	fmt.Fprint(stdout, claudecode.Diff(string(before), string(updated)))
	if dryRun {
		fmt.Fprintln(stdout, "(dry run: nothing written)")
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	if len(old) > 0 {
		backup := path + ".bak-" + time.Now().UTC().Format("20060102-150405")
		for i := 2; ; i++ { // never overwrite an older backup
			f, err := os.OpenFile(backup, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if errors.Is(err, os.ErrExist) {
				backup = fmt.Sprintf("%s.bak-%s-%d", path, time.Now().UTC().Format("20060102-150405"), i)
				continue
			}
			if err == nil {
				_, err = f.Write(old)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
			}
			if err != nil {
				return fmt.Errorf("write backup %s: %w", backup, err)
			}
			break
		}
		fmt.Fprintf(stdout, "backup: %s\n", backup)
	}
	// A settings.json that is a symlink (dotfile managers) stays one: write
	// where it points.
	if target, err := filepath.EvalSymlinks(path); err == nil {
		path = target
	}
	mode := os.FileMode(0o644) // Claude Code's own; keep an existing file's
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	if err := hookcmd.WriteFileAtomic(path, updated); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(path, mode); err != nil {
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	fmt.Fprintf(stdout, "wrote %s\n", path)
	return nil
}

// countSet counts the true values.
func countSet(vs ...bool) int {
	n := 0
	for _, v := range vs {
		if v {
			n++
		}
	}
	return n
}

// fixedPort reports whether port is a port number a hook URL can name:
// 1 to 65535, not 0 (any free port).
func fixedPort(port string) bool {
	n, err := strconv.Atoi(port)
	return err == nil && n >= 1 && n <= 65535
}

// hookCommand is the command line of the hook for this binary.
func hookCommand() string {
	exe, err := os.Executable()
	if err != nil || strings.Contains(exe, "go-build") || strings.HasSuffix(exe, ".test") {
		return "trackskills hook"
	}
	return hookCommandFor(exe)
}

// scanArgs are the arguments of the SessionStart scan hook.
const scanArgs = "skills scan --if-changed"

// scanCommand is the command line of the SessionStart scan hook for this
// binary: the full binary (the lean hook binary has no scan), by absolute
// path.
func scanCommand() string {
	exe, err := os.Executable()
	if err != nil || strings.Contains(exe, "go-build") || strings.HasSuffix(exe, ".test") {
		return "trackskills " + scanArgs
	}
	return shellQuote(exe) + " " + scanArgs
}

// shellQuote quotes a path for a command line, when it needs it.
func shellQuote(p string) string {
	if strings.ContainsAny(p, " '\"\\$`") {
		return "'" + strings.ReplaceAll(p, "'", `'\''`) + "'"
	}
	return p
}

// hookCommandFor is the command line of the hook for the trackskills binary
// at exe, by absolute path: the lean trackskills-hook binary when it sits
// beside it (it starts several times faster, and runs at every tool call),
// else "<exe> hook".
func hookCommandFor(exe string) string {
	lean := filepath.Join(filepath.Dir(exe), "trackskills-hook")
	if st, err := os.Stat(lean); err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0 {
		return shellQuote(lean)
	}
	return shellQuote(exe) + " hook"
}
