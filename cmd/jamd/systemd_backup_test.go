package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBackupUnitsVerify runs `systemd-analyze verify` on the nightly backup's timer and service.
func TestBackupUnitsVerify(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"jamd-backup.service", "jamd-backup.timer"} {
		unit, err := os.ReadFile(filepath.Join("..", "..", "systemd", name))
		if err != nil {
			t.Fatal(err)
		}
		if name == "jamd-backup.service" {
			for _, want := range []string{"Type=oneshot", "User=jamd", "StateDirectory=jamd jamd-backups", "ExecStart=/bin/sh -c 'exec /usr/local/bin/jamd backup "} {
				if !strings.Contains(string(unit), "\n"+want) {
					t.Errorf("%s lacks %q", name, want)
				}
			}
		}
		if err := os.WriteFile(filepath.Join(dir, name), unit, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// jamd.service beside them (After=, Wants=), with ExecStart pointed at a binary that exists.
	unit, err := os.ReadFile(filepath.Join("..", "..", "systemd", "jamd.service"))
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	unit = []byte(strings.Replace(string(unit), "ExecStart=/usr/local/bin/jamd", "ExecStart="+self, 1))
	if err := os.WriteFile(filepath.Join(dir, "jamd.service"), unit, 0o644); err != nil {
		t.Fatal(err)
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("skipping verify: systemd-analyze is not installed (apt-get install systemd)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, analyze, "verify", filepath.Join(dir, "jamd-backup.timer"), filepath.Join(dir, "jamd-backup.service")).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}
