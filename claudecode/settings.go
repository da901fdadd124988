package claudecode

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// HTTPHookEvents are the hook events of the HTTP hook: HookEvents but
// PreToolUse (an HTTP hook is synchronous, and Claude Code sends
// duration_ms itself since v2.1.119) and SessionStart (Claude Code runs
// only command hooks there).
var HTTPHookEvents = []string{
	PostToolUse, PostToolUseFailure, UserPromptExpansion, UserPromptSubmit,
	Stop, StopFailure, SubagentStart, SubagentStop, SessionEnd, PermissionDenied,
}

// HookPath is where the HTTP hook posts, on the Track Skills server.
const HookPath = "/api/hooks/claude-code"

// URLEnv is the variable of the settings' env block that tells the command
// hook where the server is.
const URLEnv = "TRACKSKILLS_URL"

// ErrNotObject reports a settings document that is valid JSON but not an
// object.
var ErrNotObject = errors.New("settings do not hold a JSON object")

// Settings is a Claude Code settings document (settings.json) that keeps
// its keys' order, so that a rewritten file differs from the old one only
// where Track Skills' hook entries were added or removed.
type Settings struct {
	root *jsonObject
}

// ParseSettings reads a settings document. Empty or blank data is an empty
// document. Data that is not JSON gives the decoder's error; JSON that is
// not an object gives ErrNotObject.
func ParseSettings(data []byte) (*Settings, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return &Settings{root: &jsonObject{}}, nil
	}
	v, err := decodeOrdered(data)
	if err != nil {
		return nil, err
	}
	obj, ok := v.(*jsonObject)
	if !ok {
		return nil, ErrNotObject
	}
	return &Settings{root: obj}, nil
}

// Encode writes the settings as JSON indented by two spaces, as Claude Code
// writes them, with a final newline.
func (s *Settings) Encode() []byte {
	var buf bytes.Buffer
	writeValue(&buf, s.root, 0)
	buf.WriteByte('\n')
	return buf.Bytes()
}

// Keys returns the top-level keys of the settings, in order.
func (s *Settings) Keys() []string { return append([]string(nil), s.root.keys...) }

// HookConfig says which hook entries AddHooks adds.
type HookConfig struct {
	// HTTP adds HTTP hooks that POST to URL+HookPath; otherwise command
	// hooks that run Command, with URL in the settings' env block.
	HTTP bool
	// URL is the Track Skills server, without a trailing slash.
	URL string
	// Command is the command line of the command hook.
	Command string
	// Relay posts the HTTP hooks to the local relay at URL: without the
	// ingest key (the relay holds it) and with ServerURL, the server the
	// relay forwards to, in the env block for the scan.
	Relay     bool
	ServerURL string
	// ScanCommand, when set, is a command line that registers the
	// installed skills (trackskills skills scan --if-changed): AddHooks
	// runs it as an async command hook on SessionStart, with HTTP hooks
	// too, since Claude Code runs only command hooks there.
	ScanCommand string
}

// ScanTimeout is the timeout, in seconds, of the SessionStart scan hook.
const ScanTimeout = 30

