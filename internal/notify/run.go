package notify

import (
	"context"

	"github.com/askonce/askonce/internal/bus"
	"github.com/askonce/askonce/schemas"
)

// UseNotificationSchemas registers (or, without registry.auto_register,
// looks up) the notification schema under the subject of each configured
// agency's topic, askonce.notify.<agency>-value, so conn's codec can
// encode and decode notifications.
func UseNotificationSchemas(ctx context.Context, conn *bus.Conn, agencies []string) error {
	sub, err := schemas.NotificationSubject()
	if err != nil {
		return err
	}
	for _, a := range agencies {
		if _, err := conn.Codec.Use(ctx, conn.Client.Topics().Notify(a), sub.Latest()); err != nil {
			return err
		}
	}
	return nil
}

// UsePortfolioSchemas registers (or, without registry.auto_register, looks
// up) the portfolio schema under the subject of each configured agency's
// portfolio topic, askonce.portfolio.<agency>-value, so the router's codec
// can decode the back offices' changes.
func UsePortfolioSchemas(ctx context.Context, conn *bus.Conn, agencies []string) error {
	sub, err := schemas.PortfolioSubject()
	if err != nil {
		return err
	}
	for _, a := range agencies {
		if _, err := conn.Codec.Use(ctx, conn.Client.Topics().AgencyPortfolio(a), sub.Latest()); err != nil {
			return err
		}
	}
	return nil
}
