package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/spf13/cobra"

	"jamd/appliance"
)

func newEndCommand(getenv env, stdout io.Writer) *cobra.Command {
	var a adminFlags
	var reason string
	cmd := &cobra.Command{
		Use:   "end CODE",
		Short: "End a session of a running jamd; everyone in it is told why",
		Long: "End a session: it is deleted, and every phone in it shows the reason and does not rejoin.\n" +
			"For a stuck room, or one left open at the end of the night.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			code, err := appliance.NormalizeRoomCode(args[0])
			if err != nil {
				return fmt.Errorf("%q is not a room code (6 letters and digits)", args[0])
			}
			c, err := a.client(cmd, getenv)
			if err != nil {
				return err
			}
			body, _ := json.Marshal(map[string]string{"reason": reason})
			resp, err := c.do(cmd.Context(), http.MethodPost, "/api/sessions/"+code+"/end", bytes.NewReader(body))
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			var ended struct {
				Reason string `json:"reason"`
				Told   int    `json:"told"`
			}
			json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&ended)
			fmt.Fprintf(stdout, "Ended %s. %d connected %s told: %q\n", code, ended.Told, plural(ended.Told, "phone was", "phones were"), ended.Reason)
			return nil
		},
	}
	a.register(cmd.Flags())
	cmd.Flags().StringVar(&reason, "reason", "", "what everyone in the session is told (default: \""+appliance.DefaultEndReason+"\")")
	return cmd
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