// AddHooks adds a matcher group with our handler to each hook event of cfg
// (HookEvents, or HTTPHookEvents for HTTP hooks), after the groups already
// there; a command hook also sets URLEnv in the env block. Call RemoveHooks
// first to replace our entries rather than add to them.
func (s *Settings) AddHooks(cfg HookConfig) {
	hooks, ok := s.root.get("hooks").(*jsonObject)
	if !ok {
		hooks = &jsonObject{}
		s.root.set("hooks", hooks)
	}
	events := HookEvents
	if cfg.HTTP {
		events = HTTPHookEvents
	}
	for _, event := range events {
		handler := &jsonObject{}
		if cfg.HTTP {
			handler.set("type", "http")
			handler.set("url", cfg.URL+HookPath)
			handler.set("timeout", json.Number("3"))
			headers := &jsonObject{}
			headers.set("X-Trackskills-User", "$USER")
			allowed := []any{"USER"}
			if !cfg.Relay {
				headers.set("Authorization", "Bearer $TRACKSKILLS_KEY")
				allowed = append(allowed, "TRACKSKILLS_KEY")
			}
			handler.set("headers", headers)
			handler.set("allowedEnvVars", allowed)
		} else {
			handler.set("type", "command")
			handler.set("command", cfg.Command)
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
	if cfg.ScanCommand != "" {
		handler := &jsonObject{}
		handler.set("type", "command")
		handler.set("command", cfg.ScanCommand)
		handler.set("async", true)
		handler.set("timeout", json.Number(fmt.Sprint(ScanTimeout)))
		group := &jsonObject{}
		group.set("matcher", "*")
		group.set("hooks", []any{handler})
		groups, _ := hooks.get(SessionStart).([]any)
		hooks.set(SessionStart, append(groups, group))
	}
	if !cfg.HTTP || cfg.ScanCommand != "" {
		// The scan reads the server's URL from the env block too.
		env, ok := s.root.get("env").(*jsonObject)
		if !ok {
			env = &jsonObject{}
			s.root.set("env", env)
		}
		server := cfg.URL
		if cfg.Relay && cfg.ServerURL != "" {
			server = cfg.ServerURL
		}
		env.set(URLEnv, server)
	}
}

// RemoveHooks deletes our handlers (see IsOurCommand; command is this
// binary's hook command line), then the matcher groups and events left
// empty by that, and URLEnv from the env block. Every other setting and
// hook stays as it was.
func (s *Settings) RemoveHooks(command string) {
	settings := s.root
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
				if isOurHandler(hd, command) {
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
		env.del(URLEnv)
		if len(env.keys) == 0 {
			settings.del("env")
		}
	}
}

// AllowedHTTPHookURLs is the setting that limits the URLs HTTP hooks may
// post to (from managed settings, it binds every source of hooks).
const AllowedHTTPHookURLs = "allowedHttpHookUrls"

// AllowHTTPHookURL adds url to allowedHttpHookUrls, unless it is there.
func (s *Settings) AllowHTTPHookURL(url string) {
	list, _ := s.root.get(AllowedHTTPHookURLs).([]any)
	for _, v := range list {
		if v == url {
			return
		}
	}
	s.root.set(AllowedHTTPHookURLs, append(list, url))
}

// DisallowHTTPHookURLs removes from allowedHttpHookUrls every URL of
// Track Skills' hook endpoint (those ending in HookPath), and the setting
// when it is left empty.
func (s *Settings) DisallowHTTPHookURLs() {
	list, ok := s.root.get(AllowedHTTPHookURLs).([]any)
	if !ok {
		return
	}
	var kept []any
	for _, v := range list {
		if u, ok := v.(string); ok && strings.HasSuffix(u, HookPath) {
			continue
		}
		kept = append(kept, v)
	}
	if len(kept) == 0 {
		s.root.del(AllowedHTTPHookURLs)
		return
	}
	s.root.set(AllowedHTTPHookURLs, kept)
}

// IsOurCommand reports whether the command line of a command hook is Track
// Skills': exactly ours (this binary, whatever its name), one that runs
// "<...trackskills...> hook", or the lean trackskills-hook binary.
func IsOurCommand(cmd, ours string) bool {
	cmd = strings.TrimSpace(cmd)
	return cmd == ours || strings.Contains(cmd, "trackskills") && strings.HasSuffix(cmd, " hook") ||
		strings.HasSuffix(strings.Trim(cmd, "'\""), "trackskills-hook")
}

// IsOurScanCommand reports whether the command line of a command hook is
// Track Skills' skill scan: "<...trackskills...> skills scan ...", or
// "<binary> skills scan ..." for the binary of ours ("<binary> hook").
func IsOurScanCommand(cmd, ours string) bool {
	before, _, ok := strings.Cut(strings.TrimSpace(cmd), " skills scan")
	if !ok {
		return false
	}
	bin, isHook := strings.CutSuffix(strings.TrimSpace(ours), " hook")
	return strings.Contains(before, "trackskills") || isHook && before == bin
}

// isOurHandler reports whether a hook handler is Track Skills': a command
// hook whose command IsOurCommand or IsOurScanCommand, or an HTTP hook to
// HookPath.
func isOurHandler(v any, command string) bool {
	h, ok := v.(*jsonObject)
	if !ok {
		return false
	}
	typ, _ := h.get("type").(string)
	switch typ {
	case "command":
		cmd, _ := h.get("command").(string)
		return IsOurCommand(cmd, command) || IsOurScanCommand(cmd, command)
	case "http":
		url, _ := h.get("url").(string)
		return strings.Contains(url, HookPath)
	}
	return false
}

// jsonObject is a JSON object that keeps its keys' order.
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
	_ = enc.Encode(s)           // a string always encodes into a buffer
	buf.Truncate(buf.Len() - 1) // Encode's newline
}

// Diff returns a minimal line diff of a and b: "-" and "+" lines with two
// lines of context, each line ending in a newline; "" when they are equal.
func Diff(a, b string) string {
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
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			out = append(out, line{'-', al[i]})
			i++
		default:
			out = append(out, line{'+', bl[j]})
			j++
		}
	}
	var w strings.Builder
	for k, l := range out {
		near := false
		for d := -2; d <= 2; d++ {
			if k+d >= 0 && k+d < len(out) && out[k+d].op != ' ' {
				near = true
			}
		}
		if near {
			fmt.Fprintf(&w, "%c %s\n", l.op, l.text)
		}
	}
	return w.String()
}

