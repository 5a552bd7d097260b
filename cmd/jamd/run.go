package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// version is stamped at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

// env reads one environment variable; tests pass their own.
type env func(string) string

// run is the whole program: main only calls it, so tests can run jamd in-process.
// It returns the exit status.
func run(ctx context.Context, args []string, getenv env, stdin io.Reader, stdout, stderr io.Writer) int {
	root := &cobra.Command{
		Use:           "jamd",
		Short:         "jamd is a LAN jam-session appliance: phones on one Wi-Fi share a tempo, a key and a beat.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(
		newServeCommand(getenv, stdout, stderr),
		newVersionCommand(stdout),
		newDiscoverCommand(stdout),
		newQRCommand(getenv, stdout),
		newSessionsCommand(getenv, stdout),
		newEndCommand(getenv, stdout),
		newBackupCommand(getenv, stdout),
		newRestoreCommand(getenv, stdout),
		newHotspotCommand(getenv, stdout),
	)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(stderr, "jamd: %s\n", sentence(err))
		return 1
	}
	return 0
}

func newVersionCommand(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of this jamd",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			fmt.Fprintln(stdout, version)
			return nil
		},
	}
}

// bindEnv fills every flag the user did not set from JAMD_<FLAG> (upper case, - becomes _).
func bindEnv(flags *pflag.FlagSet, getenv env) error {
	var errs []error
	flags.VisitAll(func(f *pflag.Flag) {
		if f.Changed {
			return
		}
		name := "JAMD_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		v := getenv(name)
		if v == "" {
			return
		}
		if err := f.Value.Set(v); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q is not a valid value for --%s", name, v, f.Name))
		}
	})
	return errors.Join(errs...)
}

// sentence turns an error into one line for the operator, never a stack trace.
func sentence(err error) string {
	s := strings.ReplaceAll(err.Error(), "\n", "; ")
	if s != "" && !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}
