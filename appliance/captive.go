package appliance

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// A phone that joins a Wi-Fi network asks a well-known web address whether the network reaches
// the internet (a "connectivity probe"). On jamd's own hotspot the probes' host names resolve to
// the box (the dnsmasq snippet `jamd hotspot up` writes), and jamd answers each one exactly as
// its real server would: the network is "online". Reasons (docs/gig.md says it for musicians):
//
//   - An "offline" or "captive" answer makes iOS and Android open the jam in their captive-portal
//     mini-browser: it closes when the phone locks or switches apps, keeps no storage (the seat's
//     resume token is lost), and iOS offers to leave the network when it is dismissed. The jam
//     must run for hours with audio in a real browser tab, which the QR code opens.
//   - A network without internet makes Android (and some iPhones) send DNS and traffic over
//     mobile data and offer to switch away from the Wi-Fi: http://jam/ would then not resolve.
//
// The cost: while on the hotspot the phone's other apps have no internet (no mobile-data
// fallback) unless the box shares a real uplink, in which case they work as usual.
//
// Only requests that arrive on the hotspot's own address, while the hotspot is up, are answered
// this way: a phone on a venue network never reaches it with these names, and if it did (its
// request arrives on the box's venue address) it gets the normal 404.

// probe is one connectivity check: what its server answers.
type probe struct {
	status      int
	contentType string
	body        string
}

var (
	android = probe{http.StatusNoContent, "", ""}
	apple   = probe{http.StatusOK, "text/html", "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>"}
	nmcheck = probe{http.StatusOK, "text/plain", "NetworkManager is online\n"}
)

// probes maps a probe's host, then its path, to its answer. "" as the path matches any path.
// Only hosts that serve nothing but probes: pointing www.google.com or www.apple.com at the box
// would break them for phones on a hotspot that shares a real uplink.
var probes = map[string]map[string]probe{
	// Android (and Chrome OS): any 204 is "online".
	"connectivitycheck.gstatic.com": {"/generate_204": android},
	"connectivitycheck.android.com": {"/generate_204": android},
	"clients3.google.com":           {"/generate_204": android},
	// iOS and macOS: a page whose body holds "Success".
	"captive.apple.com":        {"": apple},
	"www.appleiphonecell.com":  {"": apple},
	"www.itools.info":          {"": apple},
	"www.ibook.info":           {"": apple},
	"www.airport.us":           {"": apple},
	"www.thinkdifferent.us":    {"": apple},
	"www.msftconnecttest.com":  {"/connecttest.txt": {http.StatusOK, "text/plain", "Microsoft Connect Test"}},
	"www.msftncsi.com":         {"/ncsi.txt": {http.StatusOK, "text/plain", "Microsoft NCSI"}},
	"detectportal.firefox.com": {"/success.txt": {http.StatusOK, "text/plain", "success\n"}, "/canonical.html": {http.StatusOK, "text/html", `<meta http-equiv="refresh" content="0;url=https://support.mozilla.org/kb/captive-portal"/>`}},
	// Linux desktops (NetworkManager's connectivity check in GNOME, Debian, Ubuntu, Fedora).
	"nmcheck.gnome.org":             {"/check_network_status.txt": nmcheck},
	"network-test.debian.org":       {"/nm": nmcheck},
	"connectivity-check.ubuntu.com": {"": android},
}

// WindowsDNSProbe is the name Windows resolves, besides its HTTP probe, and the address it must
// get (131.107.255.255) to call a network "online".
const (
	WindowsDNSProbe   = "dns.msftncsi.com"
	WindowsDNSProbeIP = "131.107.255.255"
)

// ProbeHosts lists the host names of every connectivity probe jamd answers on its hotspot, for
// the DNS configuration that points them at the box.
func ProbeHosts() []string {
	hosts := make([]string, 0, len(probes))
	for h := range probes {
		hosts = append(hosts, h)
	}
	return hosts
}

// onHotspot reports whether r arrived on the address of jamd's own hotspot while it is up, and
// the hotspot.
func onHotspot(cfg Config, r *http.Request) (Hotspot, bool) {
	if cfg.Hotspot == nil {
		return Hotspot{}, false
	}
	hs, up := cfg.Hotspot()
	if !up || !hs.Address.IsValid() {
		return Hotspot{}, false
	}
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return Hotspot{}, false
	}
	ap, err := netip.ParseAddrPort(local.String())
	if err != nil || ap.Addr().Unmap() != hs.Address.Unmap() {
		return Hotspot{}, false
	}
	return hs, true
}

// typedOnHotspot reports whether r names the box by the short name phones type on its hotspot
// (http://jam/), and arrived there: on any other network that name is not the box's.
func typedOnHotspot(cfg Config, r *http.Request) bool {
	host := strings.ToLower(r.Host)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if strings.TrimSuffix(host, ".") != HotspotHostName {
		return false
	}
	_, ok := onHotspot(cfg, r)
	return ok
}

// answerProbes answers the phones' connectivity probes that arrive on the hotspot (see above)
// and hands every other request to next.
func answerProbes(cfg Config, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := strings.ToLower(r.Host)
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		paths, isProbe := probes[strings.TrimSuffix(host, ".")]
		if !isProbe {
			next.ServeHTTP(w, r)
			return
		}
		if _, ok := onHotspot(cfg, r); !ok {
			next.ServeHTTP(w, r)
			return
		}
		p, ok := paths[r.URL.Path]
		if !ok {
			p, ok = paths[""]
		}
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Cache-Control", "no-cache, no-store")
		if p.contentType != "" {
			w.Header().Set("Content-Type", p.contentType)
		}
		w.WriteHeader(p.status)
		if r.Method != http.MethodHead {
			w.Write([]byte(p.body))
		}
	})
}
