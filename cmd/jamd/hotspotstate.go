package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"jamd/appliance"
)

// How `jamd serve` knows that its hotspot is up: `jamd hotspot up` writes hotspot.json (nothing
// secret in it) into the data dir next to hotspot-password (0600), and `down` removes it. serve
// reads both every addrPoll, and believes the hotspot is up while the file is there and the
// address it names is on one of this machine's interfaces: after a reboot without --on-boot the
// file may still be there, but the address is not.

// hotspotState is hotspot.json.
type hotspotState struct {
	SSID      string `json:"ssid"`
	Interface string `json:"interface"`
	Address   string `json:"address"` // the box's address on the hotspot
	OnBoot    bool   `json:"onBoot"`
}

func (s hotspotState) encode() string {
	b, _ := json.MarshalIndent(s, "", "  ")
	return string(b) + "\n"
}

func statePath(dataDir string) string    { return filepath.Join(dataDir, "hotspot.json") }
func passwordPath(dataDir string) string { return filepath.Join(dataDir, "hotspot-password") }

// readHotspotState reads hotspot.json; a missing file is fs.ErrNotExist.
func readHotspotState(dataDir string) (hotspotState, error) {
	var st hotspotState
	b, err := os.ReadFile(statePath(dataDir))
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("%s is not what jamd hotspot up writes: %w", statePath(dataDir), err)
	}
	return st, nil
}

func readPassword(dataDir string) (string, error) {
	b, err := os.ReadFile(passwordPath(dataDir))
	if err != nil {
		return "", err
	}
	pw := strings.TrimSpace(string(b))
	if err := validPassword(pw); err != nil {
		return "", fmt.Errorf("%s: %w", passwordPath(dataDir), err)
	}
	return pw, nil
}

// loadHotspot is the hotspot as `jamd serve` sees it now (see above).
func loadHotspot(dataDir string) (appliance.Hotspot, bool) {
	st, err := readHotspotState(dataDir)
	if err != nil {
		return appliance.Hotspot{}, false
	}
	addr, err := netip.ParseAddr(st.Address)
	if err != nil || !hasLocalAddr(addr) {
		return appliance.Hotspot{}, false
	}
	pw, err := readPassword(dataDir)
	if err != nil {
		return appliance.Hotspot{}, false
	}
	// Port 80: jamd answers there on the hotspot whatever its own port (hotspotPort80).
	typeURL := "http://" + appliance.HotspotHostName + "/"
	return appliance.Hotspot{SSID: st.SSID, Password: pw, Address: addr, TypeURL: typeURL}, true
}

func hasLocalAddr(ip netip.Addr) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	return slices.ContainsFunc(addrs, func(a net.Addr) bool {
		p, err := netip.ParsePrefix(a.String())
		return err == nil && p.Addr().Unmap() == ip.Unmap()
	})
}

// dnsmasqConfig is the snippet NetworkManager's shared-mode dnsmasq reads (it reads
// dnsmasq-shared.d only for shared connections, so only phones on the hotspot ever get these
// answers): the name to type, and the phones' connectivity probes, resolve to the box; Windows'
// DNS probe gets the address it expects. Every other name is resolved as usual (upstream, when
// the box has an uplink), so a box that shares real internet still does.
func dnsmasqConfig(addr string) string {
	var b strings.Builder
	b.WriteString("# Written by `jamd hotspot up`, removed by `jamd hotspot down`. NetworkManager's dnsmasq\n" +
		"# reads this directory for shared (hotspot) connections only.\n")
	fmt.Fprintf(&b, "address=/%s/%s\n", appliance.HotspotHostName, addr)
	hosts := appliance.ProbeHosts()
	slices.Sort(hosts)
	for _, h := range hosts {
		fmt.Fprintf(&b, "address=/%s/%s\n", h, addr)
	}
	fmt.Fprintf(&b, "address=/%s/%s\n", appliance.WindowsDNSProbe, appliance.WindowsDNSProbeIP)
	return b.String()
}

// files is where `jamd hotspot` writes; tests record instead.
type files interface {
	WriteFile(path string, data []byte, mode os.FileMode) error
	Remove(path string) error
}

// osFiles writes real files. A new file gets the owner of its directory, so that files root
// writes into the service's data dir (/var/lib/jamd, the jamd user's) stay readable by jamd.
type osFiles struct{}

func (osFiles) WriteFile(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cannot create %s: %w", dir, errors.Unwrap(err))
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, errors.Unwrap(err))
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, errors.Unwrap(err))
	}
	if st, err := os.Stat(dir); err == nil {
		if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != os.Geteuid() {
			if err := os.Chown(tmp, int(sys.Uid), int(sys.Gid)); err != nil {
				return fmt.Errorf("cannot hand %s to the owner of %s: %w", path, dir, errors.Unwrap(err))
			}
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, errors.Unwrap(err))
	}
	return nil
}

func (osFiles) Remove(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cannot remove %s: %w", path, errors.Unwrap(err))
	}
	return nil
}
