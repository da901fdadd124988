package ingest_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/ingest"
)

// Ensure a scan's inventory becomes one event per entry, in the stream
// once the answer is 200, with the user hashed and the details in the
// metadata.
func TestServer_Skills(t *testing.T) {
	srv, js := MustServer(t, testConfig())
	body := `{"skills":[
		{"name":"pdf-report","description":"Makes <PDF>\nreports","size_bytes":420,"source":"user"},
		{"name":"superpowers:brainstorming","description":"Ideas","size_bytes":90,"source":"plugin","plugin":"superpowers"}],
		"mcp_servers":[{"name":"github","source":"user"},{"name":"plugin_superpowers_notes","source":"plugin"}]}`
	r := newPost("/api/skills", body)
	r.Header.Set(ingest.UserHeader, "alice")
	w := serve(srv.Handler(), r)
	if w.Code != http.StatusOK {
		t.Fatalf("code=%d %s, want 200", w.Code, w.Body)
	}
	var resp struct {
		Success    bool `json:"success"`
		Skills     int  `json:"skills"`
		MCPServers int  `json:"mcp_servers"`
	}
	decode(t, w, &resp)
	if !resp.Success || resp.Skills != 2 || resp.MCPServers != 2 {
		t.Errorf("answer %+v, want 2 skills and 2 servers", resp)
	}
	// The 200 came after the stream's ack: the events are there now.
	evs := readStream(t, js)
	if len(evs) != 4 {
		t.Fatalf("%d events in the stream, want 4", len(evs))
	}
	user := ingest.NewHasher(testKey).UserHash("alice", "", "")
	type row struct{ kind, name, category, meta string }
	want := []row{
		{trackskills.KindSkillKnown, "pdf-report", "skill", `{"description":"Makes <PDF> reports","size_bytes":420,"source":"user"}`},
		{trackskills.KindSkillKnown, "superpowers:brainstorming", "skill", `{"description":"Ideas","size_bytes":90,"source":"plugin","plugin":"superpowers"}`},
		{trackskills.KindMCPKnown, "github", "mcp", `{"source":"user"}`},
		{trackskills.KindMCPKnown, "plugin_superpowers_notes", "mcp", `{"source":"plugin"}`},
	}
	for i, ev := range evs {
		got := row{ev.Kind, ev.ToolName, ev.ToolCategory, string(ev.Metadata)}
		if got != want[i] {
			t.Errorf("event %d = %+v, want %+v", i, got, want[i])
		}
		if ev.UserHash != user || ev.Status != trackskills.StatusSuccess || ev.EventID == "" {
			t.Errorf("event %d: user %q status %q id %q, want alice's hash, success and an id", i, ev.UserHash, ev.Status, ev.EventID)
		}
		if ev.MCPServer != "" {
			t.Errorf("event %d: mcp_server %q: an inventory entry is no MCP call", i, ev.MCPServer)
		}
	}
	// user_id in the body names the user when the header does not.
	w = post(srv.Handler(), "/api/skills", `{"user_id":"bob","mcp_servers":[{"name":"linear","source":"project"}]}`)
	if w.Code != http.StatusOK {
		t.Fatalf("code=%d %s, want 200", w.Code, w.Body)
	}
	evs = readStream(t, js)
	if got, want := evs[len(evs)-1].UserHash, ingest.NewHasher(testKey).UserHash("bob", "", ""); got != want {
		t.Errorf("user hash %q, want bob's %q", got, want)
	}
}

