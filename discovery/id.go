package discovery

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// idFile is the file in the data dir that keeps the appliance id across restarts.
const idFile = "appliance-id"

// ApplianceID returns the stable id of this appliance, kept in dataDir/appliance-id and created
// (16 hex digits, mode 0644) on first use. It lets `jamd discover` tell two appliances with the
// same name apart and recognise one whose address changed.
func ApplianceID(dataDir string) (string, error) {
	path := filepath.Join(dataDir, idFile)
	b, err := os.ReadFile(path)
	if err == nil {
		if id := strings.TrimSpace(string(b)); validID(id) {
			return id, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read appliance id %s: %w", path, err)
	}
	raw := make([]byte, 8)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("generate appliance id: %w", err)
	}
	id := hex.EncodeToString(raw)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(id+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("write appliance id %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("write appliance id %s: %w", path, err)
	}
	return id, nil
}

// validID reports whether s looks like an id ApplianceID wrote: 1 to 64 characters of [0-9a-z-].
func validID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r == '-') {
			return false
		}
	}
	return true
}
