// Package clustertest runs test code in child processes, to test bourse the
// way it is deployed: one node per process, killed for real.
//
// A child is the current test binary started again, running one of the
// functions the test package registers. Register them first thing in
// TestMain:
//
//	func TestMain(m *testing.M) {
//		clustertest.Main(map[string]clustertest.ChildFunc{"node": runNode})
//		os.Exit(m.Run())
//	}
//
//	func runNode(ctx context.Context, c *clustertest.Child) error {
//		n, err := cluster.Start(ctx, cfgFromEnv())
//		if err != nil {
//			return err
//		}
//		c.Set("address", n.Address())
//		<-ctx.Done() // the parent called Stop, or died
//		return n.Stop(context.Background())
//	}
//
// A test starts a child with Start, reads what it reports with Value or
// Await, and ends it with Stop (graceful: the child's context is canceled) or
// Kill (SIGKILL). A child never outlives its parent: it watches its stdin,
// which the parent holds open, and when it reads EOF (the parent called Stop,
// or died, even by kill -9) its context is canceled; if its function has not
// returned 10 s later the process exits anyway. Start registers a cleanup
// that kills the child, so a failing test leaves nothing behind.
package clustertest
