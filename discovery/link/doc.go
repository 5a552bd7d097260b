// Package link makes jamd an Ableton Link peer: apps on the LAN that speak Link (Ableton Live,
// phone apps, hardware) share one tempo, one bar grid and one play/stop with the room. It is
// written from the protocol's facts as Ableton's own implementation (Link 3.0.6, packaged by
// Debian as ableton-link-dev) shows them, and its tests run against that implementation. It
// imports nothing else of jamd's.
//
// # The protocol in our own words
//
// Clocks. Every peer has a host clock (here Config.Now, µs). A session has one shared clock,
// the ghost clock, which starts at 0 when its founder creates it. Each member knows the
// offset from its host clock to the ghost clock (ghost = host + offset; Link's transform has a
// slope, but it is always 1). Everything a peer sends is on the ghost clock; everything the
// API shows is on the host clock.
//
// Timeline. A session's timeline is a tempo, a beat origin and a time origin (ghost): beat =
// beatOrigin + (t - timeOrigin) / (µs per beat). On the wire the tempo is whole microseconds
// per beat and beats are whole micro-beats, so 133 BPM comes back as 132.99994. Peers agree on
// phase (beat modulo a quantum, 4 for a bar of 4/4), not on beat numbers: each app numbers its
// own beats, and the quantum grid is anchored at the session's beat 0. Timeline.BeatAt
// returns our own beat numbering with the session's phase.
//
// Discovery. Each peer multicasts an "alive" to 224.76.78.75:20808 on each of its IPv4
// interfaces every 250 ms (and at most every 50 ms when its state changes), from a unicast
// socket on that interface. Whoever hears an alive answers with a "response", unicast, with
// its own state. Both carry a TTL of 5 s: a peer not heard for TTL plus a second of grace is
// dropped. A leaving peer multicasts a "bye-bye" and is dropped at once. Multicast loops back
// to this machine only on loopback, so two Link apps on one machine meet over loopback.
//
// Discovery datagrams: "_asdp_v\x01", type (1 alive, 2 response, 3 bye-bye), TTL (1 byte),
// group (2 bytes, always 0), node ID (8 bytes), then payload entries: key (4 ASCII bytes as a
// big-endian uint32), size (uint32), value. Alive and response carry
//
//	"tmln" 24 bytes: µs per beat (int64), beat origin (int64 µbeats), time origin (int64 ghost µs)
//	"sess"  8 bytes: the session ID, which is its founder's node ID
//	"stst" 17 bytes: playing (1 byte), beat (int64 µbeats), timestamp (int64 ghost µs)
//	"mep4"  6 bytes: IPv4 address and port of the sender's measurement endpoint
//
// Entries with other keys are skipped (newer Links add "mep6"). A known key with the wrong size,
// or a size running past the datagram, invalidates the datagram; so, here, does a state without
// "tmln", "sess" and "mep4" (Ableton's peers read missing entries as zeros). No Link datagram
// exceeds 512 bytes.
//
// Measurement. To map its host clock onto another session's ghost clock a peer pings that
// session's founder (or another member) at its "mep4" endpoint: "_link_v\x01", type 1 (ping)
// with "__ht" (our host time). The pong (type 2) carries "sess", "__gt" (the responder's ghost
// time) and the ping's payload echoed. Each pong gives the point gt - (now+ht)/2; the next ping
// also carries "_pgt" (the last gt), so its pong gives a second point (gt+pgt)/2 - ht. After
// more than 100 points the offset is their median (the ghost-time filter). No pong for 50 ms
// sends another ping; the fifth such timeout fails the measurement. A pong from another session
// fails it too. A ping payload over 32 bytes is not answered.
//
// Sessions. A peer counts only the peers in its own session, and a peer in another session
// joins ours only after measuring us, so a peer that does not answer pings is never counted.
// When two sessions meet, each member measures the other session; the older one (its ghost
// clock ahead of ours by more than 0.5 s) wins, and within 0.5 s the smaller session ID does,
// so every peer makes the same choice. Joining resets the start/stop state; the new session's
// timeline is adopted with our beat numbers kept continuous. A joined session is re-measured
// every 30 s. When the last peer of our session leaves, we found a new session under a new
// node ID, as Ableton's peers do (and their old ID lingers in others' tables until its TTL).
//
// Changes. Within a session a timeline replaces ours only if its beat origin is later, so a
// peer that changes the tempo at host time t publishes a timeline whose beat origin is the
// session's beat at t (at least one µbeat past the old origin). A start/stop state replaces
// ours only if its timestamp is later. Every peer relays what it adopted in its own
// announcements.
//
// # Concurrency
//
// A Peer's state sits behind one mutex. Serve runs one goroutine for the timers and one reader
// per socket; each datagram is handled under the mutex, and the answers (responses, pongs) are
// sent under it. Config.OnChange is called from one goroutine of its own, never under the mutex,
// so it may call the Peer's methods. Every exported method is safe from any goroutine.
package link
