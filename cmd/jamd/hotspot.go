package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

// hotspotConfig is everything `jamd hotspot` can be told, from flags or JAMD_HOTSPOT_* variables.
type hotspotConfig struct {
	DataDir  string // where the password and the state file are kept
	SSID     string // the network's name; "Jam on <hostname>" (at most 32 bytes) when empty
	Password string // WPA2 passphrase; generated once and kept in the data dir when empty
	Band     string // "bg" (2.4 GHz, every phone) or "a" (5 GHz)
	Channel  int    // 0: NetworkManager picks one
	Ifname   string // the Wi-Fi device; the first one NetworkManager lists when empty
	OnBoot   bool   // keep the connection in NetworkManager and start it at every boot
	DryRun   bool   // print the commands and files instead of running and writing them
}

// What `jamd hotspot` sets up: one NetworkManager connection in shared mode (NetworkManager runs
// DHCP and DNS for it with its own dnsmasq, which reads dnsmasq-shared.d) at a fixed address.
const (
	hotspotConnection = "jamd-hotspot"
	hotspotAddress    = "10.42.0.1" // NetworkManager's own default for shared mode, pinned
	hotspotPrefix     = 24
	dnsmasqSnippet    = "/etc/NetworkManager/dnsmasq-shared.d/jamd.conf"
)

func newHotspotCommand(getenv env, stdout io.Writer) *cobra.Command {
	var cfg hotspotConfig
	cmd := &cobra.Command{
		Use:   "hotspot up|down|status",
		Short: "Make this machine a Wi-Fi access point for jamd (NetworkManager's shared mode)",
		Long: "jamd hotspot up makes this machine's Wi-Fi an access point that phones join by scanning a\n" +
			"code (jamd qr --wifi; jamd serve prints it too), with http://jam/ resolving to the box.\n" +
			"It needs root and NetworkManager (Raspberry Pi OS Bookworm and later, most desktop Linux).\n" +
			"down removes it; status says whether it is up. See docs/gig.md.",
		ValidArgs: []string{"up", "down", "status"},
		Args:      cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := bindEnv(cmd.Flags(), prefixedEnv(getenv, "JAMD_HOTSPOT_", "data-dir")); err != nil {
				return err
			}
			if cfg.DataDir == "" {
				cfg.DataDir = hotspotDataDir(getenv)
			}
			h := &hotspot{cfg: cfg, run: execRunner{}, out: stdout, euid: os.Geteuid(), snippet: dnsmasqSnippet, fs: osFiles{}}
			switch args[0] {
			case "up":
				return h.up(cmd.Context())
			case "down":
				return h.down(cmd.Context())
			default:
				return h.status(cmd.Context())
			}
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", "", "jamd's data dir, where the password is kept (default: as jamd serve's; /var/lib/jamd for root when it exists)")
	f.StringVar(&cfg.SSID, "ssid", "", `the network's name (default "Jam on <hostname>")`)
	f.StringVar(&cfg.Password, "password", "", "the WPA2 password, 8 to 63 characters (default: generated once, kept in <data-dir>/hotspot-password)")
	f.StringVar(&cfg.Band, "band", "bg", "bg (2.4 GHz: every phone joins) or a (5 GHz)")
	f.IntVar(&cfg.Channel, "channel", 0, "Wi-Fi channel (default: NetworkManager picks)")
	f.StringVar(&cfg.Ifname, "ifname", "", "the Wi-Fi device (default: the first one NetworkManager lists)")
	f.BoolVar(&cfg.OnBoot, "on-boot", false, "keep the hotspot in NetworkManager and start it at every boot")
	f.BoolVar(&cfg.DryRun, "dry-run", false, "print what would be run and written, change nothing")
	return cmd
}

// prefixedEnv reads JAMD_<FLAG> as JAMD_HOTSPOT_<FLAG>, except for the flags shared with serve.
func prefixedEnv(getenv env, prefix string, shared ...string) env {
	return func(name string) string {
		flag, _ := strings.CutPrefix(name, "JAMD_")
		for _, s := range shared {
			if flag == strings.ToUpper(strings.ReplaceAll(s, "-", "_")) {
				return getenv(name)
			}
		}
		return getenv(prefix + flag)
	}
}

// hotspotDataDir is serve's data dir, except that root (who runs `sudo jamd hotspot`) means the
// installed service's /var/lib/jamd when it exists and nothing else was said.
func hotspotDataDir(getenv env) string {
	if getenv("STATE_DIRECTORY") == "" && os.Geteuid() == 0 {
		if st, err := os.Stat(serviceDataDir); err == nil && st.IsDir() {
			return serviceDataDir
		}
	}
	return defaultDataDir(getenv)
}

