// Command clusterctl is scripts/cluster's Go half: it checks the loopback
// Redis Cluster through go-redis' cluster client (every slot covered, a
// multi-key script on one hash tag answers on every master) and creates the
// Kafka topic of the cluster topology with its partition count. It is built
// by scripts/cluster; run that, not this.
//
//	clusterctl redis -addrs A,B,C
//	clusterctl topic -brokers B -topic T -partitions N
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/IBM/sarama"
	"github.com/redis/go-redis/v9"

	"github.com/vidcomments/vidcomments/internal/config"
	"github.com/vidcomments/vidcomments/internal/stores/kafkastore"
	"github.com/vidcomments/vidcomments/internal/stores/redisstore"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: clusterctl redis|topic [flags]")
		os.Exit(2)
	}
	var (
		out string
		err error
	)
	switch os.Args[1] {
	case "redis":
		out, err = checkRedis(os.Args[2:])
	case "topic":
		out, err = ensureTopic(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "clusterctl:", err)
		os.Exit(1)
	}
	fmt.Println(out)
}

// checkRedis answers only when the cluster serves every slot: CLUSTER INFO
// says ok on every master, and a script touching two keys of one hash tag
// runs on each master (one tag per master's slot range).
func checkRedis(args []string) (string, error) {
	fs := flag.NewFlagSet("redis", flag.ExitOnError)
	addrs := fs.String("addrs", "", "comma-separated cluster node addresses")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after")
	_ = fs.Parse(args)
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: config.SplitList(*addrs), DialTimeout: time.Second, MaxRedirects: 3})
	defer c.Close()
	masters, err := redisstore.ClusterMasters(ctx, c)
	if err != nil {
		return "", err
	}
	// One probe key per hash tag until every master answered a script.
	script := redis.NewScript(`redis.call('SET', KEYS[1], ARGV[1], 'EX', 10); redis.call('SET', KEYS[2], ARGV[1], 'EX', 10); return redis.call('GET', KEYS[1])`)
	seen := map[string]bool{}
	for i := 0; i < 64 && len(seen) < masters; i++ {
		tag := fmt.Sprintf("{clusterctl-%d}", i)
		if err := script.Run(ctx, c, []string{tag + ":a", tag + ":b"}, "ok").Err(); err != nil {
			return "", fmt.Errorf("script on %s: %w", tag, err)
		}
		slot, err := c.ClusterKeySlot(ctx, tag+":a").Result()
		if err != nil {
			return "", err
		}
		slots, err := c.ClusterSlots(ctx).Result()
		if err != nil {
			return "", err
		}
		for _, s := range slots {
			if int64(s.Start) <= slot && slot <= int64(s.End) && len(s.Nodes) > 0 {
				seen[s.Nodes[0].Addr] = true
			}
		}
	}
	if len(seen) < masters {
		return "", fmt.Errorf("scripts answered on %d of %d masters", len(seen), masters)
	}
	return fmt.Sprintf("redis cluster ok: %d masters, every slot served", masters), nil
}

// ensureTopic creates the topic with the partition count, or adds
// partitions to an existing one that has fewer.
func ensureTopic(args []string) (string, error) {
	fs := flag.NewFlagSet("topic", flag.ExitOnError)
	brokers := fs.String("brokers", config.DefaultKafkaBrokers, "bootstrap brokers")
	topic := fs.String("topic", "", "topic name")
	partitions := fs.Int("partitions", 6, "partition count")
	_ = fs.Parse(args)
	if *topic == "" {
		return "", errors.New("topic: -topic is required")
	}
	admin, err := sarama.NewClusterAdmin(config.SplitList(*brokers), kafkastore.Config("vidcomments-clusterctl"))
	if err != nil {
		return "", fmt.Errorf("kafka admin: %w", err)
	}
	defer admin.Close()
	topics, err := admin.ListTopics()
	if err != nil {
		return "", fmt.Errorf("list topics: %w", err)
	}
	want := int32(*partitions)
	d, ok := topics[*topic]
	switch {
	case !ok:
		if err := admin.CreateTopic(*topic, &sarama.TopicDetail{NumPartitions: want, ReplicationFactor: 1}, false); err != nil {
			return "", fmt.Errorf("create topic %s: %w", *topic, err)
		}
		return fmt.Sprintf("topic %s created with %d partitions", *topic, want), nil
	case d.NumPartitions < want:
		if err := admin.CreatePartitions(*topic, want, nil, false); err != nil {
			return "", fmt.Errorf("add partitions to %s: %w", *topic, err)
		}
		return fmt.Sprintf("topic %s grown from %d to %d partitions", *topic, d.NumPartitions, want), nil
	default:
		return fmt.Sprintf("topic %s has %d partitions", *topic, d.NumPartitions), nil
	}
}
