package wiring

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// sharedRegisterer registers collectors that another component of the same
// process may already have registered under the same names: `askonce dev`
// runs the lookup API and the notification router side by side, each with
// an audit.Log, on one registry. Whichever registers first is exported;
// the other's registration is a no-op instead of a panic that depended on
// which goroutine got there first. (The router does the same.)
type sharedRegisterer struct{ prometheus.Registerer }

func (s sharedRegisterer) Register(c prometheus.Collector) error {
	var are prometheus.AlreadyRegisteredError
	if err := s.Registerer.Register(c); err != nil && !errors.As(err, &are) {
		return err
	}
	return nil
}

func (s sharedRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := s.Register(c); err != nil {
			panic(err)
		}
	}
}
