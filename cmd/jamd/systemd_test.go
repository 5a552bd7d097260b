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

// TestSystemdUnitVerifies runs `systemd-analyze verify` on systemd/jamd.service (with ExecStart
// pointed at a binary that exists here) and checks the settings the appliance relies on.
func TestSystemdUnitVerifies(t *testing.T) {
	unit, err := os.ReadFile(filepath.Join("..", "..", "systemd", "jamd.service"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Type=notify", "WatchdogSec=", "StateDirectory=jamd", "User=jamd", "AmbientCapabilities=CAP_NET_BIND_SERVICE",
		"Restart=on-failure", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "NoNewPrivileges=yes",
		"RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK", "SystemCallFilter=", "EnvironmentFile=-/etc/default/jamd",
		"ExecStart=/usr/local/bin/jamd serve",
	} {
		if !strings.Contains(string(unit), "\n"+want) {
			t.Errorf("jamd.service lacks %q", want)
		}
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("skipping verify: systemd-analyze is not installed (apt-get install systemd)")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	copyUnit := strings.Replace(string(unit), "ExecStart=/usr/local/bin/jamd", "ExecStart="+self, 1)
	path := filepath.Join(dir, "jamd.service")
	if err := os.WriteFile(path, []byte(copyUnit), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, analyze, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}
