// Package skillscan finds the skills and MCP servers a Claude Code user has
// installed: the SKILL.md files of the skill folders (the user's, the
// project's, the installed plugins') and the names of the MCP servers in the
// configuration files. It reads names, descriptions and sizes only: an MCP
// server's command, environment and URL may hold secrets, and are never
// kept.
package skillscan

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Limits of what a scan records.
const (
	// MaxDescription is the most characters of a description kept, as
	// many as Claude Code lists (skillListingMaxDescChars).
	MaxDescription = 1536
	// MaxName is the most characters of a skill or server name: longer
	// ones are no tool name Track Skills accepts.
	MaxName = 128
	// maxSkillFile bounds the bytes of a SKILL.md read for its front matter.
	maxSkillFile = 1 << 20
	// maxConfigFile bounds the bytes of a JSON configuration file read.
	maxConfigFile = 64 << 20
)

// Sources of a skill or an MCP server: where the scan found it.
const (
	SourceUser    = "user"    // ~/.claude/skills, or ~/.claude.json's mcpServers
	SourceProject = "project" // the project's .claude/skills or .mcp.json
	SourceLocal   = "local"   // ~/.claude.json's projects.<dir>.mcpServers
	SourcePlugin  = "plugin"  // an installed plugin
	SourceDir     = "dir"     // a folder named on the command line
)

// Config says where Scan looks.
type Config struct {
	// Home is the user's home directory (~).
	Home string
	// ProjectDir is the project's directory: its .claude/skills and
	// .mcp.json are read. Empty skips them.
	ProjectDir string
	// Dirs, when not empty, replace the default skill folders (the
	// user's, the project's and the plugins'): each is a folder of skill
	// directories. MCP configuration files are read either way.
	Dirs []string
}

// Skill is an installed skill.
type Skill struct {
	Name        string `json:"name"` // <plugin>:<skill> for a plugin's skill
	Description string `json:"description"`
	SizeBytes   int64  `json:"size_bytes"` // of its SKILL.md
	Source      string `json:"source"`
	Plugin      string `json:"plugin,omitempty"`
	Path        string `json:"-"` // of its SKILL.md, for messages; never sent
}

// MCPServer is a configured MCP server: its name only.
type MCPServer struct {
	Name   string `json:"name"`
	Source string `json:"source"`
}

// Warning is a file the scan could not read fully; the scan went on.
type Warning struct {
	File    string
	Line    int // 0 when it does not apply
	Message string
}

// String formats the warning as file:line: message.
func (w Warning) String() string {
	if w.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", w.File, w.Line, w.Message)
	}
	return w.File + ": " + w.Message
}

// Inventory is what a scan found.
type Inventory struct {
	Skills     []Skill
	MCPServers []MCPServer
	Warnings   []Warning
	// Fingerprint changes when the folders and files the scan read
	// change: their paths, sizes and modification times (for
	// ~/.claude.json, which Claude Code rewrites all the time, the server
	// names it holds).
	Fingerprint string
}

// scanner accumulates one scan.
type scanner struct {
	inv    Inventory
	print  []string // the fingerprint's lines
	skills map[string]int
	mcp    map[string]bool
}

