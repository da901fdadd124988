package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/trackskills/trackskills/claudecode/hookcmd"
)

const hookInstallSummary = `Adds Track Skills' hook entries to Claude Code's settings.json (install), or
removes them and only them (uninstall). Every other setting and hook is kept;
running install again changes nothing. The old file is kept as a backup
(settings.json.bak-<time>), and the change is printed.

The default is the command hook: "trackskills hook", async, on PreToolUse,
PostToolUse, PostToolUseFailure and UserPromptExpansion, with TRACKSKILLS_URL
in the settings' env block. --http installs Claude Code HTTP hooks instead,
which POST to <url>/api/hooks/claude-code (no process per call, but
synchronous: nothing is spooled when the server is down).`

// hookEvents are the hook events the command hook listens to.
var hookEvents = []string{"PreToolUse", "PostToolUse", "PostToolUseFailure", "UserPromptExpansion"}

// httpHookEvents leave out PreToolUse: an HTTP hook is synchronous, and
// Claude Code sends duration_ms itself since v2.1.119.
var httpHookEvents = []string{"PostToolUse", "PostToolUseFailure", "UserPromptExpansion"}

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
	if err := f.parse(args); err != nil {
		return err
	}
	if *user && *project != "" {
		fmt.Fprintln(stderr, "trackskills hook: use --user or --project, not both")
		return errUsage
	}
	path := ""
	if *project != "" {
		path = filepath.Join(*project, ".claude", "settings.json")
	} else {
		home, err := os.UserHomeDir()
		if err != nil {
			return fmt.Errorf("find the home directory: %w", err)
		}
		path = filepath.Join(home, ".claude", "settings.json")
	}
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	settings := &jsonObject{}
	if len(bytes.TrimSpace(old)) > 0 {
		v, err := decodeOrdered(old)
		if err != nil {
			return fmt.Errorf("%s is not valid JSON (fix it first; nothing was changed): %w", path, err)
		}
		obj, ok := v.(*jsonObject)
		if !ok {
			return fmt.Errorf("%s does not hold a JSON object; nothing was changed", path)
		}
		settings = obj
	}
	// The diff compares the old settings in our layout, so that it shows
	// what changed, not how the file was indented.
	before := encodeOrdered(settings)
	command := hookCommand()
	if *project != "" && !*useHTTP {
		// A project's settings are shared (often committed): no path of
		// this machine in them. Teammates need trackskills on their PATH.
		command = "trackskills hook"
	}
	removeOurHooks(settings, command)
	if install {
		addOurHooks(settings, *useHTTP, strings.TrimRight(*url, "/"), command)
	}
	updated := encodeOrdered(settings)
	if bytes.Equal(updated, before) {
		fmt.Fprintf(stdout, "%s: already up to date, nothing to change\n", path)
		return nil
	}
	fmt.Fprintf(stdout, "--- %s\n+++ %s (%s)\n", path, path, name)
	writeLineDiff(stdout, string(before), string(updated))
	if *dryRun {
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

// hookCommand is the command line of the hook for this binary.
func hookCommand() string {
	exe, err := os.Executable()
	if err != nil || strings.Contains(exe, "go-build") || strings.HasSuffix(exe, ".test") {
		return "trackskills hook"
	}
	return hookCommandFor(exe)
}

// hookCommandFor is the command line of the hook for the trackskills binary
// at exe, by absolute path: the lean trackskills-hook binary when it sits
// beside it (it starts several times faster, and runs at every tool call),
// else "<exe> hook".
func hookCommandFor(exe string) string {
	quote := func(p string) string {
		if strings.ContainsAny(p, " '\"\\$`") {
			return "'" + strings.ReplaceAll(p, "'", `'\''`) + "'"
		}
		return p
	}
	lean := filepath.Join(filepath.Dir(exe), "trackskills-hook")
	if st, err := os.Stat(lean); err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0 {
		return quote(lean)
	}
	return quote(exe) + " hook"
}

// isOurHook reports whether a hook handler is Track Skills': a command
// hook that runs "<...trackskills...> hook", trackskills-hook, or exactly
// command (this binary, whatever its name), or an HTTP hook to
// /api/hooks/claude-code.
func isOurHook(v any, command string) bool {
	h, ok := v.(*jsonObject)
	if !ok {
		return false
	}
	typ, _ := h.get("type").(string)
	switch typ {
	case "command":
		cmd, _ := h.get("command").(string)
		cmd = strings.TrimSpace(cmd)
		return cmd == command || strings.Contains(cmd, "trackskills") && strings.HasSuffix(cmd, " hook") ||
			strings.HasSuffix(strings.Trim(cmd, "'\""), "trackskills-hook")
	case "http":
		url, _ := h.get("url").(string)
		return strings.Contains(url, "/api/hooks/claude-code")
	}
	return false
}

// removeOurHooks deletes our handlers, then the matcher groups and events
// left empty by that, and our env variable.
func removeOurHooks(settings *jsonObject, command string) {
	hooks, ok := settings.get("hooks").(*jsonObject)
	if !ok {
		return
	}
	for _, event := range append([]string(nil), hooks.keys...) {
		groups, ok := hooks.get(event).([]any)
		if !ok {
			continue
		}
		var keptGroups []any
		changed := false
		for _, g := range groups {
			group, ok := g.(*jsonObject)
			handlers, ok2 := group.get("hooks").([]any)
			if !ok || !ok2 {
				keptGroups = append(keptGroups, g)
				continue
			}
			var kept []any
			for _, hd := range handlers {
				if isOurHook(hd, command) {
					changed = true
					continue
				}
				kept = append(kept, hd)
			}
			if len(kept) == 0 && len(handlers) > 0 {
				continue // the group held only ours
			}
			group.set("hooks", kept)
			keptGroups = append(keptGroups, group)
		}
		if !changed {
			continue
		}
		if len(keptGroups) == 0 {
			hooks.del(event)
		} else {
			hooks.set(event, keptGroups)
		}
	}
	if len(hooks.keys) == 0 {
		settings.del("hooks")
	}
	if env, ok := settings.get("env").(*jsonObject); ok {
		env.del("TRACKSKILLS_URL")
		if len(env.keys) == 0 {
			settings.del("env")
		}
	}
}

// addOurHooks adds a matcher group with our handler to each event.
func addOurHooks(settings *jsonObject, useHTTP bool, url, command string) {
	hooks, ok := settings.get("hooks").(*jsonObject)
	if !ok {
		hooks = &jsonObject{}
		settings.set("hooks", hooks)
	}
	events := hookEvents
	if useHTTP {
		events = httpHookEvents
	}
	for _, event := range events {
		handler := &jsonObject{}
		if useHTTP {
			handler.set("type", "http")
			handler.set("url", url+"/api/hooks/claude-code")
			handler.set("timeout", json.Number("3"))
			headers := &jsonObject{}
			headers.set("X-Trackskills-User", "$USER")
			headers.set("Authorization", "Bearer $TRACKSKILLS_KEY")
			handler.set("headers", headers)
			handler.set("allowedEnvVars", []any{"USER", "TRACKSKILLS_KEY"})
		} else {
			handler.set("type", "command")
			handler.set("command", command)
			handler.set("async", true)
			handler.set("timeout", json.Number("10"))
		}
		group := &jsonObject{}
		if event != "UserPromptExpansion" {
			group.set("matcher", "*")
		}
		group.set("hooks", []any{handler})
		groups, _ := hooks.get(event).([]any)
		hooks.set(event, append(groups, group))
	}
	if !useHTTP {
		env, ok := settings.get("env").(*jsonObject)
		if !ok {
			env = &jsonObject{}
			settings.set("env", env)
		}
		env.set("TRACKSKILLS_URL", url)
	}
}

// jsonObject is a JSON object that keeps its keys' order, so that a
// rewritten settings.json differs from the old one only where we changed
// it.
type jsonObject struct {
	keys []string
	vals map[string]any
}

func (o *jsonObject) get(k string) any {
	if o == nil || o.vals == nil {
		return nil
	}
	return o.vals[k]
}

func (o *jsonObject) set(k string, v any) {
	if o.vals == nil {
		o.vals = map[string]any{}
	}
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

func (o *jsonObject) del(k string) {
	if _, ok := o.vals[k]; !ok {
		return
	}
	delete(o.vals, k)
	for i, key := range o.keys {
		if key == k {
			o.keys = append(o.keys[:i], o.keys[i+1:]...)
			break
		}
	}
}

// decodeOrdered parses JSON into *jsonObject, []any, string, json.Number,
// bool and nil.
func decodeOrdered(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("unexpected data after the JSON value")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			obj := &jsonObject{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, _ := kt.(string)
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				obj.set(key, v)
			}
			_, err := dec.Token() // }
			return obj, err
		case '[':
			arr := []any{}
			for dec.More() {
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			_, err := dec.Token() // ]
			return arr, err
		}
		return nil, fmt.Errorf("unexpected %v", t)
	}
	return tok, nil
}

// encodeOrdered writes v as JSON indented by two spaces, as Claude Code
// writes its settings.
func encodeOrdered(v any) []byte {
	var buf bytes.Buffer
	writeValue(&buf, v, 0)
	buf.WriteByte('\n')
	return buf.Bytes()
}

func writeValue(buf *bytes.Buffer, v any, depth int) {
	indent := func(d int) { buf.WriteString(strings.Repeat("  ", d)) }
	switch x := v.(type) {
	case *jsonObject:
		if len(x.keys) == 0 {
			buf.WriteString("{}")
			return
		}
		buf.WriteString("{\n")
		for i, k := range x.keys {
			indent(depth + 1)
			writeString(buf, k)
			buf.WriteString(": ")
			writeValue(buf, x.vals[k], depth+1)
			if i < len(x.keys)-1 {
				buf.WriteByte(',')
			}
			buf.WriteByte('\n')
		}
		indent(depth)
		buf.WriteByte('}')
	case []any:
		if len(x) == 0 {
			buf.WriteString("[]")
			return
		}
		buf.WriteString("[\n")
		for i, e := range x {
			indent(depth + 1)
			writeValue(buf, e, depth+1)
			if i < len(x)-1 {
				buf.WriteByte(',')
			}
			buf.WriteByte('\n')
		}
		indent(depth)
		buf.WriteByte(']')
	case string:
		writeString(buf, x)
	case json.Number:
		buf.WriteString(x.String())
	case bool:
		if x {
			buf.WriteString("true")
		} else {
			buf.WriteString("false")
		}
	case nil:
		buf.WriteString("null")
	}
}

func writeString(buf *bytes.Buffer, s string) {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	buf.Truncate(buf.Len() - 1) // Encode's newline
}

// writeLineDiff prints a minimal line diff of a and b ("-" and "+" lines
// with two lines of context).
func writeLineDiff(w io.Writer, a, b string) {
	al, bl := splitLines(a), splitLines(b)
	// Longest common subsequence, small inputs.
	n, m := len(al), len(bl)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if al[i] == bl[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type line struct {
		op   byte
		text string
	}
	var out []line
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && al[i] == bl[j]:
			out = append(out, line{' ', al[i]})
			i, j = i+1, j+1
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			out = append(out, line{'+', bl[j]})
			j++
		default:
			out = append(out, line{'-', al[i]})
			i++
		}
	}
	for k, l := range out {
		near := false
		for d := -2; d <= 2; d++ {
			if k+d >= 0 && k+d < len(out) && out[k+d].op != ' ' {
				near = true
			}
		}
		if near {
			fmt.Fprintf(w, "%c %s\n", l.op, l.text)
		}
	}
}

func splitLines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