const serviceDataDir = "/var/lib/jamd"

// runner runs a command and returns its standard output. A command that ran and failed is a
// *commandError; one that is not installed wraps exec.ErrNotFound.
type runner interface {
	Run(ctx context.Context, name string, args ...string) (string, error)
}

// commandError is a command that exited with a non-zero status, with what it said on stderr.
type commandError struct {
	Exit   int
	Stderr string
}

func (e *commandError) Error() string {
	return fmt.Sprintf("exit status %d: %s", e.Exit, strings.TrimSpace(e.Stderr))
}

type execRunner struct{}

func (execRunner) Run(ctx context.Context, name string, args ...string) (string, error) {
	var stderr strings.Builder
	c := exec.CommandContext(ctx, name, args...)
	c.Stderr = &stderr
	out, err := c.Output()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return string(out), &commandError{Exit: exit.ExitCode(), Stderr: stderr.String()}
	}
	return string(out), err
}

// hotspot carries out `jamd hotspot`: queries run through run even with --dry-run (they change
// nothing); changes are printed instead when cfg.DryRun.
type hotspot struct {
	cfg     hotspotConfig
	run     runner
	out     io.Writer
	euid    int
	snippet string // where NetworkManager's shared dnsmasq reads our DNS names
	fs      files
}

// device is one line of `nmcli -t -f DEVICE,TYPE,STATE,CONNECTION device`.
type device struct{ name, typ, state, connection string }

func (h *hotspot) up(ctx context.Context) error {
	cfg := h.cfg
	if err := cfg.validate(); err != nil {
		return err
	}
	if err := h.needRoot("up"); err != nil {
		return err
	}
	dev, err := h.wifiDevice(ctx)
	if err != nil {
		return err
	}
	ssid := cfg.SSID
	if ssid == "" {
		ssid = defaultSSID()
	}
	pw, err := h.password()
	if err != nil {
		return err
	}
	exists, err := h.connectionExists(ctx)
	if err != nil {
		return err
	}
	if err := h.write(h.snippet, dnsmasqConfig(hotspotAddress), 0o644); err != nil {
		return err
	}
	if exists {
		if err := h.change(ctx, pw, "connection", "delete", hotspotConnection); err != nil {
			return h.nmError(err, dev.name)
		}
	}
	if err := h.change(ctx, pw, addArgs(cfg, dev.name, ssid, pw)...); err != nil {
		return h.nmError(err, dev.name)
	}
	if err := h.change(ctx, pw, "connection", "up", hotspotConnection); err != nil {
		return h.nmError(err, dev.name)
	}
	st := hotspotState{SSID: ssid, Interface: dev.name, Address: hotspotAddress, OnBoot: cfg.OnBoot}
	if err := h.write(statePath(cfg.DataDir), st.encode(), 0o600); err != nil {
		return err
	}
	if cfg.DryRun {
		return nil
	}
	boot := "until the next reboot (--on-boot keeps it)"
	if cfg.OnBoot {
		boot = "and at every boot"
	}
	fmt.Fprintf(h.out, "jamd's Wi-Fi %q is up on %s, %s.\n"+
		"jamd serve shows its QR code next to the jam's; jamd qr --wifi prints it. The password is in %s.\n",
		ssid, dev.name, boot, passwordPath(cfg.DataDir))
	return nil
}

func (h *hotspot) down(ctx context.Context) error {
	if err := h.needRoot("down"); err != nil {
		return err
	}
	exists, err := h.connectionExists(ctx)
	if err != nil && !errors.Is(err, errNoNetworkManager) {
		return err
	}
	if exists {
		if err := h.change(ctx, "", "connection", "delete", hotspotConnection); err != nil && !strings.Contains(stderrOf(err), "unknown connection") {
			return h.nmError(err, "")
		}
	}
	// The password stays: phones that joined once rejoin the next time it is up.
	for _, p := range []string{h.snippet, statePath(h.cfg.DataDir)} {
		if err := h.remove(p); err != nil {
			return err
		}
	}
	if !h.cfg.DryRun {
		fmt.Fprintln(h.out, "jamd's Wi-Fi is down; the Wi-Fi device is free for other networks.")
	}
	return nil
}

