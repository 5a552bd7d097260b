package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"jamd/appliance"
)

func newSessionsCommand(getenv env, stdout io.Writer) *cobra.Command {
	var a adminFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "sessions",
		Short: "List the sessions of a running jamd: who is there, tempo, playing",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client(cmd, getenv)
			if err != nil {
				return err
			}
			var list struct {
				Sessions []appliance.SessionSummary `json:"sessions"`
			}
			if err := c.getJSON(cmd.Context(), "/api/sessions", &list); err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(list.Sessions)
			}
			return printSessions(stdout, list.Sessions, time.Now())
		},
	}
	a.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	return cmd
}

// printSessions prints one line per session: code, who is there, age, tempo and playing.
func printSessions(w io.Writer, sessions []appliance.SessionSummary, now time.Time) error {
	if len(sessions) == 0 {
		_, err := fmt.Fprintln(w, "No sessions.")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CODE\tPEOPLE\tAGE\tIDLE\tTEMPO\tPLAYING")
	for _, s := range sessions {
		playing := "no"
		if s.IsPlaying {
			playing = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.RoomCode, people(s), age(now.Sub(s.CreatedAt)), age(now.Sub(s.LastActive)),
			strconv.FormatFloat(s.Tempo, 'f', -1, 64), playing)
	}
	return tw.Flush()
}

// people is "3: 2 connected, 1 away".
func people(s appliance.SessionSummary) string {
	var parts []string
	for _, p := range []struct {
		n    int
		what string
	}{{s.Connected, "connected"}, {s.Reconnecting, "reconnecting"}, {s.Away, "away"}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.what))
		}
	}
	if len(parts) == 0 {
		return "0"
	}
	return fmt.Sprintf("%d: %s", s.Participants, strings.Join(parts, ", "))
}

// age is a duration as a person reads it: 45s, 12m, 3h05m, 2d04h.
func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", max(0, int(d.Seconds())))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
	}
}
