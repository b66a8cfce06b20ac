package credentials

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/osmen-ai/llmroute/sidecar/config"
	"github.com/osmen-ai/llmroute/sidecar/metrics"
)

// Cool-downs of a pool's key answered 429.
const (
	// DefaultCooldown applies when the 429 did not say how long to wait.
	DefaultCooldown = 10 * time.Second
	// MinCooldown keeps a key answered "retry after 0" from being picked
	// again for the very call it just failed.
	MinCooldown = time.Second
	// MaxCooldown bounds a Retry-After far in the future.
	MaxCooldown = time.Hour
)

// pool is a provider's several static keys (apiKeys). Calls are spread over
// the usable keys that serve the requested model, by weight (smooth
// weighted round robin, as nginx spreads over upstreams: the heaviest key
// does not take its share in one burst). A key answered 429 cools down for
// its Retry-After while the others serve; one answered 401 or 403 is set
// aside until its file changes (a reload then builds it afresh). The
// provider's breaker is not the keys' business: it only hears how a call
// ended, after any switch of key.
type pool struct {
	provider string
	keys     []*poolKey
	clock    Clock
	log      logr.Logger
	mu       sync.Mutex // guards the keys' current weights
}

type poolKey struct {
	cfg  config.APIKey
	cred Credential
	// st is shared with the key of the same name and value in the source
	// this one replaced: a reload keeps a cool-down and a refusal.
	st      *keyState
	current int // smooth weighted round robin's running weight; pool.mu
}

type keyState struct {
	coolUntil atomic.Int64 // UnixNano; cooling down while in the future; 0 when not
	refused   atomic.Bool  // answered 401 or 403: set aside
}

func newPool(pc config.Provider, prev Source, env *Env) (*pool, error) {
	p := &pool{provider: pc.Name, clock: env.Clock, log: env.Log}
	old := map[string]*poolKey{}
	if pp, ok := prev.(*pool); ok {
		for _, k := range pp.keys {
			old[k.cfg.Name] = k
		}
	}
	var errs []error
	for _, kc := range pc.APIKeys {
		what := fmt.Sprintf("API key %q of provider %q", kc.Name, pc.Name)
		var v string
		var err error
		if kc.File != "" {
			v, err = readKey(kc.File, what)
		} else {
			v, err = readEnv(kc.Env, what)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		k := &poolKey{cfg: kc, st: &keyState{}}
		header, value := familyHeader(pc.Type, v)
		k.cred = Credential{Header: header, Value: value, Key: kc.Name, key: k, attempts: map[string]prometheus.Counter{}}
		for _, o := range metrics.Outcomes {
			k.cred.attempts[o] = env.Metrics.KeyAttempts.WithLabelValues(pc.Name, kc.Name, o)
		}
		if o := old[kc.Name]; o != nil && o.cred.Value == value {
			k.st = o.st
		}
		p.keys = append(p.keys, k)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

// serves reports whether the key may serve a call for model. A call that
// names no model (a file upload, say) may use any key.
func (k *poolKey) serves(model string) bool {
	if len(k.cfg.Models) == 0 || model == "" {
		return true
	}
	for _, m := range k.cfg.Models {
		if ok, _ := path.Match(m, model); ok {
			return true
		}
	}
	return false
}

func (p *pool) Pick(_ context.Context, call Call) (*Credential, error) {
	model := call.Model
	p.mu.Lock()
	defer p.mu.Unlock()
	var best *poolKey
	total, serving := 0, 0
	var now int64     // read once a key has a cool-down to compare it with
	var coolest int64 // the earliest end of a cool-down among the keys that serve
	for _, k := range p.keys {
		if !k.serves(model) {
			continue
		}
		serving++
		if k.st.refused.Load() {
			continue
		}
		if until := k.st.coolUntil.Load(); until != 0 {
			if now == 0 {
				now = p.clock.Now().UnixNano()
			}
			if until > now {
				if coolest == 0 || until < coolest {
					coolest = until
				}
				continue
			}
			// Cooled down: forget it, so that the picks to come need not
			// read the clock for it (unless a new 429 came meanwhile).
			k.st.coolUntil.CompareAndSwap(until, 0)
		}
		if call.Stable {
			return &k.cred, nil
		}
		k.current += k.cfg.Weight
		total += k.cfg.Weight
		if best == nil || k.current > best.current {
			best = k
		}
	}
	switch {
	case best != nil:
		best.current -= total
		return &best.cred, nil
	case serving == 0:
		return nil, fmt.Errorf("%w: no key of provider %q serves model %q (apiKeys[].models)", ErrNoCredential, p.provider, model)
	case coolest != 0:
		return nil, fmt.Errorf("%w: every usable key of provider %q is cooling down after a 429, the first for %s more",
			ErrCoolingDown, p.provider, time.Duration(coolest-now).Round(time.Millisecond))
	}
	return nil, fmt.Errorf("%w: every key of provider %q that serves model %q was refused (401/403) and is set aside until its file changes",
		ErrNoCredential, p.provider, model)
}

func (p *pool) Answered(ctx context.Context, c *Credential, call Call, a Answer) *Credential {
	k := c.key
	if k == nil || a.Status < 400 {
		return nil
	}
	switch a.Status {
	case http.StatusTooManyRequests:
		d := DefaultCooldown
		if a.HasRetryAfter {
			d = min(max(a.RetryAfter, MinCooldown), MaxCooldown)
		}
		k.st.coolUntil.Store(p.clock.Now().Add(d).UnixNano())
		p.log.V(1).Info("Key cooling down after a 429", "provider", p.provider, "key", k.cfg.Name, "for", d.String())
	case http.StatusUnauthorized, http.StatusForbidden:
		if k.st.refused.CompareAndSwap(false, true) {
			p.log.Info("Key set aside: the provider refused it; it is used again once its file changes",
				"provider", p.provider, "key", k.cfg.Name, "status", a.Status)
		}
	default:
		return nil
	}
	next, err := p.Pick(ctx, call)
	if err != nil || next == c {
		return nil
	}
	return next
}

func (p *pool) Status() Status {
	st := Status{Kind: KindAPIKeys, Keys: make([]KeyStatus, len(p.keys))}
	now := p.clock.Now().UnixNano()
	usable, cooling := false, false
	for i, k := range p.keys {
		s := Usable
		switch {
		case k.st.refused.Load():
			s = Refused
		case k.st.coolUntil.Load() > now:
			s, cooling = CoolingDown, true
		default:
			usable = true
		}
		st.Keys[i] = KeyStatus{Name: k.cfg.Name, State: s}
	}
	switch {
	case usable:
	case cooling:
		st.Err = fmt.Errorf("%w: every key that is not set aside is cooling down after a 429", ErrCoolingDown)
	default:
		st.Err = fmt.Errorf("%w: every key was refused (401/403) and is set aside until its file changes", ErrNoCredential)
	}
	return st
}

func (p *pool) changedFrom(prev Source) []string {
	pp, ok := prev.(*pool)
	if !ok {
		return nil
	}
	old := map[string]string{}
	for _, k := range pp.keys {
		old[k.cfg.Name] = k.cred.Value
	}
	var changed []string
	for _, k := range p.keys {
		if v, ok := old[k.cfg.Name]; !ok || v != k.cred.Value {
			changed = append(changed, "key "+k.cfg.Name)
		}
	}
	return changed
}