// Scan looks where cfg says and returns what it found, sorted by name.
// Files it cannot read or parse become warnings; only a problem with the
// scan itself is an error.
func Scan(cfg Config) (Inventory, error) {
	if cfg.Home == "" {
		return Inventory{}, errors.New("scan skills: no home directory")
	}
	s := &scanner{skills: map[string]int{}, mcp: map[string]bool{}}
	plugins := s.plugins(cfg.Home)
	if len(cfg.Dirs) > 0 {
		for _, d := range cfg.Dirs {
			s.skillDir(d, SourceDir, "")
		}
	} else {
		s.skillDir(filepath.Join(cfg.Home, ".claude", "skills"), SourceUser, "")
		if cfg.ProjectDir != "" {
			s.skillDir(filepath.Join(cfg.ProjectDir, ".claude", "skills"), SourceProject, "")
		}
		for _, p := range plugins {
			s.skillDir(filepath.Join(p.path, "skills"), SourcePlugin, p.name)
		}
	}
	s.claudeJSON(filepath.Join(cfg.Home, ".claude.json"))
	if cfg.ProjectDir != "" {
		s.mcpJSON(filepath.Join(cfg.ProjectDir, ".mcp.json"), SourceProject, "")
	}
	for _, p := range plugins {
		s.mcpJSON(filepath.Join(p.path, ".mcp.json"), SourcePlugin, p.name)
	}
	slices.SortFunc(s.inv.Skills, func(a, b Skill) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(s.inv.MCPServers, func(a, b MCPServer) int { return strings.Compare(a.Name, b.Name) })
	slices.Sort(s.print)
	sum := sha256.Sum256([]byte(strings.Join(s.print, "\n")))
	s.inv.Fingerprint = hex.EncodeToString(sum[:])
	return s.inv, nil
}

func (s *scanner) warn(file string, line int, format string, args ...any) {
	s.inv.Warnings = append(s.inv.Warnings, Warning{File: file, Line: line, Message: fmt.Sprintf(format, args...)})
}

// stat adds a file or folder to the fingerprint; it reports whether it
// exists.
func (s *scanner) stat(path string) (fs.FileInfo, bool) {
	fi, err := os.Stat(path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			s.warn(path, 0, "%v", err)
		}
		s.print = append(s.print, "none "+path)
		return nil, false
	}
	s.print = append(s.print, fmt.Sprintf("stat %s %d %d", path, fi.Size(), fi.ModTime().UnixNano()))
	return fi, true
}

// plugin is an installed plugin.
type plugin struct{ name, path string }

