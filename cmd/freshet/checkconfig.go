package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/freshet-dev/freshet/config"
)

func newCheckConfigCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check-config FILE",
		Short: "Validate an asset definitions file without starting a server",
		Long: `Validate freshet.yaml and print every problem as FILE:LINE: FIELD: MESSAGE
(unknown fields, invalid keys, duplicate keys, unknown deps, dependency
cycles, invalid freshness policies...). Exit code 0 when valid, 1 when
problems were found, 2 when the file cannot be read.`,
		Example: `  freshet check-config freshet.yaml`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := config.Load(args[0])
			var problems config.Problems
			switch {
			case errors.As(err, &problems):
				for _, p := range problems {
					fmt.Fprintln(cmd.OutOrStdout(), p.Error())
				}
				return &exitError{code: 1, err: fmt.Errorf("%s: %d problem(s)", args[0], len(problems))}
			case err != nil:
				return &exitError{code: 2, err: err}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok, %d assets\n", args[0], len(f.Assets))
			return nil
		},
	}
}
