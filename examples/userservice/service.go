package main

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bourse-go/bourse/actors"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// Exchange names.
const (
	exUsers   = "users"           // req-resp: profile reads and updates
	exUpdates = "profile-updates" // pub-sub: profiles.<id>.<field>
)

// sweepEvery is the background task's period, and sweepBatch how many
// pending profiles one sweep verifies at most.
const (
	sweepEvery = 10 * time.Millisecond
	sweepBatch = 5
)

// profile is a user's profile as the store keeps it.
type profile struct {
	ID, Name, Email string
	Status          string // "new", "pending" (documents uploaded) or "verified"
	VerifiedBy      string
}

func (p profile) proto() *structpb.Struct {
	return &structpb.Struct{Fields: map[string]*structpb.Value{
		"id":          structpb.NewStringValue(p.ID),
		"name":        structpb.NewStringValue(p.Name),
		"email":       structpb.NewStringValue(p.Email),
		"status":      structpb.NewStringValue(p.Status),
		"verified_by": structpb.NewStringValue(p.VerifiedBy),
	}}
}

// store stands for the storage layer, which the seed takes as solved and
// shared by every instance of the service.
type store struct {
	mu       sync.Mutex
	profiles map[string]*profile
}

func newStore(users int) *store {
	s := &store{profiles: map[string]*profile{}}
	for i := range users {
		id := fmt.Sprintf("u%d", i+1)
		s.profiles[id] = &profile{ID: id, Name: "user " + id, Email: id + "@example.com", Status: "new"}
	}
	return s
}

func (s *store) get(id string) (profile, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.profiles[id]
	if !ok {
		return profile{}, false
	}
	return *p, true
}

// update sets field of profile id and returns the profile.
func (s *store) update(id, field, value string) (profile, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.profiles[id]
	if !ok {
		return profile{}, fmt.Errorf("no user %q", id)
	}
	switch field {
	case "name":
		p.Name = value
	case "email":
		p.Email = value
	case "docs":
		// Uploaded documents wait for the background verification.
		p.Status, p.VerifiedBy = "pending", ""
	default:
		return profile{}, fmt.Errorf("no field %q", field)
	}
	return *p, nil
}

