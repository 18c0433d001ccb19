package workload

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	iggcon "github.com/apache/iggy/foreign/go/contracts"
)

// Names of the entities Demo uses; it creates them when missing.
const (
	DemoStream = "demo-shop"
	DemoTopic  = "orders"
	DemoGroup  = "billing"
)

// Bounds of a Demo run.
const (
	demoDefaultDuration = 10 * time.Second
	demoMaxDuration     = 10 * time.Minute
	demoProducers       = 3
	demoConsumers       = 2
	demoPartitions      = 3
	demoBatchSize       = 10
	demoMaxBatches      = 500 // per producer
	demoMaxPolls        = 1000
	demoProduceEvery    = 200 * time.Millisecond
	demoPollEvery       = 250 * time.Millisecond
	demoAdminEvery      = 2 * time.Second
)

// Demo runs a realistic mix for a live demo for about d (10 s when d <= 0,
// at most 10 minutes): an admin connection that logs in, sets up a stream, a
// topic and a consumer group, trips a couple of errors and checks stats
// periodically; three producers sending batches; two consumers in the group
// polling with auto-commit. Connections: 0 admin, 1 a failed login,
// 2..4 producers, 5..6 consumers. Each producer sends at most 500 batches
// and each consumer polls at most 1000 times. The log is returned even when
// the error is non-nil.
func Demo(ctx context.Context, addr string, d time.Duration) ([]Call, error) {
	if d <= 0 {
		d = demoDefaultDuration
	}
	d = min(d, demoMaxDuration)
	// run bounds the activity; the connections live on ctx so that the
	// consumers can leave their group and everyone can log out at the end.
	run, cancel := context.WithTimeout(ctx, d)
	defer cancel()

	rec := &recorder{}
	admin, err := openSDK(ctx, addr, 0, rec, nil)
	if err != nil {
		return rec.snapshot(), err
	}
	defer admin.close()
	if admin.login(RootUsername, RootPassword, 0) == nil {
		return rec.snapshot(), errors.New("workload: demo admin login failed")
	}
	s, t, g, err := demoSetup(admin)
	if err != nil {
		return rec.snapshot(), err
	}

	// An error or two, as a real deployment shows them.
	sdkDo(admin, "GetStream", codeGetStream, map[string]any{"stream": "no-such-stream"}, 0,
		func(c iggcon.Client) (*iggcon.StreamDetails, error) { return c.GetStream(nameID("no-such-stream")) })
	if intruder, err := openSDK(ctx, addr, 1, rec, nil); err == nil {
		intruder.login(UserName, WrongPassword, 0)
		intruder.close()
	}

	var wg sync.WaitGroup
	errs := make(chan error, demoProducers+demoConsumers)
	for i := range demoProducers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- demoProducer(ctx, run, addr, 2+i, rec, s, t)
		}()
	}
	for i := range demoConsumers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- demoConsumer(ctx, run, addr, 2+demoProducers+i, rec, s, t, g)
		}()
	}
	demoAdminLoop(run, admin, s, t, g)
	wg.Wait()
	sdkExec(admin, "LogoutUser", codeLogoutUser, nil, 0, func(c iggcon.Client) error { return c.LogoutUser() })
	close(errs)
	var all []error
	for e := range errs {
		if e != nil && !errors.Is(e, context.DeadlineExceeded) && !errors.Is(e, context.Canceled) {
			all = append(all, e)
		}
	}
	if err := ctx.Err(); err != nil {
		all = append(all, err)
	}
	return rec.snapshot(), errors.Join(all...)
}

// demoSetup creates (or finds) the demo stream, topic and group.
func demoSetup(a *sdkConn) (stream, topic, group uint32, err error) {
	sd := sdkDo(a, "CreateStream", codeCreateStream, map[string]any{"name": DemoStream}, 0,
		func(c iggcon.Client) (*iggcon.StreamDetails, error) { return c.CreateStream(DemoStream) })
	if sd == nil {
		sd = sdkDo(a, "GetStream", codeGetStream, map[string]any{"stream": DemoStream}, 0,
			func(c iggcon.Client) (*iggcon.StreamDetails, error) { return c.GetStream(nameID(DemoStream)) })
	}
	if sd == nil {
		return 0, 0, 0, fmt.Errorf("workload: demo stream %q: cannot create or find it", DemoStream)
	}
	td := sdkDo(a, "CreateTopic", codeCreateTopic, map[string]any{"stream": sd.Id, "name": DemoTopic, "partitions": uint32(demoPartitions)}, 0,
		func(c iggcon.Client) (*iggcon.TopicDetails, error) {
			return c.CreateTopic(numID(sd.Id), DemoTopic, demoPartitions, iggcon.CompressionAlgorithmNone, 0, 0, nil)
		})
	if td == nil {
		td = sdkDo(a, "GetTopic", codeGetTopic, map[string]any{"stream": sd.Id, "topic": DemoTopic}, 0,
			func(c iggcon.Client) (*iggcon.TopicDetails, error) {
				return c.GetTopic(numID(sd.Id), nameID(DemoTopic))
			})
	}
	if td == nil {
		return 0, 0, 0, fmt.Errorf("workload: demo topic %q: cannot create or find it", DemoTopic)
	}
	gd := sdkDo(a, "CreateConsumerGroup", codeCreateConsumerGrp, map[string]any{"stream": sd.Id, "topic": td.Id, "name": DemoGroup}, 0,
		func(c iggcon.Client) (*iggcon.ConsumerGroupDetails, error) {
			return c.CreateConsumerGroup(numID(sd.Id), numID(td.Id), DemoGroup)
		})
	if gd == nil {
		gd = sdkDo(a, "GetConsumerGroup", codeGetConsumerGroup, map[string]any{"stream": sd.Id, "topic": td.Id, "group": DemoGroup}, 0,
			func(c iggcon.Client) (*iggcon.ConsumerGroupDetails, error) {
				return c.GetConsumerGroup(numID(sd.Id), numID(td.Id), nameID(DemoGroup))
			})
	}
	if gd == nil {
		return 0, 0, 0, fmt.Errorf("workload: demo consumer group %q: cannot create or find it", DemoGroup)
	}
	return sd.Id, td.Id, gd.Id, nil
}

