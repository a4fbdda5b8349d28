package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"time"

	"golang.org/x/sync/errgroup"
)

// ClickHouseClusterConfig configures StartClickHouseCluster.
type ClickHouseClusterConfig struct {
	// Dir holds one subdirectory per node: node1, node2, …
	Dir string
	// Name is the cluster's name in every node's <remote_servers>.
	Name string
	// Shards is the number of shards; at least 1.
	Shards int
	// Replicas is the number of servers of each shard (default 1). More
	// than one needs ZooKeeper.
	Replicas int
	// ZooKeeper is the address ("127.0.0.1:PORT") of the ZooKeeper the
	// nodes replicate through (StartZooKeeper); "" for none.
	ZooKeeper string
	// Logger receives lifecycle messages; nil discards them.
	Logger *slog.Logger
}

// ClickHouseCluster is a set of throwaway ClickHouse servers that declare
// each other as the shards (and the replicas of each shard) of one
// cluster, what `keel migrate --clickhouse-cluster` needs. Without
// ZooKeeper there is no replication: each shard is one server.
type ClickHouseCluster struct {
	// Name is the cluster's name, as system.clusters lists it.
	Name string
	// Nodes are the servers, shard by shard and in each shard replica by
	// replica: Nodes[s*Replicas+r] is replica r+1 of shard s+1.
	Nodes []*ClickHouse
	// Replicas is the number of servers of each shard.
	Replicas int
}

// clusterName is what a cluster's name may be: an XML element name and a
// ClickHouse identifier.
var clusterName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// StartClickHouseCluster starts cfg.Shards ClickHouse servers on free
// loopback ports, each with a config whose <remote_servers> declares the
// cluster cfg.Name of all of them. The ports are chosen before any server
// starts, since every config names every node. When one fails to start,
// the others are stopped and the error is returned.
func StartClickHouseCluster(ctx context.Context, cfg ClickHouseClusterConfig) (*ClickHouseCluster, error) {
	switch {
	case cfg.Dir == "":
		return nil, errors.New("start clickhouse cluster: ClickHouseClusterConfig.Dir is required")
	case !clusterName.MatchString(cfg.Name):
		return nil, fmt.Errorf("start clickhouse cluster: name %q: want letters, digits and _", cfg.Name)
	case cfg.Shards < 1:
		return nil, fmt.Errorf("start clickhouse cluster: %d shards: want at least 1", cfg.Shards)
	case cfg.Replicas < 0:
		return nil, fmt.Errorf("start clickhouse cluster: %d replicas: want at least 1", cfg.Replicas)
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 1
	}
	if cfg.Replicas > 1 && cfg.ZooKeeper == "" {
		return nil, fmt.Errorf("start clickhouse cluster: %d replicas a shard need a ZooKeeper", cfg.Replicas)
	}
	nodes := cfg.Shards * cfg.Replicas
	// Two ports a node (three with ZooKeeper: replicas fetch parts from
	// each other over interserver HTTP), all distinct: free-port picks can
	// repeat.
	per := 2
	if cfg.ZooKeeper != "" {
		per = 3
	}
	seen := map[int]bool{}
	ports := make([]int, 0, per*nodes)
	for len(ports) < per*nodes {
		p, err := FreePort()
		if err != nil {
			return nil, fmt.Errorf("start clickhouse cluster: %w", err)
		}
		if !seen[p] {
			seen[p] = true
			ports = append(ports, p)
		}
	}
	decl := &ClusterDecl{Name: cfg.Name, ZooKeeper: cfg.ZooKeeper}
	for s := range cfg.Shards {
		var replicas []string
		for r := range cfg.Replicas {
			replicas = append(replicas, fmt.Sprintf("127.0.0.1:%d", ports[per*(s*cfg.Replicas+r)]))
		}
		decl.Shards = append(decl.Shards, replicas)
	}
	c := &ClickHouseCluster{Name: cfg.Name, Nodes: make([]*ClickHouse, nodes), Replicas: cfg.Replicas}
	g, gctx := errgroup.WithContext(ctx)
	for i := range nodes {
		g.Go(func() error {
			log := orDiscard(cfg.Logger).With("node", i+1)
			node := ClickHouseConfig{
				Dir: filepath.Join(cfg.Dir, fmt.Sprintf("node%d", i+1)), TCPPort: ports[per*i], HTTPPort: ports[per*i+1],
				Logger: log, Cluster: decl,
			}
			if per == 3 {
				node.InterserverPort = ports[per*i+2]
			}
			ch, err := StartClickHouse(gctx, node)
			c.Nodes[i] = ch
			return err
		})
	}
	if err := g.Wait(); err != nil {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if serr := c.Stop(stopCtx); serr != nil {
			err = errors.Join(err, serr)
		}
		return nil, fmt.Errorf("start clickhouse cluster: %w", err)
	}
	return c, nil
}

// Stop stops every node in parallel and reports all failures; nodes that
// are missing or stopped already are skipped.
func (c *ClickHouseCluster) Stop(ctx context.Context) error {
	var g errgroup.Group
	errs := make([]error, len(c.Nodes))
	for i, n := range c.Nodes {
		if n != nil {
			g.Go(func() error { errs[i] = n.Stop(ctx); return nil })
		}
	}
	_ = g.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("stop clickhouse cluster: %w", err)
	}
	return nil
}