// verifyPending marks at most n pending profiles verified by who, and
// returns them.
func (s *store) verifyPending(n int, who string) []profile {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id, p := range s.profiles {
		if p.Status == "pending" {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	var out []profile
	for _, id := range ids[:min(n, len(ids))] {
		p := s.profiles[id]
		p.Status, p.VerifiedBy = "verified", who
		out = append(out, *p)
	}
	return out
}

func (s *store) pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, p := range s.profiles {
		if p.Status == "pending" {
			n++
		}
	}
	return n
}

// instance is one instance of the user service: a handler of "users" and,
// while the exchange names it leader, the one copy of the background
// verification task.
type instance struct {
	name   string
	b      *actors.Broker
	st     *store
	phase  *atomic.Int32
	served [3]atomic.Int64 // requests served in each phase: all up, leader stopping, one fewer
	tasks  *taskLog
	svc    *actors.Service

	stopping atomic.Bool // set by stop: no task starts again
	taskMu   sync.Mutex
	cancel   context.CancelFunc // of the running task, nil when none
	taskDone chan struct{}
}

// Handle serves one request of "users": {"op": "get", "id": ...} or
// {"op": "update", "id": ..., "field": ..., "value": ...}. An update is
// published on "profile-updates" under profiles.<id>.<field>.
func (in *instance) Handle(ctx context.Context, r *actors.Request) (proto.Message, error) {
	in.served[in.phase.Load()].Add(1)
	req, ok := r.Payload.(*structpb.Struct)
	if !ok {
		return nil, fmt.Errorf("want a structpb.Struct, got %T", r.Payload)
	}
	f := req.GetFields()
	id := f["id"].GetStringValue()
	switch op := f["op"].GetStringValue(); op {
	case "get":
		p, ok := in.st.get(id)
		if !ok {
			return nil, fmt.Errorf("no user %q", id)
		}
		return p.proto(), nil
	case "update":
		field := f["field"].GetStringValue()
		p, err := in.st.update(id, field, f["value"].GetStringValue())
		if err != nil {
			return nil, err
		}
		if err := in.b.Publish(ctx, exUpdates, "profiles."+id+"."+field, p.proto()); err != nil {
			return nil, err
		}
		return p.proto(), nil
	default:
		return nil, fmt.Errorf("unknown op %q", op)
	}
}

// onLeader starts the background task when this instance becomes leader
// and stops it when it no longer is. It runs in the service's actor.
func (in *instance) onLeader(is bool, l *actors.Leader) {
	if l != nil {
		in.tasks.sawLeader(l.GetLeader().GetOptions()["instance"])
	}
	if is && !in.stopping.Load() {
		in.startTask()
	} else if !is {
		in.stopTask()
	}
}

func (in *instance) startTask() {
	in.taskMu.Lock()
	defer in.taskMu.Unlock()
	if in.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	in.cancel, in.taskDone = cancel, done
	go func() {
		defer close(done)
		in.tasks.run(ctx, in)
	}()
}

// stopTask stops the task and waits until it has ended. It is idempotent.
func (in *instance) stopTask() {
	in.taskMu.Lock()
	defer in.taskMu.Unlock()
	if in.cancel == nil {
		return
	}
	in.cancel()
	<-in.taskDone
	in.cancel, in.taskDone = nil, nil
}

// stop stops the instance gracefully. Service.Stop steps the service down
// first (OnLeader(false) stops the task here) and only then leaves the
// exchange, which appoints the next leader: the task never runs twice.
func (in *instance) stop(ctx context.Context) error {
	in.stopping.Store(true)
	return in.svc.Stop(ctx)
}

// taskLog records the runs of the background task across instances, and
// how many ran at once.
type taskLog struct {
	st      *store
	b       *actors.Broker
	running atomic.Int32
	overlap atomic.Int32 // starts while another copy ran

	mu      sync.Mutex
	runs    []taskRun
	leaders []string // leaders the instances were told of, in order, without repeats
}

func (tl *taskLog) sawLeader(name string) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	if len(tl.leaders) == 0 || tl.leaders[len(tl.leaders)-1] != name {
		tl.leaders = append(tl.leaders, name)
	}
}

type taskRun struct {
	owner           string
	started, ended  time.Time
	sweeps, checked int
}

// run is the background task: it verifies uploaded documents and publishes
// each profile's new status, until ctx ends.
func (tl *taskLog) run(ctx context.Context, in *instance) {
	if tl.running.Add(1) > 1 {
		tl.overlap.Add(1)
	}
	defer tl.running.Add(-1)
	tl.mu.Lock()
	i := len(tl.runs)
	tl.runs = append(tl.runs, taskRun{owner: in.name, started: time.Now()})
	tl.mu.Unlock()
	tick := time.NewTicker(sweepEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			tl.mu.Lock()
			tl.runs[i].ended = time.Now()
			tl.mu.Unlock()
			return
		case <-tick.C:
		}
		done := tl.st.verifyPending(sweepBatch, in.name)
		for _, p := range done {
			// Without ctx's cancellation: these profiles are verified in
			// the store already, so their news goes out even when the task
			// is being stopped. A stopped broker is the only failure left,
			// and it ends the run anyway.
			_ = tl.b.Publish(context.WithoutCancel(ctx), exUpdates, "profiles."+p.ID+".status", p.proto())
		}
		tl.mu.Lock()
		tl.runs[i].sweeps++
		tl.runs[i].checked += len(done)
		tl.mu.Unlock()
	}
}

func (tl *taskLog) snapshot() ([]taskRun, []string) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return slices.Clone(tl.runs), slices.Clone(tl.leaders)
}
