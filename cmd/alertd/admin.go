package main

import (
	"context"
	"fmt"

	"github.com/alertd/alertd/internal/admin"
)

// admin runs 'alertd admin link EMAIL': a sign-in link for first set-up, or
// while mail is down, printed instead of mailed.
func (env *environment) admin(ctx context.Context, args []string) error {
	if len(args) != 2 || args[0] != "link" {
		return usagef("usage: alertd admin link EMAIL")
	}
	return env.withCore(ctx, func(c *core) error {
		token, err := c.admin.PrintLink(ctx, args[1])
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "%s/admin/login/%s\n", env.cfg.Server.BaseURL, token)
		fmt.Fprintf(env.stderr, "The link works once, for %d minutes.\n", int(admin.LinkTTL.Minutes()))
		return nil
	})
}
