package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/skillscan"
)

// The sources an inventory entry may name (docs/CONTRACT.md, Skill
// inventory).
var (
	skillSources = []string{skillscan.SourceUser, skillscan.SourceProject, skillscan.SourcePlugin, skillscan.SourceDir}
	mcpSources   = []string{skillscan.SourceUser, skillscan.SourceLocal, skillscan.SourceProject, skillscan.SourcePlugin}
)

// maxMCPServerName leaves room for the mcp__<server>__ of a tool name.
const maxMCPServerName = trackskills.MaxToolName - len("mcp____")

// maxSkillFileBytes bounds size_bytes: a SKILL.md is a text file.
const maxSkillFileBytes = 1 << 40

// inventoryRequest is the body of POST /api/skills.
type inventoryRequest struct {
	Skills     []inventorySkill `json:"skills"`
	MCPServers []inventoryMCP   `json:"mcp_servers"`
	UserID     string           `json:"user_id"`
}

type inventorySkill struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	SizeBytes   *int64 `json:"size_bytes"`
	Source      string `json:"source"`
	Plugin      string `json:"plugin"`
}

type inventoryMCP struct {
	Name   string `json:"name"`
	Source string `json:"source"`
}

// SkillMeta is the metadata of a skill_known event: what the scan read of
// the skill.
type SkillMeta struct {
	Description string `json:"description"`
	SizeBytes   int64  `json:"size_bytes"`
	Source      string `json:"source"`
	Plugin      string `json:"plugin,omitempty"`
}

// MCPMeta is the metadata of an mcp_known event.
type MCPMeta struct {
	Source string `json:"source"`
}

type inventoryResponse struct {
	Success    bool `json:"success"`
	Skills     int  `json:"skills"`
	MCPServers int  `json:"mcp_servers"`
}

// handleSkills registers the skills and MCP servers a scan found
// (trackskills skills scan): one skill_known or mcp_known event per entry,
// published together and answered 200 once the stream stored them.
func (s *Server) handleSkills(c echo.Context) error {
	if !jsonType(mediaType(c)) {
		return errUnsupportedType
	}
	buf, err := s.readBody(c, MaxBatchBytes)
	if err != nil {
		return err
	}
	var req inventoryRequest
	err = decodeInventory(buf.Bytes(), &req)
	s.bufs.Put(buf)
	if err != nil {
		return err
	}
	if n := len(req.Skills) + len(req.MCPServers); n == 0 {
		return &trackskills.FieldError{Field: "skills", Message: "nothing to register: send skills or mcp_servers"}
	} else if n > MaxBatchEvents {
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge,
			fmt.Sprintf("%d skills and MCP servers; the limit is %d a request", n, MaxBatchEvents))
	}
	userID := c.Request().Header.Get(UserHeader)
	if userID == "" {
		userID = req.UserID
	}
	now := s.now()
	events := make([]trackskills.Event, 0, len(req.Skills)+len(req.MCPServers))
	seen := map[string]bool{}
	for i, sk := range req.Skills {
		in, err := skillInput(sk, fmt.Sprintf("skills[%d]", i), seen)
		if err != nil {
			return err
		}
		in.UserID = userID
		ev, err := s.prepare(c, &in, now)
		if err != nil {
			return inventoryErr(fmt.Sprintf("skills[%d]", i), err)
		}
		events = append(events, ev)
	}
	clear(seen)
	for i, m := range req.MCPServers {
		in, err := mcpInput(m, fmt.Sprintf("mcp_servers[%d]", i), seen)
		if err != nil {
			return err
		}
		in.UserID = userID
		ev, err := s.prepare(c, &in, now)
		if err != nil {
			return inventoryErr(fmt.Sprintf("mcp_servers[%d]", i), err)
		}
		events = append(events, ev)
	}
	if err := s.pub.Publish(c.Request().Context(), events); err != nil {
		return &eventsError{events: len(events), err: err}
	}
	s.accepted(len(events))
	return c.JSON(http.StatusOK, inventoryResponse{Success: true, Skills: len(req.Skills), MCPServers: len(req.MCPServers)})
}

// decodeInventory parses the body of POST /api/skills.
func decodeInventory(body []byte, req *inventoryRequest) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return &trackskills.FieldError{Message: `body must be a JSON object: {"skills":[{"name":...}],"mcp_servers":[{"name":...}]}`}
	}
	if err := json.Unmarshal(body, req); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return &trackskills.FieldError{Field: te.Field, Message: fmt.Sprintf("must not be a JSON %s", te.Value)}
		}
		return &trackskills.FieldError{Message: "body is not valid JSON: " + err.Error()}
	}
	return nil
}

