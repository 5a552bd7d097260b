// Package discovery makes a jamd appliance findable on the LAN without anyone typing an address:
// it advertises the appliance over multicast DNS (DNS-SD), browses for other appliances, and picks
// the join URL that a phone on the same Wi-Fi can open.
//
// It is the only package that imports the mDNS library, github.com/grandcat/zeroconf v1.0.0.
// We stay on v1.0.0 rather than its fork github.com/libp2p/zeroconf/v2 v2.2.0: the fork has the
// same three limits that matter here, so it would not remove any of the code below. The limits,
// and how this package designs around them:
//
//   - The library advertises on every interface that is up, docker0 and veth* included. The
//     Advertiser chooses the interfaces itself (Interfaces: no loopback, no container or VM
//     bridges, no tunnels; Config.Interface overrides) and registers one responder per chosen
//     interface.
//   - The library does not follow address changes. Each responder is registered without fixed
//     addresses, so the library answers every query with the current addresses of the interface
//     the query came in on; and when the set of addresses changes the Advertiser sends an
//     unsolicited announcement itself (announce.go), with the cache-flush bit set, so caches
//     replace the old address at once. An interface that appears later gets a responder of its
//     own; nothing is torn down while the appliance runs.
//   - The library's Shutdown sends the goodbye packets (TTL 0) and must run exactly once, at exit.
//     Only Serve calls it, once per responder, after its context is cancelled; Serve then returns.
//
// Services advertised by an Advertiser, under one instance name ("Jam on <hostname>"):
//
//	_jamd._tcp  TXT txtvers=1 path=/jam id=<appliance id> ver=<version>
//	_http._tcp  TXT path=/jam
//
// # Concurrency
//
// An Advertiser is used by one goroutine: NewAdvertiser, then Serve, which blocks until its
// context is cancelled, sends the goodbye and returns; Serve must not be called twice. The
// OnChange callback is called from Serve's goroutine. Browse, Interfaces, JoinIP and ApplianceID
// are safe to call from any goroutine; Browse blocks for at most its timeout.
package discovery
