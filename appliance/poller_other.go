//go:build !linux

package appliance

import "errors"

// poller is Linux's (poller_linux.go); elsewhere every connection reads with a goroutine of its own.
type poller struct{}

func newPoller() (*poller, error) { return nil, errors.ErrUnsupported }

func (p *poller) add(*Client) error { return errors.ErrUnsupported }
func (p *poller) forget(*Client)    {}
func (p *poller) close()            {}
