package main

import "fmt"

// registerMinGroupSize registers --min-group-size, the smallest group whose
// count of users or sessions the analytics answers exactly (serve,
// analytics).
func (o *options) registerMinGroupSize(f *cmdFlags) {
	f.IntVar(&o.minGroupSize, "min-group-size", o.minGroupSize,
		"smallest group (a tool, category, skill or MCP server) whose count of users or sessions the analytics shows; a smaller count above 0 is answered as \"fewer than K\" (1 = off)")
}

// minGroupSizeConfig checks --min-group-size.
func (o *options) minGroupSizeConfig() (int, error) {
	if o.minGroupSize < 1 {
		return 0, fmt.Errorf("--min-group-size must be at least 1 (1 is off), not %d", o.minGroupSize)
	}
	return o.minGroupSize, nil
}
