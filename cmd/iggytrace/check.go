package main

import (
	"github.com/spf13/cobra"

	"github.com/iggytrace/iggytrace/loader"
)

func newCheckCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Probe what this kernel allows for live capture, and why not where it does not",
		Long: `check loads and attaches small test programs of every type iggytrace could
use (cgroup_skb, tcx, tp_btf, kprobe, fentry) and reports, for a person, what
works here, what does not and why (no BTF, no cgroup v2, lockdown, no
CONFIG_KPROBES, function tracing disabled, ...), then the capture plan.
It needs the privileges tracing needs (root, or CAP_BPF + CAP_PERFMON + CAP_NET_ADMIN).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r := loader.Probe()
			if err := r.Format(cmd.OutOrStdout()); err != nil {
				return err
			}
			return r.CanCapture()
		},
	}
}
