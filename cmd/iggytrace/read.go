package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/iggytrace/iggytrace/decoder"
	"github.com/iggytrace/iggytrace/internal/samples"
	"github.com/iggytrace/iggytrace/loader/pcapfile"
)

func newReadCmd() *cobra.Command {
	var out outputFlags
	var progress string
	cmd := &cobra.Command{
		Use:   "read [FILE]",
		Short: "Decode Iggy traffic from a pcap or pcapng file",
		Long: `read decodes the Iggy connections in a pcap or pcapng capture (Ethernet,
Linux cooked, loopback or raw IP link types) and prints one line per request.
Without FILE it reads a capture embedded in iggytrace: a full session of the
official Go SDK against iggytrace's test server. "-" reads standard input.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := out.pipeline(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			ports, err := out.serverPorts()
			if err != nil {
				return err
			}
			rd, name, err := openCapture(args, pcapfile.Config{ServerPorts: ports})
			if err != nil {
				return err
			}
			defer rd.Close()
			showProgress := progress == "always" || (progress == "auto" && isTerminal(os.Stderr))
			err = readAll(cmd, rd, p, showProgress)
			if ferr := p.finish(); err == nil {
				err = ferr
			}
			p.summary(cmd.ErrOrStderr(), name, rd.Stats())
			if err == nil && p.metrics != nil && cmd.Context().Err() == nil {
				// The file is done; keep the metrics up for a scrape.
				fmt.Fprintf(cmd.ErrOrStderr(), "serving metrics at http://%s/metrics until interrupted\n", out.sinks.metricsAddr)
				<-cmd.Context().Done()
			}
			return err
		},
	}
	out.register(cmd)
	cmd.Flags().StringVar(&progress, "progress", "auto", "progress on stderr: auto (when stderr is a terminal), always or never")
	return cmd
}

func openCapture(args []string, cfg pcapfile.Config) (*pcapfile.Reader, string, error) {
	switch {
	case len(args) == 0:
		rd, err := pcapfile.NewReader(samples.Session(), cfg)
		return rd, samples.SessionName, err
	case args[0] == "-":
		rd, err := pcapfile.NewReader(os.Stdin, cfg)
		return rd, "stdin", err
	}
	rd, err := pcapfile.Open(args[0], cfg)
	return rd, args[0], err
}

func readAll(cmd *cobra.Command, rd *pcapfile.Reader, p *pipeline, showProgress bool) error {
	ctx := cmd.Context()
	var seg decoder.Segment
	last := time.Now()
	for n := 0; ; n++ {
		if err := rd.Next(&seg); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return err
		}
		if err := p.feed(&seg); err != nil {
			return err
		}
		if n&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return nil // interrupted: flush what we have
			}
			if showProgress && time.Since(last) > 200*time.Millisecond {
				last = time.Now()
				read, total := rd.Progress()
				printProgress(cmd.ErrOrStderr(), read, total)
			}
		}
	}
	if showProgress {
		fmt.Fprint(cmd.ErrOrStderr(), "\r\033[K")
	}
	return nil
}

func printProgress(w io.Writer, read, total int64) {
	if total > 0 {
		fmt.Fprintf(w, "\r\033[Kreading: %.1f%% (%d/%d MB)", 100*float64(read)/float64(total), read>>20, total>>20)
		return
	}
	fmt.Fprintf(w, "\r\033[Kreading: %d MB", read>>20)
}
