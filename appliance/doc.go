// Package appliance is the heart of jamd: sessions and their participants, the shared musical
// state, the WebSocket hub that keeps every phone in a room in step, and the HTTP routes.
//
// Concurrency: every room has one mutex, and every change of that room (validate, commit to the
// Store, reply, broadcast) happens while holding it, so members see changes in commit order.
// The Hub's own mutex guards only its map of rooms and is never held while taking a room's
// (lock order: room, then hub). One poller goroutine reads every socket (read.go); a
// connection's messages are handled in order by a goroutine that exists only while some are
// waiting, so an idle connection has no goroutine at all. A frame for an idle socket is written
// at once, without blocking, by whoever queues it (the room, under its lock); frames wait, and a
// writer goroutine exists, only while the socket's kernel buffer is full, and the Client's write
// lock keeps the frames in order. Nobody blocks on a slow client: a full send queue closes that
// client with close code 4001. One pinger goroutine pings quiet connections.
//
// Domain files (config.go, session.go, room.go, hub.go, protocol.go, errors.go) do not import
// net/http.
package appliance
