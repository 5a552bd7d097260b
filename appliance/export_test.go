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
