package discovery

import "net/netip"

// Internals the external tests exercise directly.
var (
	ParseDefaultRoute = parseDefaultRoute
	HostLabel         = hostLabel
	UnescapeLabel     = unescapeLabel
	EscapeLabel       = escapeLabel
)

// Candidate is a JoinIP candidate for PickJoinIP.
type Candidate = candidate

// NewCandidate builds a Candidate.
var NewCandidate = func(addr string, defaultRoute bool) Candidate {
	return candidate{addr: netip.MustParseAddr(addr), defaultRoute: defaultRoute}
}

// PickJoinIP ranks candidates as JoinIP does.
var PickJoinIP = pickJoinIP

// AdvertiserHost is the SRV target a's addresses are advertised under, e.g. "jamd-0123abcd.local.".
func AdvertiserHost(a *Advertiser) string { return a.host }
