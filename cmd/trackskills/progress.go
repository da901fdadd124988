package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/trackskills/trackskills/consumer"
)

// replayBarEvery is how often replay updates its progress bar.
const replayBarEvery = 200 * time.Millisecond

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// replayProgress shows a replay's progress on stderr: a bar with the
// messages read of the range, the events, their rate and the time left on
// a terminal; a line every replayProgressEvery otherwise.
type replayProgress struct {
	w      io.Writer
	ndjson bool                     // the counts of an NDJSON replay: written, not inserted
	every  time.Duration            // how often report wants to be called
	bar    *progressbar.ProgressBar // on a terminal, once the range is known
	tty    bool
}

func newReplayProgress(w io.Writer, tty, ndjson bool) *replayProgress {
	p := &replayProgress{w: w, ndjson: ndjson, tty: tty, every: replayProgressEvery}
	if tty {
		p.every = replayBarEvery
	}
	return p
}

// report shows the counts so far.
func (p *replayProgress) report(st consumer.ReplayStats) {
	if !p.tty {
		if p.ndjson {
			fmt.Fprintf(p.w, "replay: %d messages read, up to stream seq %d: %d written, %d dead-lettered (%.0f events/s)\n",
				st.Messages, st.LastSeq, st.Inserted, st.DeadLetters, rate(st.Events, st.Elapsed))
			return
		}
		fmt.Fprintf(p.w, "replay: %d messages read, up to stream seq %d: %d inserted, %d already present, %d dead-lettered (%.0f events/s)\n",
			st.Messages, st.LastSeq, st.Inserted, st.Ignored, st.DeadLetters, rate(st.Events, st.Elapsed))
		return
	}
	desc := fmt.Sprintf("replay: %d events (%.0f/s)", st.Events, rate(st.Events, st.Elapsed))
	if p.bar == nil {
		if st.Total == 0 {
			return
		}
		p.bar = progressbar.NewOptions64(st.Total,
			progressbar.OptionSetDescription(desc),
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetWidth(30),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("msg"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionThrottle(replayBarEvery),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(p.w) }),
		)
	}
	_ = p.bar.Set64(st.Messages) // writing to stderr: nothing to do about an error
	p.bar.Describe(desc)         // renders now
}

// finish ends the bar before the summary: full when the replay read its
// range, as it stands when err stopped it.
func (p *replayProgress) finish(st consumer.ReplayStats, err error) {
	if p.bar == nil {
		return
	}
	p.bar.Describe(fmt.Sprintf("replay: %d events", st.Events))
	if err != nil {
		_ = p.bar.Set64(st.Messages)
		_ = p.bar.Exit()
		return
	}
	if st.Messages < st.Total { // the range ended early (--until)
		p.bar.ChangeMax64(max(st.Messages, 1))
	}
	_ = p.bar.Finish()
}
