package wiring

import (
	"github.com/askonce/askonce/internal/config"
	"github.com/askonce/askonce/internal/devbroker"
	"github.com/askonce/askonce/internal/devpg"
)

// The translations from the configuration's sections to the components' own
// config structs. A key added to a section that a component reads is added
// here too.

// DevPG is the private PostgreSQL's config (postgres.dev.*).
func DevPG(c config.DevPG) devpg.Config {
	return devpg.Config{Dir: c.Dir, Host: c.Host, Port: c.Port, BinDir: c.BinDir, Install: c.Install}
}

// Broker is the embedded broker's config (broker.*).
func Broker(c config.Broker) devbroker.Config {
	return devbroker.Config{
		Listen: c.Listen, DataDir: c.DataDir, SyncWrites: c.SyncWrites, DefaultPartitions: c.DefaultPartitions,
		SASL:        devbroker.SASL{Mechanism: c.SASL.Mechanism, Username: c.SASL.Username, Password: c.SASL.Password},
		TLSCertFile: c.TLSCertFile, TLSKeyFile: c.TLSKeyFile,
	}
}
