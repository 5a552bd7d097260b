package appliance

import (
	"maps"
	"slices"
)

// ClientTypes lists every message type a client may send (the decoders table), for the test that
// holds the web app's list to it.
func ClientTypes() []string { return sortedKeys(decoders) }

// WireErrorCodes lists every error code the API answers with (the status table), likewise.
func WireErrorCodes() []string { return sortedKeys(httpStatus) }

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// ReadWithGoroutines makes the hubs made until the test ends read each connection with a
// goroutine of its own, as where there is no epoll (read.go). Not for parallel tests.
func ReadWithGoroutines(tb interface{ Cleanup(func()) }) {
	goroutineReads = true
	tb.Cleanup(func() { goroutineReads = false })
}
