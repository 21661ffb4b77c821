package main

import (
	"fmt"
	"sort"

	"github.com/spf13/cobra"

	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/internal/wiring"
)

func (a *app) topicsCmd() *cobra.Command {
	keys := map[string]string{"brokers": "kafka.brokers"}
	cmd := &cobra.Command{
		Use:   "topics",
		Short: "Create or list the bus topics on the configured Kafka cluster",
	}
	cmd.PersistentFlags().StringSlice("brokers", nil, "bootstrap brokers (default from kafka.brokers)")
	cmd.AddCommand(&cobra.Command{
		Use:   "ensure",
		Short: "Create the askonce topics that are missing (partitions and retention from config)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := a.load(cmd, keys)
			if err != nil {
				return err
			}
			c, err := bus.New(wiring.Kafka(cfg.Kafka))
			if err != nil {
				return err
			}
			defer c.Close()
			res, err := c.EnsureTopics(cmd.Context(), c.Topics().Specs(), log)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "created %d, already present %d\n", len(res.Created), len(res.Existed))
			return nil
		},
	}, &cobra.Command{
		Use:   "list",
		Short: "List the cluster's topics with their partition counts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, _, err := a.load(cmd, keys)
			if err != nil {
				return err
			}
			c, err := bus.New(wiring.Kafka(cfg.Kafka))
			if err != nil {
				return err
			}
			defer c.Close()
			topics, err := c.ListTopics(cmd.Context())
			if err != nil {
				return err
			}
			names := make([]string, 0, len(topics))
			for n := range topics {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				fmt.Fprintf(a.stdout, "%-40s %d\n", n, topics[n])
			}
			return nil
		},
	})
	return cmd
}