func (h *hotspot) status(ctx context.Context) error {
	out, err := h.query(ctx, "-t", "-f", "NAME,DEVICE,STATE", "connection", "show", "--active")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(out, "\n") {
		f := splitTerse(line)
		if len(f) == 3 && f[0] == hotspotConnection {
			st, _ := readHotspotState(h.cfg.DataDir)
			fmt.Fprintf(h.out, "up: %q on %s (%s), at %s; starts at boot: %s\n", st.SSID, f[1], f[2], hotspotAddress, yesNo(st.OnBoot))
			return nil
		}
	}
	fmt.Fprintln(h.out, "down")
	return nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// validate names the first option whose value cannot work.
func (c hotspotConfig) validate() error {
	if len(c.SSID) > 32 {
		return fmt.Errorf("--ssid %q is longer than 32 bytes, the most Wi-Fi allows", c.SSID)
	}
	if c.Password != "" {
		if err := validPassword(c.Password); err != nil {
			return fmt.Errorf("--password: %w", err)
		}
	}
	switch c.Band {
	case "bg":
		if c.Channel != 0 && (c.Channel < 1 || c.Channel > 14) {
			return fmt.Errorf("--channel %d is not a 2.4 GHz channel (1 to 14) for --band bg", c.Channel)
		}
	case "a":
		if c.Channel != 0 && (c.Channel < 32 || c.Channel > 177) {
			return fmt.Errorf("--channel %d is not a 5 GHz channel (36 to 165) for --band a", c.Channel)
		}
	default:
		return fmt.Errorf("--band %q is neither bg (2.4 GHz) nor a (5 GHz)", c.Band)
	}
	return nil
}

// validPassword: WPA2 passphrases are 8 to 63 printable ASCII characters.
func validPassword(pw string) error {
	if len(pw) < 8 || len(pw) > 63 {
		return errors.New("a Wi-Fi password has 8 to 63 characters")
	}
	for _, r := range pw {
		if r < 0x20 || r > 0x7e {
			return errors.New("a Wi-Fi password has only printable ASCII characters")
		}
	}
	return nil
}

// defaultSSID is "Jam on <hostname>", cut to Wi-Fi's 32 bytes on a character boundary.
func defaultSSID() string {
	host, _ := os.Hostname()
	if host == "" {
		host = "jamd"
	}
	host, _, _ = strings.Cut(host, ".")
	s := "Jam on " + host
	for len(s) > 32 {
		r := []rune(s)
		s = string(r[:len(r)-1])
	}
	return s
}

func (h *hotspot) needRoot(verb string) error {
	if h.euid == 0 || h.cfg.DryRun {
		return nil
	}
	return fmt.Errorf("jamd hotspot %s changes the network and writes to /etc: run it as root (sudo jamd hotspot %s), or see what it would do with --dry-run", verb, verb)
}

var errNoNetworkManager = errors.New("no NetworkManager")

// query runs a read-only nmcli command, also under --dry-run.
func (h *hotspot) query(ctx context.Context, args ...string) (string, error) {
	out, err := h.run.Run(ctx, "nmcli", args...)
	if err != nil {
		return "", h.nmError(err, "")
	}
	return out, nil
}

// change runs an nmcli command that changes something, or prints it under --dry-run. password is
// shown in the printed command as a shell expansion of the file it is kept in, never itself.
func (h *hotspot) change(ctx context.Context, password string, args ...string) error {
	if h.cfg.DryRun {
		fmt.Fprintln(h.out, shellLine("nmcli", args, password, `"$(cat `+shellQuote(passwordPath(h.cfg.DataDir))+`)"`))
		return nil
	}
	_, err := h.run.Run(ctx, "nmcli", args...)
	return err
}

func (h *hotspot) wifiDevice(ctx context.Context) (device, error) {
	out, err := h.query(ctx, "-t", "-f", "DEVICE,TYPE,STATE,CONNECTION", "device")
	if err != nil {
		return device{}, err
	}
	var wifi []device
	for _, line := range strings.Split(out, "\n") {
		f := splitTerse(line)
		if len(f) != 4 {
			continue
		}
		d := device{f[0], f[1], f[2], f[3]}
		if h.cfg.Ifname != "" && d.name == h.cfg.Ifname && d.typ != "wifi" {
			return device{}, fmt.Errorf("%s is a %s device, not Wi-Fi: name a Wi-Fi one with --ifname (nmcli device lists them)", d.name, d.typ)
		}
		if d.typ == "wifi" && (h.cfg.Ifname == "" || d.name == h.cfg.Ifname) {
			wifi = append(wifi, d)
		}
	}
	if len(wifi) == 0 {
		if h.cfg.Ifname != "" {
			return device{}, fmt.Errorf("NetworkManager has no device %s: leave out --ifname, or name one that nmcli device lists", h.cfg.Ifname)
		}
		return device{}, errors.New("this machine has no Wi-Fi device that NetworkManager knows (nmcli device lists none): plug in a USB Wi-Fi adapter, or bring a travel router and run jamd on its network")
	}
	d := wifi[0]
	switch {
	case d.state == "unmanaged":
		return device{}, fmt.Errorf("NetworkManager does not manage %s (another tool, such as hostapd or wpa_supplicant configured by hand, owns it): hand it over with nmcli device set %s managed yes", d.name, d.name)
	case d.state == "unavailable":
		return device{}, fmt.Errorf("the Wi-Fi radio of %s is off: turn it on with nmcli radio wifi on (and rfkill unblock wifi), then try again", d.name)
	case strings.HasPrefix(d.state, "connect") && d.connection != hotspotConnection && d.connection != "" && d.connection != "--":
		return device{}, fmt.Errorf("%s is connected to the network %q: one radio cannot be that network and jamd's own at once. "+
			"Either stay on %q (phones join it and jamd is found there; no hotspot needed), or disconnect it (nmcli device disconnect %s) and run jamd hotspot up again, "+
			"or give the box a second Wi-Fi adapter (--ifname) or a cable to the venue's network", d.name, d.connection, d.connection, d.name)
	}
	return d, nil
}

func (h *hotspot) connectionExists(ctx context.Context) (bool, error) {
	out, err := h.query(ctx, "-t", "-f", "NAME", "connection", "show")
	if err != nil {
		return false, err
	}
	for _, line := range strings.Split(out, "\n") {
		if f := splitTerse(line); len(f) == 1 && f[0] == hotspotConnection {
			return true, nil
		}
	}
	return false, nil
}

// addArgs is the nmcli command that adds jamd's hotspot connection. Without --on-boot it lives in
// NetworkManager's memory only (save no): a reboot forgets it.
func addArgs(cfg hotspotConfig, ifname, ssid, password string) []string {
	autoconnect, save := "no", "no"
	if cfg.OnBoot {
		autoconnect, save = "yes", "yes"
	}
	args := []string{"connection", "add", "save", save, "type", "wifi", "ifname", ifname, "con-name", hotspotConnection,
		"autoconnect", autoconnect, "ssid", ssid,
		"802-11-wireless.mode", "ap", "802-11-wireless.band", cfg.Band}
	if cfg.Channel != 0 {
		args = append(args, "802-11-wireless.channel", strconv.Itoa(cfg.Channel))
	}
	// WPA2 with CCMP only, and no protected management frames: what `nmcli device wifi hotspot`
	// itself sets, because some phones (iPads, older Androids) fail to join otherwise.
	return append(args,
		"802-11-wireless-security.key-mgmt", "wpa-psk",
		"802-11-wireless-security.proto", "rsn",
		"802-11-wireless-security.pairwise", "ccmp",
		"802-11-wireless-security.group", "ccmp",
		"802-11-wireless-security.pmf", "disable",
		"802-11-wireless-security.psk", password,
		"ipv4.method", "shared",
		"ipv4.addresses", hotspotAddress+"/"+strconv.Itoa(hotspotPrefix),
		"ipv6.method", "disabled")
}

// nmError turns what nmcli said into what to do about it.
func (h *hotspot) nmError(err error, ifname string) error {
	if errors.Is(err, exec.ErrNotFound) {
		return fmt.Errorf("%w: nmcli is not installed. jamd hotspot needs NetworkManager (Raspberry Pi OS Bookworm and later has it; elsewhere apt-get install network-manager, and let it manage the Wi-Fi)", errNoNetworkManager)
	}
	msg := strings.TrimSpace(stderrOf(err))
	low := strings.ToLower(msg)
	var ce *commandError
	isExit8 := errors.As(err, &ce) && ce.Exit == 8
	dev := ifname
	if dev == "" {
		dev = "the Wi-Fi device"
	}
	switch {
	case isExit8 || strings.Contains(msg, "NetworkManager is not running"):
		return fmt.Errorf("%w: NetworkManager is not running. Start it with systemctl start NetworkManager (and enable it to start at boot), then try again", errNoNetworkManager)
	case strings.Contains(low, "insufficient privileges") || strings.Contains(low, "not authorized"):
		return errors.New("NetworkManager refused: not allowed to change the network. Run it as root (sudo jamd hotspot ...)")
	case strings.Contains(low, "does not support access point mode") || strings.Contains(low, "does not support ap mode"):
		return fmt.Errorf("%s cannot be an access point (its driver has no AP mode): use another Wi-Fi adapter (--ifname), or a travel router", dev)
	case strings.Contains(low, "device is not available") || strings.Contains(low, "rfkill") || strings.Contains(low, "radio is disabled"):
		return fmt.Errorf("%s is not available: its radio may be off. Turn it on with nmcli radio wifi on (and rfkill unblock wifi), then try again", dev)
	case strings.Contains(msg, "No suitable device found"):
		return fmt.Errorf("NetworkManager found no device for the hotspot (%s): check nmcli device, and --ifname", msg)
	case strings.Contains(msg, "802-11-wireless.channel") || strings.Contains(msg, "802-11-wireless.band"):
		return fmt.Errorf("NetworkManager refused the band or channel (%s): try --band bg without --channel", msg)
	case msg != "":
		return fmt.Errorf("nmcli failed: %s", msg)
	}
	return fmt.Errorf("nmcli failed: %w", err)
}

func stderrOf(err error) string {
	var ce *commandError
	if errors.As(err, &ce) {
		return ce.Stderr
	}
	return ""
}

// splitTerse splits one line of nmcli -t output at the colons that are not escaped (\:).
func splitTerse(line string) []string {
	if line == "" {
		return nil
	}
	var fields []string
	var b strings.Builder
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line):
			i++
			b.WriteByte(line[i])
		case line[i] == ':':
			fields = append(fields, b.String())
			b.Reset()
		default:
			b.WriteByte(line[i])
		}
	}
	return append(fields, b.String())
}

