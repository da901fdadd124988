package testkit

import "strings"

// CountOurHooks counts, per hook event of a decoded Claude Code
// settings.json, the handlers of type typ ("command" or "http") that
// Track Skills installed: a command that ends in " hook", or a URL that
// ends in /api/hooks/claude-code.
func CountOurHooks(settings map[string]any, typ string) map[string]int {
	out := map[string]int{}
	hooks, _ := settings["hooks"].(map[string]any)
	for event, groups := range hooks {
		for _, g := range groups.([]any) {
			for _, h := range g.(map[string]any)["hooks"].([]any) {
				hm := h.(map[string]any)
				cmd, _ := hm["command"].(string)
				url, _ := hm["url"].(string)
				if hm["type"] == typ && (strings.HasSuffix(cmd, " hook") || strings.HasSuffix(url, "/api/hooks/claude-code")) {
					out[event]++
				}
			}
		}
	}
	return out
}

// OnceEach counts each of events once: what CountOurHooks finds after one
// install of the hook on those events.
func OnceEach(events []string) map[string]int {
	m := make(map[string]int, len(events))
	for _, e := range events {
		m[e] = 1
	}
	return m
}
