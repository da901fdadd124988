package main

// registerRunIdle registers --run-idle-timeout, how long a session may stay
// quiet before its open skill runs end as abandoned (serve, consumer,
// replay: a replay must cut runs as the live consumer did).
func (o *options) registerRunIdle(f *cmdFlags) {
	if f.Lookup("run-idle-timeout") != nil {
		return
	}
	f.duration(&o.runIdle, "run-idle-timeout", o.runIdle,
		"end a skill run as abandoned when its session has no event for this long (a replay should use the live consumer's value)")
}