// plugins reads ~/.claude/plugins/installed_plugins.json, when present:
// each entry ("<plugin>@<marketplace>") names a plugin and gives its
// installPath, or a list of installs (one per scope) that do.
func (s *scanner) plugins(home string) []plugin {
	path := filepath.Join(home, ".claude", "plugins", "installed_plugins.json")
	data, ok := s.readFile(path, true)
	if !ok {
		return nil
	}
	var doc struct {
		Plugins map[string]json.RawMessage `json:"plugins"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		s.warn(path, jsonLine(data, err), "not valid JSON: %v", err)
		return nil
	}
	type install struct {
		InstallPath string `json:"installPath"`
	}
	var out []plugin
	seen := map[string]bool{}
	for key, raw := range doc.Plugins {
		name, _, _ := strings.Cut(key, "@")
		var installs []install
		if err := json.Unmarshal(raw, &installs); err != nil {
			var one install
			if err := json.Unmarshal(raw, &one); err != nil {
				s.warn(path, 0, "plugin %q: neither an install nor a list of installs", key)
				continue
			}
			installs = []install{one}
		}
		for _, in := range installs {
			if in.InstallPath == "" || seen[in.InstallPath] {
				continue
			}
			seen[in.InstallPath] = true
			out = append(out, plugin{name: name, path: in.InstallPath})
		}
	}
	slices.SortFunc(out, func(a, b plugin) int { return strings.Compare(a.path, b.path) })
	return out
}

// readFile reads a file of at most maxConfigFile bytes, adding it to the
// fingerprint when stat is set; a missing file is no warning.
func (s *scanner) readFile(path string, stat bool) ([]byte, bool) {
	if stat {
		if _, ok := s.stat(path); !ok {
			return nil, false
		}
	}
	f, err := os.Open(path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			s.warn(path, 0, "%v", err)
		}
		return nil, false
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, maxConfigFile)); err != nil {
		s.warn(path, 0, "%v", err)
		return nil, false
	}
	return buf.Bytes(), true
}

// skillDir records the skills of a folder of skill directories: each
// directory with a SKILL.md.
func (s *scanner) skillDir(dir, source, pluginName string) {
	fi, ok := s.stat(dir)
	if !ok {
		return
	}
	if !fi.IsDir() {
		s.warn(dir, 0, "not a directory")
		return
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		s.warn(dir, 0, "%v", err)
		return
	}
	for _, e := range entries {
		sub := filepath.Join(dir, e.Name())
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		// A skill directory may be a symlink (a shared checkout).
		if st, err := os.Stat(sub); err != nil || !st.IsDir() {
			continue
		}
		s.skill(filepath.Join(sub, "SKILL.md"), e.Name(), source, pluginName)
	}
}

// skill records the skill of one SKILL.md, when there is one.
func (s *scanner) skill(path, dirName, source, pluginName string) {
	fi, ok := s.stat(path)
	if !ok || !fi.Mode().IsRegular() {
		return
	}
	f, err := os.Open(path)
	if err != nil {
		s.warn(path, 0, "%v", err)
		return
	}
	var buf bytes.Buffer
	_, err = buf.ReadFrom(io.LimitReader(f, maxSkillFile))
	f.Close()
	if err != nil {
		s.warn(path, 0, "%v", err)
		return
	}
	fm, err := parseFrontMatter(buf.Bytes())
	if err != nil {
		var fe *frontMatterError
		if errors.As(err, &fe) {
			s.warn(path, fe.line, "%s", fe.msg)
		} else {
			s.warn(path, 0, "%v", err)
		}
	}
	name := strings.TrimSpace(fm.Name)
	if name == "" {
		name = dirName
	}
	if pluginName != "" {
		name = pluginName + ":" + name
	}
	if strings.IndexFunc(name, unicode.IsControl) >= 0 {
		s.warn(path, 0, "skill name %q holds control characters: skipped", name)
		return
	}
	if n := utf8.RuneCountInString(name); n > MaxName {
		s.warn(path, 0, "skill name is %d characters long; the limit is %d: skipped", n, MaxName)
		return
	}
	if i, dup := s.skills[name]; dup {
		s.warn(path, 0, "skill %q is also at %s: the first is kept", name, s.inv.Skills[i].Path)
		return
	}
	s.skills[name] = len(s.inv.Skills)
	s.inv.Skills = append(s.inv.Skills, Skill{
		Name: name, Description: CleanDescription(fm.Description), SizeBytes: fi.Size(),
		Source: source, Plugin: pluginName, Path: path,
	})
}

// frontMatter is the part of a SKILL.md's front matter a scan records.
type frontMatter struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
}

// frontMatterError is a front matter that cannot be read, at a line of the
// file (1 is its first).
type frontMatterError struct {
	line int
	msg  string
}

func (e *frontMatterError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

// yamlLine finds the line numbers in yaml's messages.
var yamlLine = regexp.MustCompile(`line (\d+)`)

// parseFrontMatter reads the YAML between a first line "---" and the next
// line "---". A file without one has an empty front matter and an error.
func parseFrontMatter(data []byte) (frontMatter, error) {
	var fm frontMatter
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a BOM
	first, rest, _ := bytes.Cut(data, []byte("\n"))
	if string(bytes.TrimRight(first, " \t\r")) != "---" {
		return fm, &frontMatterError{line: 1, msg: "no YAML front matter (a first line ---): name and description are missing"}
	}
	var body []byte
	found := false
	for off := 0; off <= len(rest); {
		line, _, _ := bytes.Cut(rest[off:], []byte("\n"))
		if t := string(bytes.TrimRight(line, " \t\r")); t == "---" || t == "..." {
			body, found = rest[:off], true
			break
		}
		off += len(line) + 1
	}
	if !found {
		return fm, &frontMatterError{line: 1, msg: "the YAML front matter has no closing ---"}
	}
	if err := yaml.Unmarshal(body, &fm); err != nil {
		// yaml counts the lines of the front matter; the file has the
		// opening --- before them.
		line := 2
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			n, _ := strconv.Atoi(m[1]) // digits only
			line = n + 1
			msg = strings.Replace(msg, m[0], "line "+strconv.Itoa(n+1), 1)
		}
		msg = strings.Join(strings.Fields(msg), " ")
		return frontMatter{}, &frontMatterError{line: line, msg: "bad YAML front matter: " + msg}
	}
	return fm, nil
}

// CleanDescription makes a description one line of plain text: runs of
// white space (a folded YAML block) become one space, other control
// characters go, and it is clipped to MaxDescription characters.
func CleanDescription(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			space = true
			continue
		case unicode.IsControl(r) || r == utf8.RuneError:
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	out := b.String()
	if utf8.RuneCountInString(out) <= MaxDescription {
		return out
	}
	n := 0
	for i := range out {
		if n == MaxDescription {
			return out[:i]
		}
		n++
	}
	return out
}

// claudeJSON records the MCP servers of ~/.claude.json: mcpServers (the
// user's) and projects.<dir>.mcpServers (a project's, kept locally). The
// file changes at every session, so its fingerprint is the names it holds,
// not its size and time.
func (s *scanner) claudeJSON(path string) {
	data, ok := s.readFile(path, false)
	if !ok {
		s.print = append(s.print, "none "+path)
		return
	}
	var doc struct {
		MCPServers map[string]json.RawMessage `json:"mcpServers"`
		Projects   map[string]struct {
			MCPServers map[string]json.RawMessage `json:"mcpServers"`
		} `json:"projects"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		s.warn(path, jsonLine(data, err), "not valid JSON: %v", err)
		s.print = append(s.print, "bad "+path)
		return
	}
	for name := range doc.MCPServers {
		s.server(path, name, SourceUser)
	}
	for _, p := range doc.Projects {
		for name := range p.MCPServers {
			s.server(path, name, SourceLocal)
		}
	}
}