func demoAdminLoop(ctx context.Context, a *sdkConn, s, t, g uint32) {
	tick := time.NewTicker(demoAdminEvery)
	defer tick.Stop()
	for round := 0; ; round++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		switch round % 3 {
		case 0:
			sdkDo(a, "GetStats", codeGetStats, nil, 0, func(c iggcon.Client) (*iggcon.Stats, error) { return c.GetStats() })
		case 1:
			sdkDo(a, "GetConsumerGroup", codeGetConsumerGroup, map[string]any{"stream": s, "topic": t, "group": g}, 0,
				func(c iggcon.Client) (*iggcon.ConsumerGroupDetails, error) {
					return c.GetConsumerGroup(numID(s), numID(t), numID(g))
				})
		default:
			sdkExec(a, "Ping", codePing, nil, 0, func(c iggcon.Client) error { return c.Ping() })
			sdkDo(a, "GetClients", codeGetClients, nil, 0, func(c iggcon.Client) ([]iggcon.ClientInfo, error) { return c.GetClients() })
		}
	}
}

// demoProducer sends a batch every demoProduceEvery until run ends.
func demoProducer(ctx, run context.Context, addr string, idx int, rec *recorder, s, t uint32) error {
	c, err := openSDK(ctx, addr, idx, rec, nil)
	if err != nil {
		return err
	}
	defer c.close()
	if c.login(RootUsername, RootPassword, 0) == nil {
		return fmt.Errorf("workload: demo producer %d: login failed", idx)
	}
	tick := time.NewTicker(demoProduceEvery)
	defer tick.Stop()
	for n := range demoMaxBatches {
		b, err := makeBatch(fmt.Sprintf("order-p%d-b%d", idx, n), demoBatchSize, 64, 0, n%2 == 0)
		if err != nil {
			return err
		}
		if err := c.send(numID(s), numID(t), iggcon.None(), b, 0); err != nil {
			return fmt.Errorf("workload: demo producer %d: %w", idx, err)
		}
		select {
		case <-run.Done():
			return c.logout()
		case <-tick.C:
		}
	}
	return c.logout()
}

// demoConsumer joins the group and polls it with auto-commit until run
// ends, then leaves the group.
func demoConsumer(ctx, run context.Context, addr string, idx int, rec *recorder, s, t, g uint32) error {
	c, err := openSDK(ctx, addr, idx, rec, nil)
	if err != nil {
		return err
	}
	defer c.close()
	if c.login(RootUsername, RootPassword, 0) == nil {
		return fmt.Errorf("workload: demo consumer %d: login failed", idx)
	}
	group := func(method string, code uint32, fn func(iggcon.Client) error) error {
		return sdkExec(c, method, code, map[string]any{"stream": s, "topic": t, "group": g}, 0, fn)
	}
	if err := group("JoinConsumerGroup", codeJoinConsumerGroup, func(cli iggcon.Client) error {
		return cli.JoinConsumerGroup(numID(s), numID(t), numID(g))
	}); err != nil {
		return fmt.Errorf("workload: demo consumer %d: join: %w", idx, err)
	}
	tick := time.NewTicker(demoPollEvery)
	defer tick.Stop()
	consumer := iggcon.NewGroupConsumer(numID(g))
polls:
	for range demoMaxPolls {
		select {
		case <-run.Done():
			break polls
		case <-tick.C:
		}
		c.poll(numID(s), numID(t), consumer, iggcon.NextPollingStrategy(), demoBatchSize, true, nil, 0)
	}
	if err := group("LeaveConsumerGroup", codeLeaveConsumerGroup, func(cli iggcon.Client) error {
		return cli.LeaveConsumerGroup(numID(s), numID(t), numID(g))
	}); err != nil {
		return fmt.Errorf("workload: demo consumer %d: leave: %w", idx, err)
	}
	return c.logout()
}
