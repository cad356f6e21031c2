//go:build chaos

package chaos

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// network is one run's private network: a bridge, and per node a namespace
// with a veth into the bridge and an address of its own in 198.18.X.0/24
// (the benchmarking range, which no real network uses). The bridge has no
// address on the host, so nothing the nodes send leaves the bridge. An nft
// table of the bridge family drops traffic between the sides of a
// partition. Every name carries the test's pid, so runs never collide; two
// runs may share a subnet (X comes from the seed, see -chaos.subnet), since
// each bridge and its namespaces are a network of their own.
type network struct {
	pid    int
	bridge string
	table  string // nft table, family bridge
	ns     []string
	veth   []string
	addrs  []string

	mu      sync.Mutex
	removed bool
}

// Interface names are at most 15 bytes: "vch" + a pid (at most 7 digits) +
// "n" + the node's digit fits.
func newNetwork(nodes, subnet int) *network {
	pid := os.Getpid()
	nw := &network{pid: pid, bridge: fmt.Sprintf("bch%d", pid), table: fmt.Sprintf("bchaos%d", pid)}
	for i := range nodes {
		nw.ns = append(nw.ns, fmt.Sprintf("bch%dn%d", pid, i+1))
		nw.veth = append(nw.veth, fmt.Sprintf("vch%dn%d", pid, i+1))
		nw.addrs = append(nw.addrs, fmt.Sprintf("198.18.%d.%d", subnet, i+1))
	}
	return nw
}

// canBuild says why this machine cannot build the network, or nil.
func canBuild() error {
	if os.Geteuid() != 0 {
		return errors.New("network namespaces need root")
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is not installed (apt-get install -y iproute2 nftables)", tool)
		}
	}
	return nil
}

func sh(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// build creates the network. On error, what was made is removed.
func (nw *network) build() (err error) {
	defer func() {
		if err != nil {
			err = errors.Join(err, nw.remove())
		}
	}()
	steps := [][]string{
		{"ip", "link", "add", nw.bridge, "type", "bridge"},
		{"ip", "link", "set", nw.bridge, "up"},
	}
	for i, ns := range nw.ns {
		steps = append(steps,
			[]string{"ip", "netns", "add", ns},
			[]string{"ip", "link", "add", nw.veth[i], "type", "veth", "peer", "name", "eth0", "netns", ns},
			[]string{"ip", "link", "set", nw.veth[i], "master", nw.bridge, "up"},
			[]string{"ip", "-n", ns, "addr", "add", nw.addrs[i] + "/24", "dev", "eth0"},
			[]string{"ip", "-n", ns, "link", "set", "eth0", "up"},
			[]string{"ip", "-n", ns, "link", "set", "lo", "up"},
		)
	}
	steps = append(steps,
		[]string{"nft", "add", "table", "bridge", nw.table},
		[]string{"nft", "add", "chain", "bridge", nw.table, "cut", "{ type filter hook forward priority 0; policy accept; }"},
	)
	for _, s := range steps {
		if err := sh(s[0], s[1:]...); err != nil {
			return err
		}
	}
	return nil
}

// exec returns the command prefix that runs a program in node i's namespace.
func (nw *network) exec(i int) []string { return []string{"ip", "netns", "exec", nw.ns[i]} }

// partition drops every packet between nodes of different sides; nodes in
// no side are unaffected. It adds to the partitions in place.
func (nw *network) partition(sides ...[]int) error {
	for a := range sides {
		for b := range sides {
			if a == b {
				continue
			}
			if err := sh("nft", "add", "rule", "bridge", nw.table, "cut",
				"ip", "saddr", nw.set(sides[a]), "ip", "daddr", nw.set(sides[b]), "drop"); err != nil {
				return err
			}
		}
	}
	return nil
}

func (nw *network) set(nodes []int) string {
	s := make([]string, len(nodes))
	for i, n := range nodes {
		s[i] = nw.addrs[n]
	}
	return "{ " + strings.Join(s, ", ") + " }"
}

// heal removes every partition.
func (nw *network) heal() error { return sh("nft", "flush", "chain", "bridge", nw.table, "cut") }

// remove deletes everything build made; it may be called many times, and
// concurrently (the test's cleanup and a signal).
func (nw *network) remove() error {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	if nw.removed {
		return nil
	}
	nw.removed = true
	return removeRun(nw.pid, len(nw.ns))
}

// removeRun deletes the network of run pid, whatever of it exists.
func removeRun(pid, nodes int) error {
	var errs []error
	if exists("nft", "list", "table", "bridge", fmt.Sprintf("bchaos%d", pid)) {
		errs = append(errs, sh("nft", "delete", "table", "bridge", fmt.Sprintf("bchaos%d", pid)))
	}
	for i := range nodes {
		// Deleting either end of a veth deletes both: the host's end first,
		// then the namespace.
		if v := fmt.Sprintf("vch%dn%d", pid, i+1); exists("ip", "link", "show", v) {
			errs = append(errs, sh("ip", "link", "del", v))
		}
		if ns := fmt.Sprintf("bch%dn%d", pid, i+1); exists("ip", "netns", "pids", ns) {
			errs = append(errs, sh("ip", "netns", "del", ns))
		}
	}
	if br := fmt.Sprintf("bch%d", pid); exists("ip", "link", "show", br) {
		errs = append(errs, sh("ip", "link", "del", br))
	}
	return errors.Join(errs...)
}

func exists(name string, args ...string) bool { return exec.Command(name, args...).Run() == nil }

var staleName = regexp.MustCompile(`^bch(\d+)n(\d+)$`)

// sweepStale removes the networks of earlier runs whose process is gone (a
// run killed with SIGKILL cannot clean up after itself), and returns their
// pids.
func sweepStale() ([]int, error) {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return nil, err
	}
	nodes := map[int]int{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if m := staleName.FindStringSubmatch(f[0]); m != nil {
			pid, _ := strconv.Atoi(m[1])
			n, _ := strconv.Atoi(m[2])
			nodes[pid] = max(nodes[pid], n)
		}
	}
	var pids []int
	var errs []error
	for pid, n := range nodes {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			continue // that run is alive
		}
		pids = append(pids, pid)
		errs = append(errs, removeRun(pid, n))
	}
	return pids, errors.Join(errs...)
}
