package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/trackskills/trackskills/claudecode/hookcmd"
)

// The user services that run `trackskills relay`.
const (
	systemdUnit  = "trackskills-relay.service"
	launchdLabel = "dev.trackskills.relay"
)

// relaySetup is what hook install --relay sets up beside the hooks.
type relaySetup struct {
	install, dryRun, noStart bool
	service                  string // auto, systemd, launchd, none
	server, listen, key      string
	// home and exe are the user's home and the binary the service runs
	// ("" for this user's and this binary).
	home, exe string
}

// relayFiles are the files and commands of one kind of service.
type relayFiles struct {
	unitPath, keyPath string
	unit              []byte
	start, stop       [][]string
}

func (r relaySetup) files() (relayFiles, error) {
	home, exe := r.home, r.exe
	if home == "" {
		var err error
		if home, err = os.UserHomeDir(); err != nil {
			return relayFiles{}, fmt.Errorf("find the home directory: %w", err)
		}
	}
	if exe == "" {
		exe = "trackskills"
		if p, err := os.Executable(); err == nil && !strings.Contains(p, "go-build") && !strings.HasSuffix(p, ".test") {
			exe = p
		}
	}
	f := relayFiles{keyPath: filepath.Join(home, ".config", "trackskills", "relay.key")}
	args := []string{exe, "relay", "--url", r.server, "--listen", r.listen}
	if r.key != "" {
		args = append(args, "--key-file", f.keyPath)
	}
	switch r.service {
	case "systemd":
		f.unitPath = filepath.Join(home, ".config", "systemd", "user", systemdUnit)
		quoted := make([]string, len(args))
		for i, a := range args {
			quoted[i] = systemdQuote(a)
		}
		f.unit = fmt.Appendf(nil, `[Unit]
Description=Track Skills relay: Claude Code's hook events to %s
After=network-online.target

[Service]
ExecStart=%s
Restart=on-failure
RestartSec=2

[Install]
WantedBy=default.target
`, strings.ReplaceAll(r.server, "%", "%%"), strings.Join(quoted, " "))
		f.start = [][]string{{"systemctl", "--user", "daemon-reload"}, {"systemctl", "--user", "enable", "--now", systemdUnit}}
		f.stop = [][]string{{"systemctl", "--user", "disable", "--now", systemdUnit}}
	case "launchd":
		f.unitPath = filepath.Join(home, "Library", "LaunchAgents", launchdLabel+".plist")
		var b bytes.Buffer
		b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>Label</key><string>` + launchdLabel + `</string>
  <key>ProgramArguments</key>
  <array>
`)
		for _, a := range args {
			b.WriteString("    <string>" + xmlText(a) + "</string>\n")
		}
		b.WriteString(`  </array>
  <key>RunAtLoad</key><true/>
  <key>KeepAlive</key><true/>
  <key>StandardErrorPath</key><string>` + xmlText(filepath.Join(home, "Library", "Logs", "trackskills-relay.log")) + `</string>
</dict>
</plist>
`)
		f.unit = b.Bytes()
		domain := "gui/" + strconv.Itoa(os.Getuid())
		f.start = [][]string{{"launchctl", "bootout", domain + "/" + launchdLabel}, {"launchctl", "bootstrap", domain, f.unitPath}}
		f.stop = [][]string{{"launchctl", "bootout", domain + "/" + launchdLabel}}
	case "none":
	default:
		return relayFiles{}, fmt.Errorf("--service %q: want systemd, launchd, none or auto", r.service)
	}
	return f, nil
}

// systemdQuote quotes an ExecStart argument that needs it.
func systemdQuote(a string) string {
	if a != "" && !strings.ContainsAny(a, " \t\"'\\$%;") {
		return a
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "$", "$$", "%", "%%")
	return `"` + r.Replace(a) + `"`
}

func xmlText(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// setUpRelayService writes (or, uninstalling, removes) the relay's user
// service and its key file, and starts (or stops) it unless noStart; with
// dryRun it prints what it would do.
func setUpRelayService(stdout io.Writer, r relaySetup) error {
	if r.service == "auto" {
		switch runtime.GOOS {
		case "linux":
			r.service = "systemd"
		case "darwin":
			r.service = "launchd"
		default:
			r.service = "none"
		}
	}
	f, err := r.files()
	if err != nil {
		return err
	}
	if r.service == "none" {
		if r.install {
			fmt.Fprintf(stdout, "no user service: run the relay yourself, e.g. trackskills relay --url %s --listen %s\n", r.server, r.listen)
		} else {
			fmt.Fprintln(stdout, "no user service to remove: stop the relay you started yourself (trackskills relay), if it runs")
		}
		return nil
	}
	commands := f.stop
	if r.install {
		commands = f.start
	}
	if r.dryRun {
		if r.install {
			if r.key != "" {
				fmt.Fprintf(stdout, "would write %s (mode 0600): TRACKSKILLS_KEY, for the relay\n", f.keyPath)
			}
			fmt.Fprintf(stdout, "would write %s:\n%s", f.unitPath, f.unit)
		} else {
			fmt.Fprintf(stdout, "would remove %s and %s\n", f.unitPath, f.keyPath)
		}
		if !r.noStart {
			for _, c := range commands {
				fmt.Fprintf(stdout, "would run: %s\n", strings.Join(c, " "))
			}
		}
		return nil
	}
	if !r.install {
		if r.noStart {
			for _, c := range commands {
				fmt.Fprintf(stdout, "to stop it: %s\n", strings.Join(c, " "))
			}
		} else {
			runService(stdout, commands)
		}
		for _, p := range []string{f.unitPath, f.keyPath} {
			if err := os.Remove(p); err == nil {
				fmt.Fprintf(stdout, "removed %s\n", p)
			} else if !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("remove %s: %w", p, err)
			}
		}
		return nil
	}
	if r.key != "" {
		if err := hookcmd.WriteFileAtomic(f.keyPath, []byte(r.key+"\n")); err != nil { // 0600 in a 0700 dir
			return fmt.Errorf("write %s: %w", f.keyPath, err)
		}
		fmt.Fprintf(stdout, "wrote %s (mode 0600)\n", f.keyPath)
	}
	if err := os.MkdirAll(filepath.Dir(f.unitPath), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(f.unitPath), err)
	}
	if err := hookcmd.WriteFileAtomic(f.unitPath, f.unit); err != nil {
		return fmt.Errorf("write %s: %w", f.unitPath, err)
	}
	if err := os.Chmod(f.unitPath, 0o644); err != nil {
		return fmt.Errorf("chmod %s: %w", f.unitPath, err)
	}
	fmt.Fprintf(stdout, "wrote %s\n", f.unitPath)
	if r.noStart {
		for _, c := range commands {
			fmt.Fprintf(stdout, "to start it: %s\n", strings.Join(c, " "))
		}
		return nil
	}
	runService(stdout, commands)
	return nil
}

// runService runs the service manager's commands; a failure is told, with
// the command to run by hand, and does not fail the install (the settings
// are written, and the relay can be started later).
func runService(stdout io.Writer, commands [][]string) {
	for i, c := range commands {
		out, err := exec.Command(c[0], c[1:]...).CombinedOutput()
		if err != nil && !(c[0] == "launchctl" && c[1] == "bootout" && i == 0 && len(commands) > 1) {
			fmt.Fprintf(stdout, "%s failed (%v): %s\nrun it by hand once the session's service manager is up\n",
				strings.Join(c, " "), err, strings.TrimSpace(string(out)))
			return
		}
		fmt.Fprintf(stdout, "ran: %s\n", strings.Join(c, " "))
	}
}
