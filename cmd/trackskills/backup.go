package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"

	"github.com/trackskills/trackskills/sql"
)

const backupSummary = `Writes a consistent copy of the SQLite database to --out while serve or
consumer keep writing (SQLite's VACUUM INTO, through a read-only
connection): the database as of one committed batch, in one file of mode
0600. --check then verifies the copy (PRAGMA integrity_check and the
migrations); --check-only FILE verifies an existing copy and writes nothing.
It prints one line: the path, the size, the events and the time taken.`

// runBackup copies the database, or with --check-only verifies a copy.
func runBackup(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	f := newCmdFlags("backup", backupSummary, getenv, stderr)
	o := defaultOptions()
	o.registerData(f)
	var out, checkOnly string
	var check, force bool
	f.StringVar(&out, "out", "", "the file to write the copy to; it must not exist unless --force")
	f.BoolVar(&force, "force", false, "replace an existing --out")
	f.BoolVar(&check, "check", false, "verify the copy after writing it")
	f.StringVar(&checkOnly, "check-only", "", "verify this existing copy instead of writing one")
	if err := f.parse(args); err != nil {
		return err
	}
	start := time.Now()
	if checkOnly != "" {
		if out != "" {
			return errors.New("backup: --check-only and --out exclude each other")
		}
		n, err := sql.Check(ctx, checkOnly)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: ok, %d events, checked in %v\n", checkOnly, n, time.Since(start).Round(time.Millisecond))
		return nil
	}
	if out == "" {
		fmt.Fprintln(stderr, "backup: --out is required")
		return errUsage
	}
	info, err := sql.Backup(ctx, o.dbPath(), out, force)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s exists: choose another --out, or pass --force to replace it", out)
	}
	if err != nil {
		return err
	}
	checked := ""
	if check {
		n, err := sql.Check(ctx, out)
		if err != nil {
			return err
		}
		if n != info.Events {
			return fmt.Errorf("check %s: %d events, the backup wrote %d", out, n, info.Events)
		}
		checked = ", checked"
	}
	fmt.Fprintf(stdout, "%s: %d bytes, %d events in skill_usage_events%s, in %v\n",
		out, info.Bytes, info.Events, checked, time.Since(start).Round(time.Millisecond))
	return nil
}
