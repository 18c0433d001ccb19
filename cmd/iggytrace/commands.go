package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/iggytrace/iggytrace/decoder/protocol"
)

func newCommandsCmd() *cobra.Command {
	var markdown bool
	cmd := &cobra.Command{
		Use:   "commands",
		Short: "List the Iggy commands iggytrace decodes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			if markdown {
				return protocol.WriteMarkdown(out)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CODE\tNAME\tDOTTED\tGROUP\tKIND\tVERSIONS")
			for _, c := range protocol.Commands() {
				var kind []string
				if c.Admin {
					kind = append(kind, "admin")
				}
				if c.Auth {
					kind = append(kind, "auth")
				}
				if len(c.Secrets) > 0 {
					kind = append(kind, "redacts "+strings.Join(c.Secrets, ","))
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", c.Code, c.Name, c.Dotted, c.Group, strings.Join(kind, " "), versionRange(c))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&markdown, "markdown", false, "print the full protocol description as Markdown")
	return cmd
}

func versionRange(c *protocol.Command) string {
	if c.VSROnly {
		return "0.9-edge (VSR) only"
	}
	from := "0.5"
	if c.Since != protocol.VersionUnknown {
		from = c.Since.String()
	}
	if c.Until != protocol.VersionUnknown {
		return from + "–" + c.Until.String()
	}
	return from + "+"
}
