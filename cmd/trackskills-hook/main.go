// Command trackskills-hook is `trackskills hook` in a binary of its own: the
// Claude Code command hook, which runs once per tool call. It links only the
// hook's mapping and the Go client, so it starts in a fraction of the time
// of the whole trackskills binary (nats-server, SQLite, echo and the rest
// initialise at every start). `trackskills hook install` uses it when it
// sits next to trackskills. Usage: trackskills-hook < hook.json, or
// trackskills-hook flush to send the spool now.
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/trackskills/trackskills/claudecode/hookcmd"
)

func main() {
	// No signal handling: trapping SIGTERM costs more than a tenth of the
	// start-up here. A hook killed during its send (at most TRACKSKILLS_TIMEOUT)
	// loses that event; `trackskills hook` traps the signal and spools it.
	ctx := context.Background()
	getenv := hookcmd.WithPluginOptions(os.Getenv) // the plugin's options too
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "flush":
			h := hookcmd.New(getenv, io.Discard)
			sent, left, dropped, err := h.Flush(ctx)
			fmt.Printf("sent %d spooled events to %s; %d left in %s (%d dropped so far, the spool being full)\n",
				sent, h.URL(), left, h.SpoolPath(), dropped)
			if err != nil {
				fmt.Fprintf(os.Stderr, "trackskills-hook: %v\n", err)
				os.Exit(1)
			}
			return
		case "-h", "--help", "help":
			fmt.Println("Usage: trackskills-hook < hook.json | trackskills-hook flush\n\nThe Claude Code command hook of Track Skills; see `trackskills hook --help`.")
			return
		}
	}
	hookcmd.New(getenv, os.Stderr).Run(ctx, os.Stdin) // always exit 0, nothing on stdout
}
