package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"jamd/discovery"
)

func newDiscoverCommand(stdout io.Writer) *cobra.Command {
	var timeout time.Duration
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "discover",
		Short: "List the jamd appliances on this LAN (over mDNS)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if timeout <= 0 {
				return fmt.Errorf("--timeout %s must be positive", timeout)
			}
			found, err := discovery.Browse(cmd.Context(), timeout)
			if err != nil {
				return fmt.Errorf("cannot browse the LAN: %w", err)
			}
			if asJSON {
				if found == nil {
					found = []discovery.Appliance{}
				}
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(found)
			}
			if len(found) == 0 {
				fmt.Fprintf(stdout, "No jamd found on this LAN within %s.\n", timeout)
				return nil
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tURL\tVERSION")
			for _, a := range found {
				urls := strings.Join(a.URLs, " ")
				if urls == "" {
					urls = "(no address yet)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", a.Name, urls, a.Version)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Second, "how long to listen for answers")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array of {name, urls, version, id, host, port}")
	return cmd
}
