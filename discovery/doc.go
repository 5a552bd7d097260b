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
// A known limit we do not design around: the library's responder sockets listen on all
// interfaces, and it answers a query on the interface the query arrived on. So if some process on
// the host joined the mDNS group on an interface we did not choose (avahi-daemon does, on
// docker0), a query arriving there is answered there too, with that interface's addresses.
// Unsolicited announcements and goodbyes go only to the chosen interfaces. Filtering answers by
// interface would need a responder of our own instead of the library's.
//
// The SRV target, under which the A and AAAA records are published, is not the machine's host
// name but "jamd-<first 8 characters of the appliance id>.local." (TargetLabel). On Raspberry Pi
// OS avahi-daemon owns "<hostname>.local." and publishes its own address set for it; our records
// for the same name, sent with the cache-flush bit and a different set (the library leaves out
// link-local IPv6 addresses when there is a global one, and each responder sends only its own
// interface's), would look like a conflict to it, and it would rename the machine
// ("raspberrypi-2.local"). A name of our own cannot clash with
// avahi's, stays the same across restarts (the id is stable) and differs between two appliances.
//
// Services advertised by an Advertiser, under one instance name ("Jam on <hostname>"):
//
//	_jamd._tcp  TXT txtvers=1 path=/jam id=<appliance id> ver=<version>
//	_http._tcp  TXT path=/jam
//
// # Concurrency
//
// An Advertiser is used by one goroutine: NewAdvertiser, then Serve, which blocks until its
// context is cancelled, sends the goodbye and returns; Serve must not be called twice. Instance
// may be called from any goroutine. Browse, Interfaces, JoinIP, AllIPv4 and ApplianceID are safe
// to call from any goroutine; Browse blocks for at most its timeout.
package discovery
