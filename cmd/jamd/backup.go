package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"jamd/store"
)

func newBackupCommand(getenv env, stdout io.Writer) *cobra.Command {
	var a adminFlags
	cmd := &cobra.Command{
		Use:   "backup FILE",
		Short: "Copy the sessions of a running jamd to FILE, while it keeps serving",
		Long: "Fetch a consistent copy of the session database from a running jamd (GET /api/backup) and\n" +
			"write it to FILE once it is checked: FILE is either the whole backup or left as it was.\n" +
			"jamd restore FILE puts it back.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client(cmd, getenv)
			if err != nil {
				return err
			}
			resp, err := c.do(cmd.Context(), http.MethodGet, "/api/backup", nil)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			n, sessions, err := writeBackup(args[0], resp.Body)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "Backed up %d %s (%d KiB) from %s to %s\n", sessions, plural(sessions, "session", "sessions"), (n+1023)/1024, c.base, args[0])
			return nil
		},
	}
	a.register(cmd.Flags())
	return cmd
}

// writeBackup writes r to a temporary file next to path, syncs and checks it (store.Check), and
// renames it to path.
func writeBackup(path string, r io.Reader) (n int64, sessions int, err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".partial-*")
	if err != nil {
		return 0, 0, fmt.Errorf("cannot write the backup in %s: %w", filepath.Dir(path), errors.Unwrap(err))
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	n, err = io.Copy(tmp, r)
	if err != nil {
		tmp.Close()
		return n, 0, fmt.Errorf("the backup was cut off after %d bytes (jamd logged why; try again): %w", n, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return n, 0, fmt.Errorf("cannot write the backup to disk: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return n, 0, fmt.Errorf("cannot write the backup to disk: %w", err)
	}
	sessions, err = store.Check(tmp.Name())
	if err != nil {
		return n, 0, fmt.Errorf("the backup jamd sent does not check out, so %s was not written: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return n, 0, fmt.Errorf("cannot put the backup at %s: %w", path, errors.Unwrap(err))
	}
	return n, sessions, nil
}
