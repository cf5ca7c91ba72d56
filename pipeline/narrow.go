package pipeline

import (
	"fmt"
	"reflect"
	"slices"
)

// WithoutOptional is the project with its optional environments left out:
// what a repository's forge events route to until its .ferry.yaml adds
// some.
func (p Project) WithoutOptional() Project {
	out := p
	out.Envs = nil
	for _, e := range p.Envs {
		if !e.Optional {
			out.Envs = append(out.Envs, e)
		}
	}
	return out
}

// Narrows says, with an error wrapping ErrInvalid, how o would widen the
// configured environment it stands for, as a per-request environment
// (Request.Override) must never do. o may differ from configured in:
//
//   - Branches and Tags: a ref must pass o's rules and configured's both;
//   - DefaultRef, Auto and Strategy, which are not policy;
//   - Approvals.Required, only upwards.
//
// Everything else (its name, target, deployers, who approves and for how
// long, lock TTL, URL, whether it is optional) must be as configured.
func Narrows(o, configured Environment) error {
	widens := func(what string) error {
		return fmt.Errorf("%w: the environment %s given with the request changes %s, which only ferry's configuration sets", ErrInvalid, configured.Name, what)
	}
	switch {
	case o.Name != configured.Name:
		return widens("its name (" + o.Name + ")")
	case !reflect.DeepEqual(o.Target, configured.Target):
		return widens("its target")
	case !slices.Equal(o.Deployers, configured.Deployers):
		return widens("who may deploy")
	case !slices.Equal(o.Approvals.From, configured.Approvals.From):
		return widens("who may approve")
	case o.Approvals.Expire != configured.Approvals.Expire:
		return widens("how long approvals are awaited")
	case o.LockTTL != configured.LockTTL:
		return widens("its lock TTL")
	case o.URL != configured.URL:
		return widens("its URL")
	case o.Optional != configured.Optional:
		return widens("whether it is optional")
	case o.Approvals.Required < configured.Approvals.Required:
		return fmt.Errorf("%w: the environment %s given with the request needs %d approval(s), fewer than the %d configured", ErrInvalid, configured.Name, o.Approvals.Required, configured.Approvals.Required)
	}
	return nil
}