// mcpJSON records the MCP servers of a .mcp.json: its mcpServers object,
// or (a plugin's file may be written so) the top-level object itself.
func (s *scanner) mcpJSON(path, source, pluginName string) {
	data, ok := s.readFile(path, true)
	if !ok {
		return
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		s.warn(path, jsonLine(data, err), "not valid JSON: %v", err)
		return
	}
	servers := doc
	if raw, ok := doc["mcpServers"]; ok {
		servers = nil
		if err := json.Unmarshal(raw, &servers); err != nil {
			s.warn(path, 0, "mcpServers is not an object")
			return
		}
	}
	for name, raw := range servers {
		if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
			continue // not a server's configuration
		}
		if pluginName != "" {
			// Claude Code names a plugin's server plugin_<plugin>_<server>
			// in its tool names (mcp__plugin_<plugin>_<server>__<tool>).
			name = "plugin_" + pluginName + "_" + name
		}
		s.server(path, name, source)
	}
}

// server records one MCP server by name; the first source found wins.
func (s *scanner) server(path, name, source string) {
	s.print = append(s.print, "mcp "+source+" "+name)
	if name == "" || s.mcp[name] {
		return
	}
	if strings.IndexFunc(name, unicode.IsControl) >= 0 {
		s.warn(path, 0, "MCP server name %q holds control characters: skipped", name)
		return
	}
	if n := utf8.RuneCountInString(name); n > MaxName-len("mcp____") {
		s.warn(path, 0, "MCP server name is %d characters long; the limit is %d: skipped", n, MaxName-len("mcp____"))
		return
	}
	s.mcp[name] = true
	s.inv.MCPServers = append(s.inv.MCPServers, MCPServer{Name: name, Source: source})
}

// jsonLine is the line of a JSON syntax error in data, 0 when unknown.
func jsonLine(data []byte, err error) int {
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return 0
	}
	return bytes.Count(data[:min(int(se.Offset), len(data))], []byte("\n")) + 1
}
