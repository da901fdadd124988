package claudecode

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// The checks below follow Claude Code's documented schemas of a plugin
// manifest (.claude-plugin/plugin.json), a hooks file (hooks/hooks.json)
// and a marketplace (.claude-plugin/marketplace.json). `claude plugin
// validate` stays the authoritative check; these let a test hold Track
// Skills' own plugin to the documented rules without Claude Code.

// Problem is one way a plugin file departs from the documented schema. A
// warning is one that Claude Code tolerates (it strips an unknown
// top-level key, say) and `claude plugin validate --strict` refuses.
type Problem struct {
	Path    string // where, as a JSON path: userConfig.server_url.type
	Message string
	Warning bool
}

func (p Problem) String() string {
	kind := "error"
	if p.Warning {
		kind = "warning"
	}
	return fmt.Sprintf("%s: %s: %s", kind, p.Path, p.Message)
}

// AllHookEvents are the hook events Claude Code documents.
var AllHookEvents = []string{
	SessionStart, "Setup", UserPromptSubmit, UserPromptExpansion, PreToolUse, "PermissionRequest",
	PermissionDenied, PostToolUse, PostToolUseFailure, "PostToolBatch", "Notification", "MessageDisplay",
	SubagentStart, SubagentStop, "TaskCreated", "TaskCompleted", Stop, StopFailure, "TeammateIdle",
	"InstructionsLoaded", "ConfigChange", "CwdChanged", "FileChanged", "WorktreeCreate", "WorktreeRemove",
	"PreCompact", "PostCompact", "Elicitation", "ElicitationResult", SessionEnd,
}

type checker struct {
	dir      string // the plugin root, for component paths; "" checks no path on disk
	problems []Problem
}

