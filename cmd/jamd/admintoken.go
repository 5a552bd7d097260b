package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// adminToken returns the token that guards /api/stats, kept in --admin-token-file or the data
// dir's admin-token (a file, so the secret is never on a command line that ps shows), created
// with mode 0600 on first start. The log says where it is, never what it is.
func adminToken(cfg serveConfig, log *slog.Logger) (string, error) {
	path := cfg.AdminTokenFile
	if path == "" {
		path = filepath.Join(cfg.DataDir, "admin-token")
	}
	b, err := os.ReadFile(path)
	switch {
	case err == nil && strings.TrimSpace(string(b)) != "":
		return strings.TrimSpace(string(b)), nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("cannot read the admin token %s: %w", path, errors.Unwrap(err))
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("cannot generate an admin token: %w", err)
	}
	token := hex.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("cannot write the admin token to %s (is the data dir writable?): %w", path, errors.Unwrap(err))
	}
	log.Info("generated an admin token for /api/stats", "path", path)
	return token, nil
}
