package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestReleaseBinariesAreStatic runs scripts/release.sh for linux/amd64 and linux/arm GOARM=6 (the
// Pi Zero build; all five targets take minutes here, so `make release` covers the rest) and
// checks that each binary is a static ELF, that SHA256SUMS matches, and that the amd64 one runs
// and reports the stamped version.
func TestReleaseBinariesAreStatic(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: cross-compiles jamd")
	}
	dist := t.TempDir()
	const ver = "v0.0.0-releasetest"
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join("..", "..", "scripts", "release.sh"), ver)
	cmd.Env = append(os.Environ(), "DIST="+dist, "TARGETS=linux/amd64 linux/arm/6", "DEBS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("release.sh: %v\n%s", err, out)
	}
	bins := map[string]elf.Machine{
		"jamd_" + ver + "_linux_amd64": elf.EM_X86_64,
		"jamd_" + ver + "_linux_armv6": elf.EM_ARM,
	}
	for name, machine := range bins {
		path := filepath.Join(dist, name)
		f, err := elf.Open(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if f.Machine != machine {
			t.Errorf("%s is for %s, want %s", name, f.Machine, machine)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
				t.Errorf("%s is dynamically linked (%s)", name, p.Type)
			}
		}
		f.Close()
		if file, err := exec.LookPath("file"); err == nil {
			out, _ := exec.Command(file, "-b", path).Output()
			if !strings.Contains(string(out), "statically linked") {
				t.Errorf("file says %s is %q", name, out)
			}
		}
	}
	if runtime.GOOS == "linux" && runtime.GOARCH == "amd64" {
		out, err := exec.CommandContext(ctx, filepath.Join(dist, "jamd_"+ver+"_linux_amd64"), "version").Output()
		if err != nil || strings.TrimSpace(string(out)) != ver {
			t.Errorf("jamd version printed %q (%v), want %s", out, err, ver)
		}
	}
	sums, err := os.Open(filepath.Join(dist, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	defer sums.Close()
	seen := 0
	for sc := bufio.NewScanner(sums); sc.Scan(); seen++ {
		sum, name, _ := strings.Cut(sc.Text(), "  ")
		b, err := os.ReadFile(filepath.Join(dist, name))
		if err != nil {
			t.Fatal(err)
		}
		if h := sha256.Sum256(b); hex.EncodeToString(h[:]) != sum {
			t.Errorf("SHA256SUMS is wrong for %s", name)
		}
	}
	if seen != len(bins) {
		t.Errorf("SHA256SUMS has %d lines, want %d", seen, len(bins))
	}
}