func (c *checker) errf(path, format string, args ...any) {
	c.problems = append(c.problems, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

func (c *checker) warnf(path, format string, args ...any) {
	c.problems = append(c.problems, Problem{Path: path, Message: fmt.Sprintf(format, args...), Warning: true})
}

// decodeObject reads data as one JSON object, numbers kept as json.Number.
func decodeObject(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("more than one JSON value")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, ErrNotObject
	}
	return obj, nil
}

// field checks that obj[key], when present, has the JSON type want
// ("string", "boolean", "number", "object", "array").
func (c *checker) field(obj map[string]any, path, key, want string) (any, bool) {
	v, ok := obj[key]
	if !ok {
		return nil, false
	}
	if got := jsonType(v); got != want {
		c.errf(join(path, key), "is a %s, want a %s", got, want)
		return nil, false
	}
	return v, true
}

func jsonType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case bool:
		return "boolean"
	case json.Number:
		return "number"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// badNameChars are what a plugin or marketplace name may not hold.
func badName(s string) bool {
	return s == "" || strings.ContainsAny(s, " @:/\\") || strings.ContainsFunc(s, func(r rune) bool {
		return r < 0x20 || r == 0x7f || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069
	})
}

// isKebabCase reports lower-case words of letters and digits joined by
// single hyphens. (No regexp: the lean hook binary imports this package.)
func isKebabCase(s string) bool {
	if s == "" || s[0] == '-' || s[len(s)-1] == '-' || strings.Contains(s, "--") {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// isIdentifier reports letters, digits and underscores, not starting with
// a digit.
func isIdentifier(s string) bool {
	for i, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}

// pluginFields are the top-level keys of plugin.json and their types ("path"
// a component path or inline config, checked apart).
var pluginFields = map[string]string{
	"$schema": "string", "name": "string", "displayName": "string", "version": "string",
	"description": "string", "author": "object", "homepage": "string", "repository": "string",
	"license": "string", "keywords": "array", "metadata": "object", "defaultEnabled": "boolean",
	"dependencies": "array", "settings": "object", "userConfig": "object", "channels": "array",
	"skills": "path", "commands": "path", "agents": "path", "hooks": "path", "mcpServers": "path",
	"lspServers": "path", "outputStyles": "path", "workflows": "path", "experimental": "object",
}

// CheckPluginManifest checks a plugin.json against the documented manifest
// schema. dir is the plugin root, where component paths must exist; ""
// checks no path on disk.
func CheckPluginManifest(data []byte, dir string) []Problem {
	c := &checker{dir: dir}
	obj, err := decodeObject(data)
	if err != nil {
		c.errf("", "not a JSON object: %v", err)
		return c.problems
	}
	c.pluginFields(obj, "", true)
	return c.problems
}

// pluginFields checks the manifest fields of obj (plugin.json, or a
// marketplace entry, which takes the same fields).
func (c *checker) pluginFields(obj map[string]any, path string, manifest bool) {
	for _, k := range sortedKeys(obj) {
		want, known := pluginFields[k]
		switch {
		case !known:
			if manifest {
				c.warnf(join(path, k), "is not a documented field; Claude Code strips it")
			}
		case want == "path":
			c.componentPaths(obj[k], join(path, k), k)
		default:
			c.field(obj, path, k, want)
		}
	}
	if name, ok := c.field(obj, path, "name", "string"); !ok {
		if _, present := obj["name"]; !present {
			c.errf(join(path, "name"), "is required")
		}
	} else if s := name.(string); badName(s) {
		c.errf(join(path, "name"), "%q: no spaces, @, :, path separators or control characters", s)
	} else if !isKebabCase(s) {
		c.warnf(join(path, "name"), "%q is not kebab-case", s)
	}
	if manifest {
		for _, k := range []string{"version", "description", "author"} {
			if _, ok := obj[k]; !ok {
				c.warnf(join(path, k), "is missing")
			}
		}
	}
	if a, ok := c.field(obj, path, "author", "object"); ok {
		author := a.(map[string]any)
		if _, ok := c.field(author, join(path, "author"), "name", "string"); !ok {
			c.errf(join(path, "author.name"), "is required")
		}
		c.field(author, join(path, "author"), "email", "string")
		c.field(author, join(path, "author"), "url", "string")
	}
	if h, ok := c.field(obj, path, "homepage", "string"); ok {
		if u, err := url.Parse(h.(string)); err != nil || u.Scheme == "" || u.Host == "" {
			c.errf(join(path, "homepage"), "%q is not a URL", h)
		}
	}
	if kw, ok := c.field(obj, path, "keywords", "array"); ok {
		for i, v := range kw.([]any) {
			if _, ok := v.(string); !ok {
				c.errf(fmt.Sprintf("%s[%d]", join(path, "keywords"), i), "is a %s, want a string", jsonType(v))
			}
		}
	}
	if uc, ok := c.field(obj, path, "userConfig", "object"); ok {
		c.userConfig(uc.(map[string]any), join(path, "userConfig"))
	}
}

// componentPaths checks a component key: a path, an array of paths, or
// (for hooks, mcpServers, lspServers, commands) inline configuration.
func (c *checker) componentPaths(v any, path, key string) {
	switch v := v.(type) {
	case string:
		c.componentPath(v, path, key)
	case []any:
		for i, e := range v {
			p := fmt.Sprintf("%s[%d]", path, i)
			switch e := e.(type) {
			case string:
				c.componentPath(e, p, key)
			case map[string]any:
				if key == "hooks" {
					c.hookEvents(e, p)
				} else if key != "mcpServers" && key != "lspServers" {
					c.errf(p, "is an object; %s takes paths", key)
				}
			default:
				c.errf(p, "is a %s, want a path", jsonType(e))
			}
		}
	case map[string]any:
		switch key {
		case "hooks":
			c.hookEvents(v, path)
		case "mcpServers", "lspServers", "commands":
		default:
			c.errf(path, "is an object; %s takes paths", key)
		}
	default:
		c.errf(path, "is a %s, want a path", jsonType(v))
	}
}

func (c *checker) componentPath(p, path, key string) {
	switch {
	case key == "mcpServers" && strings.HasPrefix(p, "https://"):
		return
	case key == "skills" && p == ".":
	case !strings.HasPrefix(p, "./"):
		c.errf(path, "%q must start with ./", p)
		return
	}
	if slices.Contains(strings.Split(filepath.ToSlash(p), "/"), "..") {
		c.errf(path, "%q contains \"..\"", p)
		return
	}
	if c.dir != "" {
		if _, err := os.Stat(filepath.Join(c.dir, filepath.FromSlash(p))); err != nil {
			c.errf(path, "%q: path not found", p)
		}
	}
}

// userConfigFields are the keys of a userConfig option, which is strict.
var userConfigFields = map[string]string{
	"type": "string", "title": "string", "description": "string", "required": "boolean",
	"default": "", "options": "array", "multiple": "boolean", "sensitive": "boolean",
	"min": "number", "max": "number",
}

func (c *checker) userConfig(uc map[string]any, path string) {
	for _, key := range sortedKeys(uc) {
		p := join(path, key)
		if !isIdentifier(key) {
			c.errf(p, "option keys are letters, digits and underscores, not starting with a digit")
		}
		opt, ok := uc[key].(map[string]any)
		if !ok {
			c.errf(p, "is a %s, want an object", jsonType(uc[key]))
			continue
		}
		for _, k := range sortedKeys(opt) {
			want, known := userConfigFields[k]
			if !known {
				c.errf(join(p, k), "is not a userConfig field (options are strict)")
			} else if want != "" {
				c.field(opt, p, k, want)
			}
		}
		typ, _ := opt["type"].(string)
		switch typ {
		case "string", "number", "boolean", "directory", "file":
		case "":
			if _, present := opt["type"]; !present {
				c.errf(join(p, "type"), "is required")
			}
		default:
			c.errf(join(p, "type"), "%q is not string, number, boolean, directory or file", typ)
		}
		for _, k := range []string{"title", "description"} {
			if _, present := opt[k]; !present {
				c.errf(join(p, k), "is required")
			}
		}
		if d, present := opt["default"]; present {
			switch d := d.(type) {
			case string, json.Number, bool:
			case []any:
				for _, e := range d {
					if _, ok := e.(string); !ok {
						c.errf(join(p, "default"), "an array default holds strings only")
						break
					}
				}
			default:
				c.errf(join(p, "default"), "is a %s, want a string, number, boolean or array of strings", jsonType(d))
			}
		}
		if _, present := opt["min"]; present && typ != "number" {
			c.errf(join(p, "min"), "bounds a number only")
		}
		if _, present := opt["max"]; present && typ != "number" {
			c.errf(join(p, "max"), "bounds a number only")
		}
		if o, ok := opt["options"].([]any); ok {
			if typ != "string" || opt["multiple"] == true || opt["sensitive"] == true {
				c.errf(join(p, "options"), "applies to a string that is neither multiple nor sensitive")
			}
			for i, e := range o {
				if s, ok := e.(string); !ok || len(s) < 1 || len(s) > 64 {
					c.errf(fmt.Sprintf("%s[%d]", join(p, "options"), i), "an option is a label of 1 to 64 characters")
				}
			}
			// A default that is not a string was reported above; comparing
			// it with == could panic (an array or an object).
			if d, ok := opt["default"].(string); ok && !slices.Contains(o, any(d)) {
				c.errf(join(p, "default"), "is not one of the options")
			}
		}
	}
}

// CheckHooksFile checks a plugin's hooks/hooks.json: an object with a
// hooks member in the shape of settings.json's hooks, and an optional
// description.
func CheckHooksFile(data []byte) []Problem {
	c := &checker{}
	obj, err := decodeObject(data)
	if err != nil {
		c.errf("", "not a JSON object: %v", err)
		return c.problems
	}
	for _, k := range sortedKeys(obj) {
		if k != "hooks" && k != "description" {
			c.warnf(k, "is not a member of a hooks file")
		}
	}
	c.field(obj, "", "description", "string")
	if h, ok := c.field(obj, "", "hooks", "object"); ok {
		c.hookEvents(h.(map[string]any), "hooks")
	} else if _, present := obj["hooks"]; !present {
		c.errf("hooks", "is required")
	}
	return c.problems
}

// handlerFields are the fields of a hook handler by type, beside the
// common ones.
var handlerFields = map[string]map[string]string{
	"command":  {"command": "string", "args": "array", "async": "boolean", "asyncRewake": "boolean", "shell": "string"},
	"http":     {"url": "string", "headers": "object", "allowedEnvVars": "array"},
	"mcp_tool": {"server": "string", "tool": "string", "input": "object"},
	"prompt":   {"prompt": "string", "model": "string"},
	"agent":    {"prompt": "string", "model": "string"},
}

var commonHandlerFields = map[string]string{"type": "string", "if": "string", "timeout": "number", "statusMessage": "string", "once": "boolean"}

// required handler fields, by type.
var handlerRequired = map[string]string{"command": "command", "http": "url", "prompt": "prompt", "agent": "prompt"}

func (c *checker) hookEvents(hooks map[string]any, path string) {
	for _, event := range sortedKeys(hooks) {
		p := join(path, event)
		if !slices.Contains(AllHookEvents, event) {
			c.errf(p, "is not a hook event")
			continue
		}
		groups, ok := hooks[event].([]any)
		if !ok {
			c.errf(p, "is a %s, want an array of matcher groups", jsonType(hooks[event]))
			continue
		}
		for i, g := range groups {
			gp := fmt.Sprintf("%s[%d]", p, i)
			group, ok := g.(map[string]any)
			if !ok {
				c.errf(gp, "is a %s, want a matcher group", jsonType(g))
				continue
			}
			c.field(group, gp, "matcher", "string")
			handlers, ok := c.field(group, gp, "hooks", "array")
			if !ok {
				if _, present := group["hooks"]; !present {
					c.errf(join(gp, "hooks"), "is required")
				}
				continue
			}
			for j, h := range handlers.([]any) {
				c.handler(h, fmt.Sprintf("%s.hooks[%d]", gp, j))
			}
		}
	}
}

func (c *checker) handler(v any, path string) {
	h, ok := v.(map[string]any)
	if !ok {
		c.errf(path, "is a %s, want a hook handler", jsonType(v))
		return
	}
	typ, _ := h["type"].(string)
	fields, known := handlerFields[typ]
	if !known {
		c.errf(join(path, "type"), "%q is not command, http, mcp_tool, prompt or agent", h["type"])
		return
	}
	for _, k := range sortedKeys(h) {
		if want, ok := commonHandlerFields[k]; ok {
			c.field(h, path, k, want)
		} else if want, ok := fields[k]; ok {
			c.field(h, path, k, want)
		} else {
			c.warnf(join(path, k), "is not a field of a %s hook", typ)
		}
	}
	if t, ok := h["timeout"].(json.Number); ok {
		if f, err := t.Float64(); err != nil || f <= 0 {
			c.errf(join(path, "timeout"), "is %s seconds; want more than 0", t)
		}
	}
	if req := handlerRequired[typ]; req != "" {
		if _, present := h[req]; !present {
			c.errf(join(path, req), "is required")
		}
	}
	if typ != "command" {
		return
	}
	command, _ := h["command"].(string)
	args, exec := h["args"].([]any)
	for i, a := range args {
		if _, ok := a.(string); !ok {
			c.errf(fmt.Sprintf("%s[%d]", join(path, "args"), i), "is a %s, want a string", jsonType(a))
		}
	}
	switch {
	case !exec && strings.Contains(command, "${user_config."):
		c.errf(join(path, "command"), "a shell-form command may not reference ${user_config.*}: use exec form (args) or $CLAUDE_PLUGIN_OPTION_<KEY>")
	case exec && !strings.ContainsAny(command, `/\`) && strings.ContainsAny(command, " \t"):
		c.errf(join(path, "command"), "%q: in exec form, command is the executable only; move the rest into args", command)
	}
	if s, ok := h["shell"].(string); ok && s != "bash" && s != "powershell" {
		c.errf(join(path, "shell"), "%q is not bash or powershell", s)
	}
}

// CheckMarketplace checks a .claude-plugin/marketplace.json against the
// documented marketplace schema. root is the marketplace root (the
// directory holding .claude-plugin/), where relative plugin sources must
// be plugin directories; "" checks nothing on disk.
func CheckMarketplace(data []byte, root string) []Problem {
	c := &checker{dir: root}
	obj, err := decodeObject(data)
	if err != nil {
		c.errf("", "not a JSON object: %v", err)
		return c.problems
	}
	known := []string{"$schema", "name", "owner", "plugins", "description", "version", "metadata",
		"forceRemoveDeletedPlugins", "allowCrossMarketplaceDependenciesOn", "renames"}
	for _, k := range sortedKeys(obj) {
		if !slices.Contains(known, k) {
			c.warnf(k, "is not a documented field; Claude Code ignores it")
		}
	}
	for _, k := range []string{"name", "owner", "plugins"} {
		if _, present := obj[k]; !present {
			c.errf(k, "is required")
		}
	}
	if n, ok := c.field(obj, "", "name", "string"); ok {
		if s := n.(string); badName(s) || s == "." || strings.Contains(s, "..") {
			c.errf("name", "%q: no spaces, path separators, .. or control characters", s)
		} else if reservedMarketplace(s) {
			c.errf("name", "%q is reserved", s)
		}
	}
	if _, ok := obj["description"]; !ok {
		c.warnf("description", "is missing")
	}
	if o, ok := c.field(obj, "", "owner", "object"); ok {
		owner := o.(map[string]any)
		if _, ok := c.field(owner, "owner", "name", "string"); !ok {
			c.errf("owner.name", "is required")
		}
		c.field(owner, "owner", "email", "string")
		c.field(owner, "owner", "url", "string")
	}
	plugins, _ := c.field(obj, "", "plugins", "array")
	entries, _ := plugins.([]any)
	for i, e := range entries {
		p := fmt.Sprintf("plugins[%d]", i)
		entry, ok := e.(map[string]any)
		if !ok {
			c.errf(p, "is a %s, want a plugin entry", jsonType(e))
			continue
		}
		c.marketplaceEntry(entry, p)
	}
	return c.problems
}

func (c *checker) marketplaceEntry(entry map[string]any, path string) {
	own := map[string]any{}
	for k, v := range entry {
		switch k {
		case "source", "category", "tags", "strict", "relevance", "headers", "headersHelper":
		default:
			own[k] = v
		}
	}
	c.pluginFields(own, path, false)
	c.field(entry, path, "category", "string")
	c.field(entry, path, "tags", "array")
	c.field(entry, path, "strict", "boolean")
	if h, ok := entry["hooks"]; ok {
		if _, inline := h.(map[string]any); !inline {
			c.errf(join(path, "hooks"), "hooks in a marketplace entry must be an inline object")
		}
	}
	switch s := entry["source"].(type) {
	case nil:
		c.errf(join(path, "source"), "is required")
	case string:
		if s != "." && !strings.HasPrefix(s, "./") {
			c.errf(join(path, "source"), "%q: a relative source starts with ./", s)
		} else if strings.Contains(s, "..") || strings.Contains(s[1:], `\`) {
			c.errf(join(path, "source"), "%q: no .. and no backslash", s)
		} else if c.dir != "" {
			dir := filepath.Join(c.dir, filepath.FromSlash(s))
			if _, err := os.Stat(filepath.Join(dir, ".claude-plugin", "plugin.json")); err != nil {
				c.errf(join(path, "source"), "%q holds no .claude-plugin/plugin.json", s)
			}
		}
	case map[string]any:
		typ, _ := s["source"].(string)
		need := map[string]string{"github": "repo", "url": "url", "git-subdir": "url", "npm": "package", "archive": "url", "command": "command"}[typ]
		if need == "" {
			c.errf(join(path, "source.source"), "%q is not a plugin source type", s["source"])
		} else if _, ok := s[need].(string); !ok {
			c.errf(join(path, "source."+need), "is required for a %s source", typ)
		}
	default:
		c.errf(join(path, "source"), "is a %s, want a path or a source object", jsonType(s))
	}
}

// reservedMarketplace reports the names Claude Code keeps for its own
// marketplaces (the list and the impersonation rule are abridged: the
// exact names, and any name not in ASCII).
func reservedMarketplace(name string) bool {
	for _, r := range name {
		if r > 0x7e {
			return true
		}
	}
	switch strings.ToLower(name) {
	case "claude-code-marketplace", "claude-code-plugins", "claude-plugins-official", "anthropic-marketplace",
		"anthropic-plugins", "agent-skills", "anthropic-agent-skills", "claude-community", "claude-plugins-community",
		"anthropic-plugin-directory", "claude-plugin-directory", "inline", "builtin", "skills-dir", "synced",
		"claude-plugin-test", "npm", "pip", "uv", "cargo", "github", "gh":
		return true
	}
	return strings.HasPrefix(name, "claudeai-")
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
