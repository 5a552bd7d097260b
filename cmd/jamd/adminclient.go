package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// systemDataDir is where jamd.service keeps its data (StateDirectory=jamd).
const systemDataDir = "/var/lib/jamd"

// adminFlags are how `jamd sessions`, `jamd end` and `jamd backup` reach a running jamd: its
// address and its admin token.
type adminFlags struct {
	server    string
	tokenFile string
	dataDir   string
}

func (a *adminFlags) register(f *pflag.FlagSet) {
	f.StringVar(&a.server, "server", "", "the running jamd (default: the host and port of $JAMD_ADDR, else http://127.0.0.1:8080)")
	f.StringVar(&a.tokenFile, "token-file", "", "file holding the admin token (default: $JAMD_ADMIN_TOKEN, else the data dir's admin-token)")
	f.StringVar(&a.dataDir, "data-dir", "", "jamd's data dir, for its admin-token (default: as jamd serve's, else "+systemDataDir+")")
}

// adminClient makes requests to a running jamd with its admin token.
type adminClient struct {
	base  string
	token string
}

// client resolves the server and the token: --token-file when given, else JAMD_ADMIN_TOKEN,
// else the admin-token in the data dir.
func (a *adminFlags) client(cmd *cobra.Command, getenv env) (*adminClient, error) {
	if err := bindEnv(cmd.Flags(), getenv); err != nil {
		return nil, err
	}
	server := a.server
	if server == "" {
		server = defaultServer(getenv)
	}
	if !strings.Contains(server, "://") {
		server = "http://" + server
	}
	c := &adminClient{base: strings.TrimRight(server, "/")}
	path := a.tokenFile
	if path == "" {
		if t := strings.TrimSpace(getenv("JAMD_ADMIN_TOKEN")); t != "" {
			c.token = t
			return c, nil
		}
		path = filepath.Join(adminDataDir(a.dataDir, getenv), "admin-token")
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrPermission) {
		return nil, fmt.Errorf("cannot read the admin token %s: permission denied (run this as root or as the user jamd runs as, or set JAMD_ADMIN_TOKEN)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read the admin token %s (pass --data-dir or --token-file, or set JAMD_ADMIN_TOKEN): %w", path, errors.Unwrap(err))
	}
	c.token = strings.TrimSpace(string(b))
	return c, nil
}

// adminDataDir is the data dir of this machine's jamd: dir when given, else jamd serve's default
// when it holds a jamd, else jamd.service's.
func adminDataDir(dir string, getenv env) string {
	if dir != "" {
		return dir
	}
	def := defaultDataDir(getenv)
	for _, f := range []string{"admin-token", "jamd.db"} {
		if _, err := os.Stat(filepath.Join(def, f)); err == nil {
			return def
		}
	}
	if _, err := os.Stat(systemDataDir); err == nil {
		return systemDataDir
	}
	return def
}

// do sends one request and returns the response when its status is 200; any other answer
// becomes an error that says what to do.
func (c *adminClient) do(ctx context.Context, method, path string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, fmt.Errorf("--server %q is not a URL", c.base)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach jamd at %s (is it running? pass --server): %w", c.base, errors.Unwrap(err))
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer resp.Body.Close()
	var e struct {
		Error struct{ Code, Message string }
	}
	json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&e)
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return nil, fmt.Errorf("jamd at %s refused the admin token: use the admin-token of that jamd's data dir (--data-dir, --token-file or JAMD_ADMIN_TOKEN)", c.base)
	case e.Error.Message != "":
		return nil, errors.New(strings.TrimSuffix(e.Error.Message, "."))
	default:
		return nil, fmt.Errorf("jamd at %s answered %s %s with %s (is it a jamd of this version?)", c.base, method, path, resp.Status)
	}
}

// getJSON GETs path and decodes the answer into v.
func (c *adminClient) getJSON(ctx context.Context, path string, v any) error {
	resp, err := c.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(v); err != nil {
		return fmt.Errorf("jamd at %s sent an answer that is not JSON: %w", c.base, err)
	}
	return nil
}
