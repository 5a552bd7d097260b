package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/skip2/go-qrcode"
	"github.com/spf13/cobra"

	"jamd/appliance"
)

// infoTimeout bounds the question `jamd qr` asks the running server.
const infoTimeout = 3 * time.Second

func newQRCommand(getenv env, stdout io.Writer) *cobra.Command {
	var pageURL, png, server, dataDir string
	var wifi bool
	cmd := &cobra.Command{
		Use:   "qr [CODE]",
		Short: "Print the QR code of the lobby, or of a session's join link, or of jamd's own Wi-Fi",
		Long: "Print, as a terminal QR code (or write as a PNG with --png), the link to the lobby or, given\n" +
			"a room code, to that session. The address comes from --url, else from the running jamd (--server).\n" +
			"With --wifi, the code that phone cameras join jamd's own Wi-Fi with (see jamd hotspot).",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if wifi {
				if len(args) > 0 || pageURL != "" || server != "" {
					return errors.New("--wifi takes no room code, --url or --server: it reads the data dir")
				}
				if dataDir == "" {
					dataDir = hotspotDataDir(getenv)
				}
				return printWiFiQR(stdout, dataDir, png)
			}
			base := pageURL
			if base == "" {
				if server == "" {
					server = defaultServer(getenv)
				}
				u, err := askJoinURL(cmd.Context(), server)
				if err != nil {
					return err
				}
				base = u
			}
			link, err := roomLink(base, args)
			if err != nil {
				return err
			}
			if png != "" {
				if err := qrcode.WriteFile(link, qrcode.Medium, 512, png); err != nil {
					return fmt.Errorf("cannot write the QR code to %s: %w", png, err)
				}
				fmt.Fprintf(stdout, "%s\nwrote its QR code to %s\n", link, png)
				return nil
			}
			fmt.Fprintln(stdout, link)
			return writeQR(stdout, link)
		},
	}
	f := cmd.Flags()
	f.StringVar(&pageURL, "url", "", "the jamd address to encode, e.g. http://192.168.1.20:8080 (default: ask the server)")
	f.StringVar(&png, "png", "", "write the QR code to this PNG file instead of printing it")
	f.BoolVar(&wifi, "wifi", false, "the code that joins jamd's own Wi-Fi (set up by jamd hotspot up), first of the two a guest scans")
	f.StringVar(&dataDir, "data-dir", "", "with --wifi: jamd's data dir (default: as jamd hotspot's)")
	f.StringVar(&server, "server", "", "the running jamd to ask for its join URL (default: the host and port of $JAMD_ADDR, else http://127.0.0.1:8080)")
	return cmd
}

// printWiFiQR prints (or writes as a PNG) the Wi-Fi QR code of the hotspot `jamd hotspot up` set
// up with dataDir. It works while the hotspot is down too, to print a card before the gig.
func printWiFiQR(stdout io.Writer, dataDir, png string) error {
	st, err := readHotspotState(dataDir)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("jamd's own Wi-Fi is not set up in %s: run sudo jamd hotspot up (or pass --data-dir)", dataDir)
	} else if err != nil {
		return err
	}
	pw, err := readPassword(dataDir)
	if err != nil {
		return fmt.Errorf("cannot read the Wi-Fi password (as root, or the data dir's owner?): %w", err)
	}
	payload := appliance.WiFiQR(st.SSID, pw)
	if png != "" {
		if err := qrcode.WriteFile(payload, qrcode.Medium, 512, png); err != nil {
			return fmt.Errorf("cannot write the QR code to %s: %w", png, err)
		}
		fmt.Fprintf(stdout, "Wi-Fi %q\nwrote its QR code to %s\n", st.SSID, png)
		return nil
	}
	fmt.Fprintf(stdout, "Wi-Fi %q, password %s\n", st.SSID, pw)
	return writeQR(stdout, payload)
}

// defaultServer is this host's jamd as `jamd serve` reads JAMD_ADDR: the host named there, else
// 127.0.0.1, at the port named there, else 8080.
func defaultServer(getenv env) string {
	host, port := "", "8080"
	if addr := getenv("JAMD_ADDR"); addr != "" {
		if h, p, err := net.SplitHostPort(addr); err == nil {
			host = h
			if p != "" {
				port = p
			}
		}
	}
	return localServer(host, port)
}

// localServer is the base URL (http://host:port) at which a client on this host reaches a jamd
// listening on host:port: the host itself when the listener is bound to one, else 127.0.0.1,
// which a wildcard listener (":8080", "0.0.0.0", "[::]") also serves.
func localServer(host, port string) string {
	if host == "" {
		host = "127.0.0.1"
	} else if ip, err := netip.ParseAddr(host); err == nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// askJoinURL asks a running jamd for its lobby URL: GET <server>/api/info → {"joinUrl": ...}.
func askJoinURL(ctx context.Context, server string) (string, error) {
	if !strings.Contains(server, "://") {
		server = "http://" + server
	}
	ctx, cancel := context.WithTimeout(ctx, infoTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(server, "/")+"/api/info", nil)
	if err != nil {
		return "", fmt.Errorf("--server %q is not a URL", server)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("cannot reach jamd at %s (is it running? or pass --url): %w", server, errors.Unwrap(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("jamd at %s answered /api/info with %s", server, resp.Status)
	}
	var info struct {
		JoinURL string `json:"joinUrl"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&info); err != nil || info.JoinURL == "" {
		return "", fmt.Errorf("jamd at %s gave no joinUrl in /api/info", server)
	}
	return info.JoinURL, nil
}

// roomLink is the lobby URL <base>/jam, or <base>/jam/CODE for a room code. base may already end
// in /jam.
func roomLink(base string, args []string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(base))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%q is not an http(s) URL", base)
	}
	p := strings.TrimSuffix(strings.TrimRight(u.Path, "/"), "/jam")
	u.Path = p + "/jam"
	u.RawQuery, u.Fragment = "", ""
	if len(args) == 1 {
		code, err := appliance.NormalizeRoomCode(args[0])
		if err != nil {
			return "", fmt.Errorf("%q is not a room code (6 letters and digits)", args[0])
		}
		u.Path += "/" + code
	}
	return u.String(), nil
}

// writeQR prints text as a QR code of half-block characters, two modules per character cell, so
// it is square in a terminal. Light modules (and the 4-module quiet zone) are drawn with the
// terminal's foreground colour, dark ones are left as background, as `qrencode -t UTF8` does:
// on the usual light-on-dark terminal the phone sees dark modules on a light field.
func writeQR(w io.Writer, text string) error {
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		return fmt.Errorf("cannot make a QR code of %q: %w", text, err)
	}
	bm := q.Bitmap() // true = dark module; includes the quiet zone
	var b strings.Builder
	for y := 0; y < len(bm); y += 2 {
		for x := range bm[y] {
			top := !bm[y][x]
			bottom := y+1 < len(bm) && !bm[y+1][x]
			switch {
			case top && bottom:
				b.WriteString("█")
			case top:
				b.WriteString("▀")
			case bottom:
				b.WriteString("▄")
			default:
				b.WriteString(" ")
			}
		}
		b.WriteString("\n")
	}
	_, err = io.WriteString(w, b.String())
	return err
}
