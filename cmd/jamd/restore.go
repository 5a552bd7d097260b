package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"jamd/store"
)

func newRestoreCommand(getenv env, stdout io.Writer) *cobra.Command {
	var dataDir string
	cmd := &cobra.Command{
		Use:   "restore FILE",
		Short: "Put a backup back in place of jamd's sessions (with jamd stopped)",
		Long: "Check FILE (a backup from jamd backup), then put it in place of jamd.db in the data dir,\n" +
			"atomically. The database it replaces is kept as jamd.db.before-restore. It refuses while a\n" +
			"jamd is running on that data dir: stop it first (sudo systemctl stop jamd).",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := bindEnv(cmd.Flags(), getenv); err != nil {
				return err
			}
			dir := adminDataDir(dataDir, getenv)
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return fmt.Errorf("cannot create the data dir %s: %w", dir, errors.Unwrap(err))
			}
			dst := filepath.Join(dir, "jamd.db")
			sessions, err := store.Restore(args[0], dst)
			if errors.Is(err, store.ErrInUse) {
				return fmt.Errorf("a jamd is running on %s: stop it first (sudo systemctl stop jamd), restore, then start it again; nothing was changed", dir)
			}
			if err != nil {
				return fmt.Errorf("nothing was changed: %w", err)
			}
			fmt.Fprintf(stdout, "Restored %d %s into %s.\n", sessions, plural(sessions, "session", "sessions"), dst)
			if _, err := os.Stat(dst + ".before-restore"); err == nil {
				fmt.Fprintf(stdout, "The database it replaced is kept as %s.before-restore.\n", dst)
			}
			fmt.Fprintln(stdout, "Start jamd again (sudo systemctl start jamd); phones resume their seats by themselves.")
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "the data dir to restore into (default: as jamd serve's, else "+systemDataDir+")")
	return cmd
}