// password is --password, else the one kept in the data dir, else a new one that is kept there.
// (The state file says nothing secret; the password file is 0600, owned like the data dir.)
func (h *hotspot) password() (string, error) {
	path := passwordPath(h.cfg.DataDir)
	if h.cfg.Password != "" {
		return h.cfg.Password, h.write(path, h.cfg.Password+"\n", 0o600)
	}
	if pw, err := readPassword(h.cfg.DataDir); err == nil {
		return pw, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	pw := newPassword()
	if h.cfg.DryRun {
		fmt.Fprintf(h.out, "# a new password is generated and kept in %s (mode 0600)\n", path)
		return pw, nil
	}
	return pw, h.write(path, pw+"\n", 0o600)
}

// passwordAlphabet leaves out look-alikes (0/o, 1/l/i), like room codes: it is typed by hand
// when a camera will not scan.
const passwordAlphabet = "abcdefghjkmnpqrstuvwxyz23456789"

// newPassword is 12 random characters in groups of 4 (about 59 bits): "k7m2-qx4p-9tbd".
func newPassword() string {
	var b strings.Builder
	for i := range 12 {
		if i > 0 && i%4 == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(passwordAlphabet[randIntn(len(passwordAlphabet))])
	}
	return b.String()
}

func randIntn(n int) int {
	var buf [1]byte
	for {
		_, _ = rand.Read(buf[:])
		if int(buf[0]) < 256/n*n {
			return int(buf[0]) % n
		}
	}
}

// write writes a file, or prints it as a shell here-document under --dry-run.
func (h *hotspot) write(path, content string, mode os.FileMode) error {
	if h.cfg.DryRun {
		if path == passwordPath(h.cfg.DataDir) {
			fmt.Fprintf(h.out, "# the password given is kept in %s (mode 0600)\n", path)
			return nil
		}
		fmt.Fprintf(h.out, "cat > %s <<'EOF'\n%sEOF\n", shellQuote(path), content)
		return nil
	}
	return h.fs.WriteFile(path, []byte(content), mode)
}

func (h *hotspot) remove(path string) error {
	if h.cfg.DryRun {
		fmt.Fprintf(h.out, "rm -f %s\n", shellQuote(path))
		return nil
	}
	return h.fs.Remove(path)
}

// shellLine renders a command as a shell would take it; the argument equal to secret (when it is
// not empty) is written as instead.
func shellLine(name string, args []string, secret, instead string) string {
	parts := []string{name}
	for _, a := range args {
		if secret != "" && a == secret {
			parts = append(parts, instead)
			continue
		}
		parts = append(parts, shellQuote(a))
	}
	return strings.Join(parts, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:@,+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
