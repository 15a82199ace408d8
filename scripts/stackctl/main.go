// Command stackctl is scripts/stack's Go half: it checks that a server
// answers through a real client (the drivers the services use) and applies
// the schema. It is built by scripts/stack; run that, not this.
//
//	stackctl probe -kind mariadb|redis|kafka|cassandra -addr HOST:PORT
//	stackctl schema        (reads VC_MYSQL_DSN, VC_CASSANDRA_HOSTS, …)
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/vidcomments/vidcomments/internal/config"
	"github.com/vidcomments/vidcomments/internal/stack"
	"github.com/vidcomments/vidcomments/internal/stores/cassandrastore"
	"github.com/vidcomments/vidcomments/internal/stores/mysqlstore"
	"github.com/vidcomments/vidcomments/schema"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: stackctl probe|schema [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "probe":
		err = probe(os.Args[2:])
	case "schema":
		err = applySchema(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "stackctl:", err)
		os.Exit(1)
	}
}

func probe(args []string) error {
	fs := flag.NewFlagSet("probe", flag.ExitOnError)
	kind := fs.String("kind", "", "mariadb|redis|kafka|cassandra")
	addr := fs.String("addr", "", "host:port")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after")
	_ = fs.Parse(args)
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	out, err := stack.Probe(ctx, *kind, *addr, cmp.Or(os.Getenv("VC_MYSQL_USER"), "vidcomments"), cmp.Or(os.Getenv("VC_MYSQL_PASSWORD"), "vidcomments"))
	if err != nil {
		return err
	}
	fmt.Println(out)
	return nil
}

func applySchema(args []string) error {
	var my config.MySQL
	var cass config.Cassandra
	f := config.NewFlags(flag.NewFlagSet("schema", flag.ExitOnError))
	my.RegisterFlags(f)
	cass.RegisterFlags(f)
	if err := f.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	db, err := mysqlstore.Open(ctx, my)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := schema.ApplyMySQL(ctx, db); err != nil {
		return err
	}
	cluster, err := cassandrastore.Cluster(cass, "")
	if err != nil {
		return err
	}
	s, err := cluster.CreateSession()
	if err != nil {
		return fmt.Errorf("cassandra: %w", err)
	}
	defer s.Close()
	return schema.ApplyCQL(ctx, s, cass.Keyspace, cass.RF)
}
