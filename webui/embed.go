// Package webui holds the built /jam web app (webui/dist, made by `npm run build` from webui/src)
// embedded into the jamd binary, so go build and go run need no Node.
package webui

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var dist embed.FS

// Dist returns the built web app: index.html at its root, hashed files under assets/.
func Dist() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // "dist" is embedded above; this cannot happen
	}
	return sub
}
