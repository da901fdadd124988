package analytics

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// GroupCount is a count of the users or sessions of one group: a tool, a
// category, a skill, an MCP server, or one day of one of them. In JSON it
// is a number, unless the server's minimum group size K
// (Config.MinGroupSize) hides it: a count from 1 to K-1 is then the string
// "fewer than K", so that a group of one or two people cannot be told
// apart. Zero stays 0, and K of 0 or 1 hides nothing.
//
// A hidden count is held as -K (see Hidden); "fewer than K" unmarshals
// back to it, so that clients in Go can decode every answer. Handlers
// never build one themselves: they call Server.groupCount.
type GroupCount int64

// Hidden reports whether the count is hidden, and the minimum group size
// k that hides it.
func (g GroupCount) Hidden() (k int64, ok bool) {
	if g < 0 {
		return -int64(g), true
	}
	return 0, false
}

const fewerThan = "fewer than "

// String is the count as the API shows it: a number, or "fewer than K".
func (g GroupCount) String() string {
	if k, ok := g.Hidden(); ok {
		return fewerThan + strconv.FormatInt(k, 10)
	}
	return strconv.FormatInt(int64(g), 10)
}

// MarshalJSON writes the count as a number, or a hidden one as the string
// "fewer than K".
func (g GroupCount) MarshalJSON() ([]byte, error) {
	if _, ok := g.Hidden(); ok {
		return strconv.AppendQuote(nil, g.String()), nil
	}
	return strconv.AppendInt(nil, int64(g), 10), nil
}

// UnmarshalJSON reads a whole number, or "fewer than K" as a hidden count.
func (g *GroupCount) UnmarshalJSON(b []byte) error {
	if bytes.HasPrefix(b, []byte(`"`)) {
		s, err := strconv.Unquote(string(b))
		if err != nil {
			return fmt.Errorf("group count: %w", err)
		}
		k, err := strconv.ParseInt(strings.TrimPrefix(s, fewerThan), 10, 64)
		if !strings.HasPrefix(s, fewerThan) || err != nil || k < 2 {
			return fmt.Errorf("group count: %q is neither a number nor \"fewer than K\"", s)
		}
		*g = GroupCount(-k)
		return nil
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("group count: %s is not a whole number", b)
	}
	*g = GroupCount(n)
	return nil
}

// groupCount is n, a count of the users or sessions of one group (a tool,
// a category, a skill, an MCP server, or a day of one), as the API may
// show it: hidden as "fewer than K" when it is above 0 and below the
// minimum group size K. Every handler passes each such count through it;
// totals over every group (the summary without a filter) are not groups
// and stay exact.
func (s *Server) groupCount(n int64) GroupCount {
	if k := int64(s.cfg.MinGroupSize); k > 1 && n > 0 && n < k {
		return GroupCount(-k)
	}
	return GroupCount(n)
}
