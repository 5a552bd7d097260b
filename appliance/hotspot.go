package appliance

import (
	"net/netip"
	"strings"
)

// Hotspot is jamd's own Wi-Fi network while it is up (`jamd hotspot up`): what a guest needs to
// join it, and the address at which the box answers on it.
type Hotspot struct {
	SSID     string     // the network's name
	Password string     // its WPA2 passphrase, shared with the people in the room
	Address  netip.Addr // the box's address on it (10.42.0.1 with NetworkManager's shared mode)
	TypeURL  string     // the address to type when a camera will not scan, e.g. "http://jam/"
}

// HotspotHostName is the name that resolves to the box on its own hotspot, to type in a browser
// when a camera will not scan: http://jam/.
const HotspotHostName = "jam"

// WiFiQR is the payload of a QR code that phone cameras (Android 10+, iOS 11+) offer to join:
// WIFI:T:WPA;S:<ssid>;P:<password>;; with \ ; , " and : escaped by a backslash, as the format
// (ZXing's, which every camera app follows) asks.
func WiFiQR(ssid, password string) string {
	return "WIFI:T:WPA;S:" + escapeWiFi(ssid) + ";P:" + escapeWiFi(password) + ";;"
}

var wifiEscaper = strings.NewReplacer(`\`, `\\`, `;`, `\;`, `,`, `\,`, `"`, `\"`, `:`, `\:`)

func escapeWiFi(s string) string { return wifiEscaper.Replace(s) }
