package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// keyFile is a key flag whose keys are read again on SIGHUP when its value
// names a file (@file): a rotation without a restart.
type keyFile struct {
	flag    string // the flag's name, for the log
	value   string // the flag's value
	replace func([]string) error
}

// notifyHangup starts catching SIGHUP, before the servers start, so that
// a SIGHUP sent once they answer never kills the process; stop ends it.
func notifyHangup() (ch chan os.Signal, stop func()) {
	ch = make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	return ch, func() { signal.Stop(ch) }
}

// reloadKeys reads the key files again on every signal of hup until ctx
// ends. A file that cannot be read, or that holds no key, changes nothing:
// the keys in use stay, and the error is logged.
func reloadKeys(ctx context.Context, hup <-chan os.Signal, logger *slog.Logger, files ...keyFile) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		reloaded := 0
		for _, kf := range files {
			if !strings.HasPrefix(kf.value, "@") {
				continue
			}
			reloaded++
			keys, err := splitList(kf.value)
			if err == nil {
				err = kf.replace(keys)
			}
			if err != nil {
				logger.Error("reload keys: the keys in use stay", "flag", "--"+kf.flag, "err", err)
				continue
			}
			logger.Info("keys reloaded", "flag", "--"+kf.flag, "file", kf.value[1:], "keys", len(keys))
		}
		if reloaded == 0 {
			logger.Info("sighup: no key file to read again (keys given as @file are read again on SIGHUP)")
		}
	}
}
