package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"time"
)

// The operations on a running environment besides deploys. A target offers
// each by implementing its interface; the engine answers the others with
// an error that names the target type.

// Scaler is a target whose number of units a person may change.
type Scaler interface {
	// Scale sets the number of units and says what changed, in words.
	Scale(ctx context.Context, units int) (string, error)
}

// Restarter is a target that restarts its units in place.
type Restarter interface {
	// Restart restarts every unit, the way a rollout restart does, and
	// says what it did.
	Restart(ctx context.Context) (string, error)
}

// Configurer is a target with a configuration people may change.
type Configurer interface {
	// SetConfig sets key to value in the environment's configuration,
	// restarts the units so they read it, and says what it did.
	SetConfig(ctx context.Context, key, value string) (string, error)
}

// Reporter is a target that can say what its units run right now.
type Reporter interface {
	Report(ctx context.Context) (Runtime, error)
}

// Runtime is what an environment runs right now, as its platform says.
type Runtime struct {
	Image          string // what the units run, e.g. a container image
	Ready, Desired int
	Restarts       int       // container restarts of the units running now
	LastRestart    time.Time // zero: none known
	Note           string    // anything else worth showing, e.g. "rollout paused"; "" for none
}

// The verbs of Op.
const (
	OpScale   = "scale"
	OpRestart = "restart"
	OpConfig  = "config"
)

// Op is an operation on a running environment.
type Op struct {
	Verb     string // OpScale, OpRestart or OpConfig
	Project  string
	Env      string
	Replicas int    // OpScale: the number of units wanted
	Key      string // OpConfig
	Value    string // OpConfig
}

// detail is the op as the audit log records it. A config value is kept
// as a digest, because people put secrets where they should not.
func (op Op) detail() string {
	switch op.Verb {
	case OpScale:
		return fmt.Sprintf("to %d", op.Replicas)
	case OpConfig:
		sum := sha256.Sum256([]byte(op.Value))
		return fmt.Sprintf("set %s (value sha256:%s)", op.Key, hex.EncodeToString(sum[:4]))
	}
	return ""
}

// Operate runs op on its environment as the actor and says what was done.
// The actor must be allowed to deploy there, the environment must not be
// locked by someone else, and no deploy may hold it. It is audited,
// whether the target succeeds or not.
func (e *Engine) Operate(ctx context.Context, a Actor, op Op) (string, error) {
	p, env, err := e.lookup(op.Project, op.Env)
	if err != nil {
		return "", err
	}
	scope := Deploy{Project: p.Name, Env: env.Name}
	if err := CanDeploy(a, env); err != nil {
		return "", e.refused(ctx, a, op.Verb, scope, err)
	}
	if err := e.checkLock(ctx, a, p.Name, env.Name, false); err != nil {
		return "", e.refused(ctx, a, op.Verb, scope, err)
	}
	h, err := e.holder(ctx, p.Name, env.Name)
	if err != nil {
		return "", err
	}
	if h != nil {
		return "", fmt.Errorf("%w: deploy %d is %s in %s %s; %s once it is done, or cancel it", ErrConflict, h.ID, h.State, p.Name, env.Name, op.Verb)
	}
	t, err := e.target(p, env)
	if err != nil {
		return "", fmt.Errorf("%s %s %s: target: %w", op.Verb, p.Name, env.Name, err)
	}
	var out string
	switch op.Verb {
	case OpScale:
		if op.Replicas < 0 {
			return "", fmt.Errorf("%w: scale to %d: the number of units cannot be negative", ErrInvalid, op.Replicas)
		}
		s, ok := t.(Scaler)
		if !ok {
			return "", unsupported(op, env)
		}
		out, err = s.Scale(ctx, op.Replicas)
	case OpRestart:
		r, ok := t.(Restarter)
		if !ok {
			return "", unsupported(op, env)
		}
		out, err = r.Restart(ctx)
	case OpConfig:
		if op.Key == "" {
			return "", fmt.Errorf("%w: config needs a key: config %s %s set KEY=VALUE", ErrInvalid, p.Name, env.Name)
		}
		c, ok := t.(Configurer)
		if !ok {
			return "", unsupported(op, env)
		}
		out, err = c.SetConfig(ctx, op.Key, op.Value)
	default:
		return "", fmt.Errorf("%w: %q is not an operation; use scale, restart or config", ErrInvalid, op.Verb)
	}
	if err != nil {
		e.audit(ctx, a, op.Verb+" failed", scope, op.detail())
		return "", fmt.Errorf("%s %s %s: %w", op.Verb, p.Name, env.Name, err)
	}
	e.audit(ctx, a, op.Verb, scope, op.detail())
	return out, nil
}

func unsupported(op Op, env Environment) error {
	return fmt.Errorf("%w: %s is not supported by the %s target of %s %s", ErrInvalid, op.Verb, env.Target.Type, op.Project, env.Name)
}

// Runtime asks the target of an environment what it runs right now. ok is
// false when the target cannot say.
func (e *Engine) Runtime(ctx context.Context, project, env string) (rt Runtime, ok bool, err error) {
	p, en, err := e.lookup(project, env)
	if err != nil {
		return Runtime{}, false, err
	}
	t, err := e.target(p, en)
	if err != nil {
		return Runtime{}, false, err
	}
	r, ok := t.(Reporter)
	if !ok {
		return Runtime{}, false, nil
	}
	rt, err = r.Report(ctx)
	return rt, true, err
}

// RuntimeAnswer is what the target of one environment said it runs.
type RuntimeAnswer struct {
	Runtime Runtime
	OK      bool  // the target can say; false for targets that cannot
	Err     error // it can say but failed to
}

// The bounds of Runtimes: a slow or broken platform makes its answers
// errors, not the status reply or the board hang.
const (
	runtimeCalls   = 8
	runtimeTimeout = 2 * time.Second
)

// Runtimes asks the target of each environment what it runs, at most
// runtimeCalls at a time and each for at most runtimeTimeout; answer i is
// for envs[i].
func (e *Engine) Runtimes(ctx context.Context, envs []EnvStatus) []RuntimeAnswer {
	out := make([]RuntimeAnswer, len(envs))
	sem := make(chan struct{}, runtimeCalls)
	var wg sync.WaitGroup
	for i, s := range envs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(ctx, runtimeTimeout)
			defer cancel()
			a := &out[i]
			a.Runtime, a.OK, a.Err = e.Runtime(ctx, s.Project, s.Env)
		})
	}
	wg.Wait()
	return out
}
