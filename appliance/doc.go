// Package appliance is the heart of jamd: sessions and their participants, the shared musical
// state, the WebSocket hub that keeps every phone in a room in step, and the HTTP routes.
//
// Concurrency: every room has one mutex, and every change of that room (validate, commit to the
// Store, reply, broadcast) happens while holding it, so members see changes in commit order.
// The Hub's own mutex guards only its map of rooms and is never held while taking a room's
// (lock order: room, then hub). Each connection has one reader and one writer goroutine; the
// writer alone writes data frames, and nobody blocks on a slow client: a full send queue closes
// that client with close code 4001.
//
// Domain files (config.go, session.go, room.go, hub.go, protocol.go, errors.go) do not import
// net/http.
package appliance
