// Command transcripts writes a directory of generated Claude Code session
// transcripts, for bench/import.sh: sessions of tool calls (some failing,
// some in parallel, some denied), their results with outputs of a few
// hundred bytes to a few hundred KB, assistant text, usage repeated over a
// message's lines, summaries and file snapshots, and subagents' files.
//
//	go run ./bench/transcripts --dir /tmp/tx --mb 1024
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	dir := flag.String("dir", "", "the projects folder to write")
	mb := flag.Int("mb", 1024, "how many MB to write in all")
	fileMB := flag.Int("file-mb", 4, "about how many MB a session's file holds")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "transcripts: give --dir")
		os.Exit(2)
	}
	if err := write(*dir, int64(*mb)<<20, int64(*fileMB)<<20); err != nil {
		fmt.Fprintln(os.Stderr, "transcripts:", err)
		os.Exit(1)
	}
}

var tools = []string{"Bash", "Read", "Edit", "Grep", "Glob", "Write", "Skill", "Agent", "mcp__github__search_issues", "mcp__linear__create_issue"}

func write(dir string, total, perFile int64) error {
	r := rand.New(rand.NewPCG(1, 2))
	start := time.Now().Add(-20 * 24 * time.Hour)
	var written int64
	for s := 0; written < total; s++ {
		project := filepath.Join(dir, fmt.Sprintf("-home-dev-project%d", s%7))
		session := fmt.Sprintf("%08x-bench-%06d", r.Uint32(), s)
		n, err := writeSession(filepath.Join(project, session+".jsonl"), session, "", r, start.Add(time.Duration(s)*time.Minute), perFile)
		if err != nil {
			return err
		}
		written += n
		if s%5 == 0 { // a subagent's file beside it
			agent := fmt.Sprintf("ag%06d", s)
			n, err := writeSession(filepath.Join(project, session, "subagents", "agent-"+agent+".jsonl"), session, agent, r,
				start.Add(time.Duration(s)*time.Minute+time.Second), perFile/8)
			if err != nil {
				return err
			}
			written += n
		}
	}
	fmt.Printf("wrote %.0f MB under %s\n", float64(written)/(1<<20), dir)
	return nil
}

func writeSession(path, session, agent string, r *rand.Rand, at time.Time, size int64) (int64, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return 0, err
	}
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var n int64
	line := func(v map[string]any) {
		v["sessionId"], v["version"], v["cwd"], v["uuid"] = session, "2.1.280", "/home/dev/project", fmt.Sprintf("%016x", r.Uint64())
		if agent != "" {
			v["isSidechain"], v["agentId"] = true, agent
		}
		v["timestamp"] = at.UTC().Format("2006-01-02T15:04:05.000Z")
		b, _ := json.Marshal(v)
		w.Write(b)
		w.WriteByte('\n')
		n += int64(len(b) + 1)
	}
	line(map[string]any{"type": "summary", "summary": "Work on the project"})
	for msg := 0; n < size; msg++ {
		at = at.Add(time.Duration(500+r.IntN(3000)) * time.Millisecond)
		line(map[string]any{"type": "user", "message": map[string]any{"role": "user", "content": "please go on with the next step " + strings.Repeat("x", r.IntN(200))}})
		mid, req := fmt.Sprintf("msg_%x", r.Uint64()), fmt.Sprintf("req_%x", r.Uint64())
		usage := map[string]any{"input_tokens": 100 + r.IntN(5000), "output_tokens": 10 + r.IntN(800), "cache_read_input_tokens": r.IntN(50000), "cache_creation_input_tokens": r.IntN(2000)}
		attr := map[string]any{}
		if r.IntN(3) == 0 {
			attr["attributionSkill"] = fmt.Sprintf("skill-%d", r.IntN(20))
		}
		asst := func(content any) {
			v := map[string]any{"type": "assistant", "requestId": req, "message": map[string]any{"id": mid, "model": "claude-sonnet-4-5", "role": "assistant", "content": content, "usage": usage}}
			for k, x := range attr {
				v[k] = x
			}
			line(v)
		}
		asst([]any{map[string]any{"type": "text", "text": strings.Repeat("Thinking about it. ", 1+r.IntN(20))}})
		calls := 1 + r.IntN(3) // parallel calls, a line each
		ids := make([]string, calls)
		names := make([]string, calls)
		for c := range calls {
			ids[c], names[c] = fmt.Sprintf("toolu_%x", r.Uint64()), tools[r.IntN(len(tools))]
			input := map[string]any{"command": "go test ./...", "file_path": "/home/dev/project/main.go", "description": "step"}
			switch names[c] {
			case "Skill":
				input = map[string]any{"skill": fmt.Sprintf("skill-%d", r.IntN(20))}
			case "Agent":
				input = map[string]any{"subagent_type": "Explore", "prompt": "look around"}
			case "Write", "Edit":
				input["content"] = strings.Repeat("code line\n", r.IntN(400))
			}
			asst([]any{map[string]any{"type": "tool_use", "id": ids[c], "name": names[c], "input": input}})
		}
		for c := range calls {
			at = at.Add(time.Duration(20+r.IntN(4000)) * time.Millisecond)
			content, isErr := strings.Repeat("output line of the tool\n", r.IntN(60)), false
			switch k := r.IntN(100); {
			case k < 1:
				content = strings.Repeat("a large file line\n", 10000+r.IntN(10000)) // a few hundred KB
			case k < 5:
				content, isErr = "Exit code 1\nFAIL", true
			case k < 6:
				content, isErr = "The user doesn't want to proceed with this tool use. The tool use was rejected.", true
			}
			line(map[string]any{"type": "user", "message": map[string]any{"role": "user", "content": []any{
				map[string]any{"type": "tool_result", "tool_use_id": ids[c], "content": content, "is_error": isErr}}}})
		}
		if r.IntN(50) == 0 {
			line(map[string]any{"type": "file-history-snapshot", "snapshot": map[string]any{"files": strings.Repeat("f", 5000)}})
		}
	}
	if err := w.Flush(); err != nil {
		return n, err
	}
	return n, f.Close()
}
