package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/trackskills/trackskills"
	"github.com/trackskills/trackskills/claudecode/hookcmd"
	"github.com/trackskills/trackskills/client"
	"github.com/trackskills/trackskills/transcripts"
)

const importSummary = `Imports the history in Claude Code's session transcripts: the tool calls
and model requests they hold, from before tracking was set up.

  trackskills import transcripts [DIR...] [--url URL]

DIR defaults to the projects folder of every Claude Code configuration
folder in CLAUDE_CONFIG_DIR (comma-separated), else ~/.claude/projects.
Every .jsonl file under it is read, the subagents' files too. A call
keeps its tool_use_id as event id, so a second import adds nothing, and a
call the hooks or telemetry already reported is not stored twice.
Durations count from the call to its result, permission wait included.
Malformed lines are counted and skipped. Events go to the batch
endpoint, retried while the server is unavailable. Environment:
TRACKSKILLS_URL, TRACKSKILLS_KEY, TRACKSKILLS_USER (as for the hook).`

// importBatch is how many events go in one request.
const importBatch = client.MaxBatchEvents

// importRetries bounds how often one batch is sent again while the server
// is unavailable, waiting twice as long each time from importRetryWait.
const (
	importRetries   = 8
	importRetryWait = 500 * time.Millisecond
)

func runImport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "transcripts" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprintf(stdout, "Usage: trackskills import transcripts [DIR...] [flags]\n\n%s\n", importSummary)
			return nil
		}
		fmt.Fprintf(stderr, "Usage: trackskills import transcripts [DIR...] [flags]\n\n%s\n", importSummary)
		return errUsage
	}
	f := newPlainFlags("import transcripts [DIR...]", importSummary, stderr)
	url := f.String("url", hookcmd.FirstNonEmpty(getenv("TRACKSKILLS_URL"), hookcmd.DefaultURL), "the Track Skills server")
	dryRun := f.Bool("dry-run", false, "read and count, send nothing")
	timeout := f.Duration("timeout", 30*time.Second, "how long to wait for the server, each request")
	var dirs []string
	for rest := args[1:]; ; {
		if err := f.FlagSet.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return errHelp
			}
			return errUsage
		}
		if f.NArg() == 0 {
			break
		}
		dirs, rest = append(dirs, f.Arg(0)), f.Args()[1:]
	}
	if len(dirs) == 0 {
		var err error
		if dirs, err = transcriptDirs(getenv); err != nil {
			return err
		}
	}
	files, total, err := transcriptFiles(dirs)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		fmt.Fprintf(stdout, "no transcript (.jsonl) under %s: nothing imported\n", strings.Join(dirs, ", "))
		return nil
	}
	imp := &importer{
		client: client.New(client.Config{URL: *url, Key: getenv("TRACKSKILLS_KEY"), Timeout: *timeout,
			Source: trackskills.SourceImport, UserID: hookcmd.New(getenv, io.Discard).User()}),
		dryRun: *dryRun, stderr: stderr,
	}
	bar := importBar(stderr, total)
	start := time.Now()
	var st transcripts.Stats
	for i, path := range files {
		fst, err := imp.file(ctx, path)
		st.Add(fst)
		if bar != nil {
			bar.Describe(fmt.Sprintf("import: file %d/%d, %d events (%.0f/s)", i+1, len(files), imp.events, rate(imp.events, time.Since(start))))
			_ = bar.Set64(st.Bytes) // to stderr: nothing to do about an error
		}
		if err != nil {
			if bar != nil {
				_ = bar.Exit()
				fmt.Fprintln(stderr)
			}
			return fmt.Errorf("import %s: %w (%d events sent before it; run the import again: it adds nothing twice)", path, err, imp.accepted)
		}
	}
	if err := imp.flush(ctx); err != nil {
		return fmt.Errorf("import: %w (%d events sent before it; run the import again: it adds nothing twice)", err, imp.accepted)
	}
	if bar != nil {
		_ = bar.Finish()
	}
	took := time.Since(start)
	fmt.Fprintf(stdout, "read %d files (%.1f MB, %.1f MB/s): %d lines, %d malformed (skipped)\n",
		len(files), float64(st.Bytes)/1e6, float64(st.Bytes)/1e6/max(took.Seconds(), 1e-9), st.Lines, st.Malformed)
	fmt.Fprintf(stdout, "found %d tool calls (%d denied), %d model requests; %d calls without a result yet (not sent)\n",
		st.Calls, st.Denied, st.Requests, st.Unpaired)
	if *dryRun {
		fmt.Fprintf(stdout, "dry run: nothing sent\n")
		return nil
	}
	fmt.Fprintf(stdout, "sent %d events to %s in %s (%.0f events/s): %d accepted, %d refused\n",
		imp.events, *url, took.Round(time.Millisecond), rate(imp.events, took), imp.accepted, len(imp.refused))
	for i, r := range imp.refused {
		if i == 5 {
			fmt.Fprintf(stdout, "  ... and %d more\n", len(imp.refused)-i)
			break
		}
		fmt.Fprintf(stdout, "  refused: %s\n", r)
	}
	return nil
}

