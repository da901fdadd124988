package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// shutdownWithSignals runs closeFn with the shutdown timeout; a second
// SIGINT or SIGTERM cuts it short.
func shutdownWithSignals(timeout time.Duration, logger *slog.Logger, closeFn func(context.Context) error) error {
	logger.Info("shutting down", "timeout", timeout)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	// A repeat within a second is the same request delivered twice: a
	// terminal's Ctrl-C reaches the whole process group, and foreman then
	// sends its own SIGTERM to every process.
	grace := time.Now().Add(time.Second)
	go func() {
		for {
			select {
			case <-sig:
				if time.Now().Before(grace) {
					continue
				}
				logger.Warn("second signal: cutting the shutdown short")
				cancel()
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	err := closeFn(ctx)
	if err == nil {
		logger.Info("stopped")
	}
	return err
}