func TestServer_SkillsInvalid(t *testing.T) {
	srv, js := MustServer(t, testConfig())
	many := make([]string, ingest.MaxBatchEvents+1)
	for i := range many {
		many[i] = `{"name":"s` + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + `","source":"user"}`
	}
	tests := []struct {
		name, body string
		code       int
		field, msg string
	}{
		{"NotObject", `[1]`, 400, "", "JSON object"},
		{"NotJSON", `{"skills":`, 400, "", "not valid JSON"},
		{"Empty", `{}`, 400, "skills", "nothing to register"},
		{"WrongType", `{"skills":{"name":"x"}}`, 400, "skills", "must not be"},
		{"NoName", `{"skills":[{"source":"user"}]}`, 400, "skills[0].name", "required"},
		{"LongName", `{"skills":[{"name":"` + strings.Repeat("n", 129) + `","source":"user"}]}`, 400, "skills[0].name", "limit is 128"},
		{"ControlName", `{"skills":[{"name":"a\u0007b","source":"user"}]}`, 400, "skills[0].name", "control characters"},
		{"Twice", `{"skills":[{"name":"a","source":"user"},{"name":"a","source":"project"}]}`, 400, "skills[1].name", "listed twice"},
		{"BadSource", `{"skills":[{"name":"a","source":"cloud"}]}`, 400, "skills[0].source", "one of user, project, plugin, dir"},
		{"NoPlugin", `{"skills":[{"name":"p:a","source":"plugin"}]}`, 400, "skills[0].plugin", "required"},
		{"LongDescription", `{"skills":[{"name":"a","source":"user","description":"` + strings.Repeat("d", 1537) + `"}]}`, 400, "skills[0].description", "limit is 1536"},
		{"NegativeSize", `{"skills":[{"name":"a","source":"user","size_bytes":-1}]}`, 400, "skills[0].size_bytes", "between 0"},
		{"MCPLongName", `{"mcp_servers":[{"name":"` + strings.Repeat("m", 122) + `","source":"user"}]}`, 400, "mcp_servers[0].name", "limit is 121"},
		{"MCPBadSource", `{"mcp_servers":[{"name":"m","source":"dir"}]}`, 400, "mcp_servers[0].source", "one of user, local, project, plugin"},
		{"TooMany", `{"skills":[` + strings.Join(many, ",") + `]}`, 413, "", "limit is 1000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := post(srv.Handler(), "/api/skills", tt.body)
			if w.Code != tt.code {
				t.Fatalf("code=%d %s, want %d", w.Code, w.Body, tt.code)
			}
			var resp trackResp
			decode(t, w, &resp)
			if resp.Field != tt.field || !strings.Contains(resp.Error, tt.msg) {
				t.Errorf("field %q error %q, want field %q and %q", resp.Field, resp.Error, tt.field, tt.msg)
			}
		})
	}
	if n := streamMsgs(t, js); n != 0 {
		t.Errorf("%d messages in the stream after refused requests, want 0", n)
	}
}

// Ensure the endpoint sits behind the ingest keys as /api/track does.
func TestServer_SkillsKey(t *testing.T) {
	cfg := testConfig()
	cfg.Keys = []string{"scan-key"}
	srv, _ := MustServer(t, cfg)
	body := `{"skills":[{"name":"a","source":"user"}]}`
	if w := post(srv.Handler(), "/api/skills", body); w.Code != http.StatusUnauthorized {
		t.Errorf("no key: code=%d, want 401", w.Code)
	}
	r := newPost("/api/skills", body)
	r.Header.Set("Authorization", "Bearer scan-key")
	if w := serve(srv.Handler(), r); w.Code != http.StatusOK {
		t.Errorf("with key: code=%d %s, want 200", w.Code, w.Body)
	}
}

// Ensure a stream that cannot store the inventory gets a 503, not a 200.
func TestServer_SkillsStoreFull(t *testing.T) {
	srv, js := MustServer(t, testConfig())
	cfg := ingest.DefaultStreamConfig()
	cfg.MaxBytes, cfg.Given.MaxBytes = 4<<10, true
	if _, err := ingest.EnsureStream(context.Background(), js, cfg); err != nil {
		t.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(3, 4))
	var skills []map[string]any
	for i := range 8 {
		desc := make([]byte, 1000)
		for j := range desc {
			desc[j] = byte('a' + rnd.IntN(26))
		}
		skills = append(skills, map[string]any{"name": "s" + string(rune('a'+i)), "source": "user", "description": string(desc)})
	}
	body, _ := json.Marshal(map[string]any{"skills": skills})
	if w := post(srv.Handler(), "/api/skills", string(body)); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("code=%d %s, want 503", w.Code, w.Body)
	}
}
