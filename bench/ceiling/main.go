// Command ceiling is the "HTTP ceiling" of the ingest benchmarks: an echo v4
// server with the ingest routes (POST /api/track and /api/track/batch) that
// only decodes the JSON events and answers like the real API, with no
// validation, hashing, JetStream or SQLite behind it. Running the same load
// tool against it (trackskills loadgen --url http://127.0.0.1:8090) gives the
// raw HTTP+JSON limit of the machine, the bound that ingest can approach but
// never pass.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"
)

// maxBody is the ingest API's body limit (docs/CONTRACT.md, Ingest API: 1 MiB per batch).
const maxBody = 1 << 20

// event has the fields of an event as a client sends it (docs/CONTRACT.md, The event), so that
// decoding costs what it costs in ingest.
type event struct {
	ToolName          string          `json:"tool_name"`
	ToolCategory      string          `json:"tool_category"`
	Status            string          `json:"status"`
	DurationMS        *int64          `json:"duration_ms"`
	ErrorType         string          `json:"error_type"`
	ErrorMessage      string          `json:"error_message"`
	Metadata          json.RawMessage `json:"metadata"`
	RequestSizeBytes  *int64          `json:"request_size_bytes"`
	ResponseSizeBytes *int64          `json:"response_size_bytes"`
	EventID           string          `json:"event_id"`
	Timestamp         json.RawMessage `json:"timestamp"`
	UserID            string          `json:"user_id"`
	SessionID         string          `json:"session_id"`
	Source            string          `json:"source"`
}

type trackResponse struct {
	Success bool   `json:"success"`
	Message string `json:"message"`
	EventID string `json:"event_id"`
}

type batchResponse struct {
	Success  bool  `json:"success"`
	Accepted int   `json:"accepted"`
	Rejected []any `json:"rejected"`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "ceiling: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("ceiling", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8090", "listen address")
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}

	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.POST("/api/track", track)
	e.POST("/api/track/batch", trackBatch)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(os.Stderr, "ceiling: listening on http://%s\n", ln.Addr())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// readBody reads the whole request body, up to maxBody.
func readBody(c echo.Context) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), c.Request().Body, maxBody))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, echo.NewHTTPError(http.StatusRequestEntityTooLarge, err.Error())
	} else if err != nil {
		return nil, echo.NewHTTPError(http.StatusBadRequest, err.Error())
	}
	return body, nil
}

func track(c echo.Context) error {
	body, err := readBody(c)
	if err != nil {
		return err
	}
	var ev event
	if err := json.Unmarshal(body, &ev); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, err.Error())
	}
	return c.JSON(http.StatusOK, trackResponse{Success: true, Message: "Event tracked", EventID: ev.EventID})
}

func trackBatch(c echo.Context) error {
	body, err := readBody(c)
	if err != nil {
		return err
	}
	var events []event
	if err := json.Unmarshal(body, &events); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, err.Error())
	}
	return c.JSON(http.StatusOK, batchResponse{Success: true, Accepted: len(events), Rejected: []any{}})
}