// transcriptDirs are the projects folders of Claude Code's configuration
// folders: CLAUDE_CONFIG_DIR's (comma-separated), else ~/.claude's.
func transcriptDirs(getenv func(string) string) ([]string, error) {
	var dirs []string
	for _, d := range strings.Split(getenv("CLAUDE_CONFIG_DIR"), ",") {
		if d = strings.TrimSpace(d); d != "" {
			dirs = append(dirs, filepath.Join(d, "projects"))
		}
	}
	if len(dirs) > 0 {
		return dirs, nil
	}
	home := getenv("HOME")
	if home == "" {
		var err error
		if home, err = os.UserHomeDir(); err != nil {
			return nil, fmt.Errorf("find the home directory: %w", err)
		}
	}
	return []string{filepath.Join(home, ".claude", "projects")}, nil
}

// transcriptFiles lists the .jsonl files under dirs, sorted, and their
// total size.
func transcriptFiles(dirs []string) ([]string, int64, error) {
	var files []string
	var total int64
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || !strings.HasSuffix(d.Name(), ".jsonl") {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			files, total = append(files, path), total+info.Size()
			return nil
		})
		if err != nil {
			return nil, 0, fmt.Errorf("read %s: %w", dir, err)
		}
	}
	slices.Sort(files)
	return files, total, nil
}

// importBar is the progress bar of the bytes read, on a terminal; nil
// elsewhere.
func importBar(w io.Writer, total int64) *progressbar.ProgressBar {
	if !isTerminal(w) {
		return nil
	}
	return progressbar.NewOptions64(total,
		progressbar.OptionSetDescription("import"),
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	)
}

// importer sends the events of the files in batches.
type importer struct {
	client   *client.Client
	dryRun   bool
	stderr   io.Writer
	batch    []client.Event
	events   int64    // made so far
	accepted int64    // the server took
	refused  []string // why the server refused the others
}

func (imp *importer) file(ctx context.Context, path string) (transcripts.Stats, error) {
	f, err := os.Open(path)
	if err != nil {
		return transcripts.Stats{}, err
	}
	defer f.Close()
	return transcripts.Read(f, func(in trackskills.Input) error {
		ev, err := hookcmd.ToClientEvent(in)
		if err != nil {
			return err
		}
		ev.Source = in.Source
		if ms, err := strconv.ParseInt(string(in.Timestamp), 10, 64); err == nil {
			ev.Timestamp = time.UnixMilli(ms).UTC()
		}
		imp.events++
		imp.batch = append(imp.batch, ev)
		if len(imp.batch) >= importBatch {
			return imp.flush(ctx)
		}
		return nil
	})
}

// flush sends the batch, again while the server is unavailable, and
// counts what it took and refused.
func (imp *importer) flush(ctx context.Context) error {
	if len(imp.batch) == 0 || imp.dryRun {
		imp.batch = imp.batch[:0]
		return nil
	}
	wait := importRetryWait
	for attempt := 0; ; attempt++ {
		n, err := imp.client.Send(ctx, imp.batch...)
		if err == nil || !client.IsRetryable(err) || attempt == importRetries {
			imp.accepted += int64(n)
			var ae *client.APIError
			for _, e := range unwrapAll(err) {
				// One event refused: said in the summary. A request
				// refused as a whole (Index -1) stops the import.
				if errors.As(e, &ae) && ae.Status == 400 && ae.Index >= 0 {
					imp.refused = append(imp.refused, ae.Error())
				} else if e != nil {
					return e
				}
			}
			imp.batch = imp.batch[:0]
			return nil
		}
		fmt.Fprintf(imp.stderr, "import: %v; sending again in %s\n", err, wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// unwrapAll lists the errors err joins (err itself when it joins none).
func unwrapAll(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