func splitLines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// The Track Skills plugin, as settings name it: its marketplace (this
// repository's .claude-plugin/marketplace.json) and its id in
// enabledPlugins.
const (
	MarketplaceName = "trackskills"
	PluginID        = "trackskills@" + MarketplaceName
	// DefaultMarketplace is the repository that holds the marketplace.
	DefaultMarketplace = "trackskills/trackskills"
)

// MarketplaceSource is the source object of the marketplace at where: a
// GitHub owner/repo, a git URL, or a directory (an absolute path).
func MarketplaceSource(where string) (map[string]string, error) {
	switch {
	case strings.HasPrefix(where, "/"):
		return map[string]string{"source": "directory", "path": where}, nil
	case strings.Contains(where, "://") || strings.HasPrefix(where, "git@"):
		return map[string]string{"source": "git", "url": where}, nil
	case strings.Count(where, "/") == 1 && !strings.ContainsAny(where, " \\@:") && !strings.HasPrefix(where, ".") && !strings.HasSuffix(where, "/"):
		return map[string]string{"source": "github", "repo": where}, nil
	}
	return nil, fmt.Errorf("marketplace %q: give a GitHub owner/repo, a git URL, or an absolute directory", where)
}

// EnablePlugin declares the Track Skills marketplace (extraKnownMarketplaces)
// with source and enables the plugin (enabledPlugins): from managed
// settings, that force-enables it, and allowManagedHooksOnly spares its
// hooks. It sets URLEnv in the env block to url, which the plugin's hook
// reads before the user's option.
func (s *Settings) EnablePlugin(source map[string]string, url string) {
	markets, ok := s.root.get("extraKnownMarketplaces").(*jsonObject)
	if !ok {
		markets = &jsonObject{}
		s.root.set("extraKnownMarketplaces", markets)
	}
	src := &jsonObject{}
	for _, k := range []string{"source", "repo", "url", "path"} {
		if v, ok := source[k]; ok {
			src.set(k, v)
		}
	}
	entry := &jsonObject{}
	entry.set("source", src)
	markets.set(MarketplaceName, entry)
	enabled, ok := s.root.get("enabledPlugins").(*jsonObject)
	if !ok {
		enabled = &jsonObject{}
		s.root.set("enabledPlugins", enabled)
	}
	enabled.set(PluginID, true)
	env, ok := s.root.get("env").(*jsonObject)
	if !ok {
		env = &jsonObject{}
		s.root.set("env", env)
	}
	env.set(URLEnv, url)
}

// RemovePlugin undoes EnablePlugin: the plugin's entry in enabledPlugins
// and the marketplace's in extraKnownMarketplaces, URLEnv in the env
// block, and the settings left empty by that.
func (s *Settings) RemovePlugin() {
	for _, key := range []string{"enabledPlugins", "extraKnownMarketplaces"} {
		obj, ok := s.root.get(key).(*jsonObject)
		if !ok {
			continue
		}
		obj.del(PluginID)
		obj.del(MarketplaceName)
		if len(obj.keys) == 0 {
			s.root.del(key)
		}
	}
	if env, ok := s.root.get("env").(*jsonObject); ok {
		env.del(URLEnv)
		if len(env.keys) == 0 {
			s.root.del("env")
		}
	}
}
