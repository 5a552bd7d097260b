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

// TestInstallReadsTheEnvironmentFileWithoutRunningIt: /etc/default/jamd is a systemd
// EnvironmentFile, not shell; install.sh reads its JAMD_* settings as systemd does and runs none
// of it (sourced, "JAMD_NAME=Jam in the rehearsal room" would run a command named "in").
func TestInstallReadsTheEnvironmentFileWithoutRunningIt(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	envFile := filepath.Join(dir, "jamd")
	if err := os.WriteFile(envFile, []byte(strings.Join([]string{
		"# a comment",
		"; another",
		"",
		"JAMD_NAME=Jam in the rehearsal room",
		`  JAMD_ADDR="192.168.1.20:8080"  `,
		"JAMD_PUBLIC_URL='http://jam.local:8080/jam'",
		"JAMD_ALLOWED_ORIGINS=$(touch " + marker + ")",
		"PATH=/nowhere",
		"JAMD_NO_MDNS=true", // no newline at the end
	}, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	script := `eval "$(sed -n '/^read_env_file() {/,/^}/p' "$1")"
read_env_file "$2"
env | grep '^JAMD_' | sort`
	out, err := exec.Command("bash", "-c", script, "bash", filepath.Join("..", "..", "scripts", "install.sh"), envFile).CombinedOutput()
	if err != nil {
		t.Fatalf("read_env_file: %v\n%s", err, out)
	}
	want := strings.Join([]string{
		"JAMD_ADDR=192.168.1.20:8080",
		"JAMD_ALLOWED_ORIGINS=$(touch " + marker + ")",
		"JAMD_NAME=Jam in the rehearsal room",
		"JAMD_NO_MDNS=true",
		"JAMD_PUBLIC_URL=http://jam.local:8080/jam",
	}, "\n") + "\n"
	if string(out) != want {
		t.Errorf("read_env_file exported\n%s\nwant\n%s", out, want)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("read_env_file ran a command substitution from the file")
	}
}

// TestDebPostinst runs the .deb's postinst with stand-ins for systemctl and deb-systemd-helper
// that log their calls, in a mount namespace whose /run is empty (a chroot building a Pi image)
// or has /run/systemd/system (a booted system).
func TestDebPostinst(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: a mount namespace for an empty /run needs root (run the tests as root, as CI does)")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("skipping: util-linux's unshare is not installed")
	}
	postinst, err := filepath.Abs(filepath.Join("..", "..", "scripts", "deb", "postinst.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name       string
		booted     bool   // /run/systemd/system exists
		dsh        bool   // deb-systemd-helper is installed
		oldVersion string // postinst configure's $2: "" on first install
		env        string // stand-ins' behaviour
		want, not  []string
		stderr     string
	}{
		{name: "chroot, first install", dsh: true, env: "WAS_ENABLED=0",
			want: []string{"deb-systemd-helper enable jamd.service"},
			not:  []string{"systemctl daemon-reload", "deb-systemd-invoke"}},
		{name: "chroot, upgrade of a disabled service", dsh: true, oldVersion: "1.0", env: "WAS_ENABLED=1",
			want: []string{"deb-systemd-helper update-state jamd.service"},
			not:  []string{"deb-systemd-helper enable", "systemctl"}},
		{name: "chroot without deb-systemd-helper", oldVersion: "",
			want: []string{"systemctl enable jamd.service"},
			not:  []string{"systemctl daemon-reload", "systemctl start", "systemctl restart"}},
		{name: "booted, first install", booted: true, dsh: true, env: "WAS_ENABLED=0 IS_ENABLED=0",
			want: []string{"deb-systemd-helper enable jamd.service", "systemctl daemon-reload", "deb-systemd-invoke start jamd.service"}},
		{name: "booted, upgrade, restart fails", booted: true, dsh: true, oldVersion: "1.0", env: "WAS_ENABLED=0 IS_ENABLED=0 INVOKE_FAILS=1",
			want:   []string{"deb-systemd-invoke restart jamd.service"},
			stderr: "the service did not restart"},
		{name: "booted, upgrade of a disabled service", booted: true, dsh: true, oldVersion: "1.0", env: "WAS_ENABLED=1 IS_ENABLED=1",
			want: []string{"systemctl try-restart jamd.service"},
			not:  []string{"deb-systemd-helper enable", "deb-systemd-invoke"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			bin := filepath.Join(dir, "bin")
			log := filepath.Join(dir, "calls")
			stubs := map[string]string{
				"getent":             "exit 0",
				"adduser":            "exit 0",
				"deb-systemd-invoke": `[ -z "$INVOKE_FAILS" ]`,
				"systemctl":          `case $1 in is-enabled) exit "${IS_ENABLED:-0}" ;; esac`,
				"deb-systemd-helper": `case $* in *was-enabled*) exit "${WAS_ENABLED:-0}" ;; esac`,
			}
			if !tt.dsh {
				delete(stubs, "deb-systemd-helper")
				delete(stubs, "deb-systemd-invoke")
			}
			if err := os.Mkdir(bin, 0o755); err != nil {
				t.Fatal(err)
			}
			for name, body := range stubs {
				stub := "#!/bin/sh\necho \"" + name + " $*\" >>" + log + "\n" + body + "\n"
				if err := os.WriteFile(filepath.Join(bin, name), []byte(stub), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			setup := "mount -t tmpfs tmpfs /run"
			if tt.booted {
				setup += " && mkdir -p /run/systemd/system"
			}
			script := setup + ` && exec env -i PATH="$1" ` + tt.env + ` /bin/sh "$2" configure "$3"`
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, "unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", bin, postinst, tt.oldVersion)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("postinst: %v\n%s", err, stderr.String())
			}
			b, _ := os.ReadFile(log)
			calls := string(b)
			for _, w := range tt.want {
				if !strings.Contains(calls, w+"\n") {
					t.Errorf("no %q in the calls:\n%s", w, calls)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(calls, n) {
					t.Errorf("%q in the calls:\n%s", n, calls)
				}
			}
			if tt.stderr != "" && !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tt.stderr)
			}
		})
	}
}