// inventoryErr names the entry of a validation error.
func inventoryErr(entry string, err error) error {
	var fe *trackskills.FieldError
	if errors.As(err, &fe) {
		field := fe.Field
		if field == "tool_name" {
			field = "name"
		}
		return &trackskills.FieldError{Field: entry + "." + field, Message: fe.Message}
	}
	return err
}

// skillInput checks one skill of the inventory and makes its event.
func skillInput(sk inventorySkill, entry string, seen map[string]bool) (trackskills.Input, error) {
	var in trackskills.Input
	if err := checkName(sk.Name, trackskills.MaxToolName, entry, seen); err != nil {
		return in, err
	}
	if err := checkSource(sk.Source, skillSources, entry); err != nil {
		return in, err
	}
	if n := utf8.RuneCountInString(sk.Description); n > skillscan.MaxDescription {
		return in, &trackskills.FieldError{Field: entry + ".description",
			Message: fmt.Sprintf("is %d characters long; the limit is %d", n, skillscan.MaxDescription)}
	}
	meta := SkillMeta{Description: skillscan.CleanDescription(sk.Description), Source: sk.Source, Plugin: sk.Plugin}
	if sk.SizeBytes != nil {
		if *sk.SizeBytes < 0 || *sk.SizeBytes > maxSkillFileBytes {
			return in, &trackskills.FieldError{Field: entry + ".size_bytes", Message: fmt.Sprintf("must be between 0 and %d", int64(maxSkillFileBytes))}
		}
		meta.SizeBytes = *sk.SizeBytes
	}
	if n := utf8.RuneCountInString(sk.Plugin); n > trackskills.MaxToolName || strings.ContainsFunc(sk.Plugin, isControl) {
		return in, &trackskills.FieldError{Field: entry + ".plugin", Message: fmt.Sprintf("must be at most %d characters, without control characters", trackskills.MaxToolName)}
	}
	if sk.Source == skillscan.SourcePlugin && sk.Plugin == "" {
		return in, &trackskills.FieldError{Field: entry + ".plugin", Message: "is required for a plugin's skill"}
	}
	in = trackskills.Input{ToolName: sk.Name, ToolCategory: "skill", Status: trackskills.StatusSuccess,
		Kind: trackskills.KindSkillKnown, Metadata: metaJSON(meta)}
	return in, nil
}

// mcpInput checks one MCP server of the inventory and makes its event.
func mcpInput(m inventoryMCP, entry string, seen map[string]bool) (trackskills.Input, error) {
	var in trackskills.Input
	if err := checkName(m.Name, maxMCPServerName, entry, seen); err != nil {
		return in, err
	}
	if err := checkSource(m.Source, mcpSources, entry); err != nil {
		return in, err
	}
	in = trackskills.Input{ToolName: m.Name, ToolCategory: "mcp", Status: trackskills.StatusSuccess,
		Kind: trackskills.KindMCPKnown, Metadata: metaJSON(MCPMeta{Source: m.Source})}
	return in, nil
}

func checkName(name string, limit int, entry string, seen map[string]bool) error {
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		return &trackskills.FieldError{Field: entry + ".name", Message: "is required"}
	case n > limit:
		return &trackskills.FieldError{Field: entry + ".name", Message: fmt.Sprintf("is %d characters long; the limit is %d", n, limit)}
	case seen[name]:
		return &trackskills.FieldError{Field: entry + ".name", Message: fmt.Sprintf("%q is listed twice", trackskills.Clip(name))}
	}
	seen[name] = true
	return nil
}

func checkSource(source string, allowed []string, entry string) error {
	if slices.Contains(allowed, source) {
		return nil
	}
	return &trackskills.FieldError{Field: entry + ".source",
		Message: fmt.Sprintf("must be one of %s, not %q", strings.Join(allowed, ", "), trackskills.Clip(source))}
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) }

// metaJSON is v as compact JSON without HTML escapes, so that a
// description of MaxDescription characters stays within MaxMetadata.
func metaJSON(v any) json.RawMessage {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // structs of strings and integers always encode
	return bytes.TrimRight(buf.Bytes(), "\n")
}
