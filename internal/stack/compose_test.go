package stack

// docker-compose.yml cannot run in CI (no Docker engine there), so these
// tests keep it in step by reading it: its ports, versions and credentials
// must agree with scripts/stack.env (what the native stack runs) and with
// internal/config (what the services listen on by default). No server is
// needed.

import (
	"cmp"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"gopkg.in/yaml.v3"

	"github.com/vidcomments/vidcomments/internal/config"
)

// composeFile is the part of docker-compose.yml these tests look at.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
}

type composeService struct {
	Image       string       `yaml:"image"`
	Build       any          `yaml:"build"`
	Command     stringList   `yaml:"command"`
	Environment envMap       `yaml:"environment"`
	Ports       []string     `yaml:"ports"`   // short syntax only
	Volumes     []string     `yaml:"volumes"` // short syntax only
	DependsOn   dependsOn    `yaml:"depends_on"`
	Healthcheck *healthcheck `yaml:"healthcheck"`
}

type healthcheck struct {
	Test        stringList `yaml:"test"`
	StartPeriod string     `yaml:"start_period"`
}

// stringList is a compose command or healthcheck test: a list, or a string
// that compose splits on spaces.
type stringList []string

func (l *stringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*l = strings.Fields(n.Value)
		return nil
	}
	var s []string
	if err := n.Decode(&s); err != nil {
		return err
	}
	*l = s
	return nil
}

// envMap is a compose environment: a mapping (merge keys included) or a list
// of NAME=value. A name without a value maps to "".
type envMap map[string]string

func (e *envMap) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.MappingNode: // yaml.v3 decodes a name without a value to ""
		return n.Decode((*map[string]string)(e))
	case yaml.SequenceNode:
		m, err := listMap(n, func(kv string) (string, string) { k, v, _ := strings.Cut(kv, "="); return k, v })
		*e = m
		return err
	}
	return fmt.Errorf("line %d: environment must be a mapping or a list", n.Line)
}

// dependsOn maps a dependency to its condition. The list form means
// service_started, as in compose.
type dependsOn map[string]string

func (d *dependsOn) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.SequenceNode:
		m, err := listMap(n, func(s string) (string, string) { return s, "service_started" })
		*d = m
		return err
	case yaml.MappingNode:
		var m map[string]struct {
			Condition string `yaml:"condition"`
		}
		if err := n.Decode(&m); err != nil {
			return err
		}
		*d = dependsOn{}
		for s, v := range m {
			(*d)[s] = cmp.Or(v.Condition, "service_started")
		}
		return nil
	}
	return fmt.Errorf("line %d: depends_on must be a mapping or a list", n.Line)
}

// listMap decodes a list of strings into the map of what kv makes of each.
func listMap(n *yaml.Node, kv func(string) (string, string)) (map[string]string, error) {
	var l []string
	if err := n.Decode(&l); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, s := range l {
		k, v := kv(s)
		out[k] = v
	}
	return out, nil
}

// composeServer is one of the four servers, with what ties it to the native
// stack and to internal/config.
type composeServer struct {
	service       string
	portVar       string // host port in scripts/stack.env
	configPort    int    // the services' default port for it
	containerPort string // the port the image listens on
	client        string // the server's own client, used by the healthcheck
	minStart      time.Duration
}

var composeServers = []composeServer{
	{"mariadb", "VC_MYSQL_PORT", config.DefaultMySQLPort, "3306", "healthcheck.sh", 0},
	{"redis", "VC_REDIS_PORT", config.DefaultRedisPort, "6379", "redis-cli", 0},
	{"kafka", "VC_KAFKA_PORT", config.DefaultKafkaPort, "9092", "kafka-", 0},
	// Cassandra takes minutes to start on a small machine; a short
	// start_period would mark it unhealthy and fail every dependant.
	{"cassandra", "VC_CASSANDRA_PORT", config.DefaultCassandraPort, "9042", "cqlsh", 2 * time.Minute},
}

// composeListener is an application listener: the variable that sets its
// address and the default it must publish on.
type composeListener struct {
	envVar      string
	defaultAddr string
}

// composeApps are the services built from the Dockerfile.
var composeApps = []struct {
	service   string
	command   []string
	pkg       string // the Go package the Dockerfile builds the binary from
	listeners []composeListener
	needs     []string          // servers it uses; each must be healthy before it starts
	cdn       map[string]string // the CDN tier's variables it sets, and their values
}{
	{
		service: "stackctl-schema",
		command: []string{"/app/stackctl", "schema"},
		pkg:     "./scripts/stackctl",
		needs:   []string{"mariadb", "redis", "kafka", "cassandra"},
	},
	{
		service: "readsvc",
		command: []string{"/app/readsvc"},
		pkg:     "./readsvc",
		listeners: []composeListener{
			{"VC_READSVC_ADDR", config.DefaultReadAddr},
			{"VC_READSVC_ADMIN_ADDR", config.DefaultReadAdminAddr},
			{"VC_READSVC_PEER_ADDR", config.DefaultReadPeerAddr},
		},
		needs: []string{"redis", "cassandra"},
		cdn:   map[string]string{"VC_READSVC_SHARED_MAX_AGE": "60s"},
	},
	{
		service: "writesvc",
		command: []string{"/app/writesvc"},
		pkg:     "./writesvc",
		listeners: []composeListener{
			{"VC_WRITESVC_ADDR", config.DefaultWriteAddr},
			{"VC_WRITESVC_ADMIN_ADDR", config.DefaultWriteAdminAddr},
		},
		needs: []string{"mariadb", "redis", "kafka"},
	},
	{
		service:   "syncer",
		command:   []string{"/app/syncer"},
		pkg:       "./syncer",
		listeners: []composeListener{{"VC_SYNCER_ADMIN_ADDR", config.DefaultSyncAdminAddr}},
		needs:     []string{"kafka", "cassandra", "redis"},
	},
	{
		service:   "cdc",
		command:   []string{"/app/cdc"},
		pkg:       "./cdc",
		listeners: []composeListener{{"VC_CDC_ADMIN_ADDR", config.DefaultCDCAdminAddr}},
		needs:     []string{"mariadb", "redis"},
		cdn:       map[string]string{"VC_CDN_PURGE_URLS": "http://varnish:80"},
	},
}

// composeServerEnv names the variables that point a service at each server.
var composeServerEnv = map[string][]string{
	"mariadb":   {"VC_MYSQL_DSN", "VC_MYSQL_FLAVOR"},
	"redis":     {"VC_REDIS_ADDR"},
	"kafka":     {"VC_KAFKA_BROKERS"},
	"cassandra": {"VC_CASSANDRA_HOSTS", "VC_CASSANDRA_KEYSPACE"},
}

// composeSharedEnv are the variables any application service may set,
// besides its own listener addresses.
var composeSharedEnv = []string{
	"VC_MYSQL_DSN", "VC_MYSQL_FLAVOR", "VC_REDIS_ADDR", "VC_KAFKA_BROKERS",
	"VC_CASSANDRA_HOSTS", "VC_CASSANDRA_KEYSPACE", "VC_MODERATION", "VC_JWT_SECRET",
}

// composeFixture is docker-compose.yml with scripts/stack.env beside it.
type composeFixture struct {
	root     string
	file     composeFile
	defaults map[string]string
}

func loadCompose(t *testing.T) composeFixture {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	defaults, err := Defaults(filepath.Join(root, "scripts", "stack.env"))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var f composeFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return composeFixture{root: root, file: f, defaults: defaults}
}

// service returns a service of docker-compose.yml or stops the test.
func (c composeFixture) service(t *testing.T, name string) composeService {
	t.Helper()
	s, ok := c.file.Services[name]
	if !ok {
		t.Fatalf("docker-compose.yml has no service %q", name)
	}
	return s
}

// stackEnv returns a default of scripts/stack.env or stops the test.
func (c composeFixture) stackEnv(t *testing.T, name string) string {
	t.Helper()
	v, ok := c.defaults[name]
	if !ok {
		t.Fatalf("scripts/stack.env does not set %s", name)
	}
	return v
}

// publishedPort is one entry of a service's ports, short syntax
// HOST_IP:HOST_PORT:CONTAINER_PORT.
type publishedPort struct {
	hostIP, hostPort, containerPort string
}

func parsePorts(t *testing.T, service string, specs []string) []publishedPort {
	t.Helper()
	var out []publishedPort
	for _, spec := range specs {
		p, _ := strings.CutSuffix(spec, "/tcp")
		parts := strings.Split(p, ":")
		if len(parts) != 3 {
			t.Errorf("service %s: port %q: want 127.0.0.1:HOST_PORT:CONTAINER_PORT", service, spec)
			continue
		}
		out = append(out, publishedPort{parts[0], parts[1], parts[2]})
	}
	return out
}

// portOf returns the port of a host:port address.
func portOf(t *testing.T, addr string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	return port
}

// The servers publish, on loopback, the host ports of scripts/stack.env,
// which are also the services' defaults.
func TestComposeServerPorts(t *testing.T) {
	c := loadCompose(t)
	dsn, err := mysql.ParseDSN(config.DefaultMySQLDSN)
	if err != nil {
		t.Fatalf("config.DefaultMySQLDSN: %v", err)
	}
	// The services' default addresses of the servers (internal/config/deps.go).
	defaultAddrs := map[string]struct{ name, addr string }{
		"mariadb":   {"DefaultMySQLDSN", dsn.Addr},
		"redis":     {"DefaultRedisAddr", config.DefaultRedisAddr},
		"kafka":     {"DefaultKafkaBrokers", config.DefaultKafkaBrokers},
		"cassandra": {"DefaultCassandraHosts", config.DefaultCassandraHosts},
	}
	for _, tc := range composeServers {
		t.Run(tc.service, func(t *testing.T) {
			s := c.service(t, tc.service)
			want := c.stackEnv(t, tc.portVar)
			if cfg := fmt.Sprint(tc.configPort); cfg != want {
				t.Errorf("scripts/stack.env has %s=%s but internal/config's default port for %s is %s",
					tc.portVar, want, tc.service, cfg)
			}
			if d := defaultAddrs[tc.service]; portOf(t, d.addr) != want {
				t.Errorf("scripts/stack.env has %s=%s but internal/config's %s points at %s",
					tc.portVar, want, d.name, d.addr)
			}
			ports := parsePorts(t, tc.service, s.Ports)
			if len(ports) != 1 {
				t.Fatalf("service %s publishes %d ports %q, want exactly one (127.0.0.1:%s:%s)",
					tc.service, len(ports), s.Ports, want, tc.containerPort)
			}
			p := ports[0]
			if p.hostIP != "127.0.0.1" {
				t.Errorf("service %s publishes on %s, want 127.0.0.1 (loopback only, like scripts/stack)", tc.service, p.hostIP)
			}
			if p.hostPort != want {
				t.Errorf("service %s publishes host port %s, but scripts/stack.env has %s=%s",
					tc.service, p.hostPort, tc.portVar, want)
			}
			if p.containerPort != tc.containerPort {
				t.Errorf("service %s maps to container port %s, but the server listens on %s inside its container",
					tc.service, p.containerPort, tc.containerPort)
			}
		})
	}
}

// Every server has a healthcheck through its own client: depends_on with
// service_healthy needs one.
func TestComposeServerHealthchecks(t *testing.T) {
	c := loadCompose(t)
	for _, tc := range composeServers {
		t.Run(tc.service, func(t *testing.T) {
			s := c.service(t, tc.service)
			if s.Healthcheck == nil || len(s.Healthcheck.Test) == 0 {
				t.Fatalf("service %s has no healthcheck", tc.service)
			}
			test := strings.Join(s.Healthcheck.Test, " ")
			if !strings.Contains(test, tc.client) {
				t.Errorf("service %s: healthcheck %q does not use the server's client %q", tc.service, test, tc.client)
			}
			if tc.minStart > 0 {
				d, err := time.ParseDuration(s.Healthcheck.StartPeriod)
				if err != nil || d < tc.minStart {
					t.Errorf("service %s: healthcheck start_period %q, want at least %s",
						tc.service, s.Healthcheck.StartPeriod, tc.minStart)
				}
			}
		})
	}
}

// MariaDB writes the binlog cdc needs: ROW events with full images.
func TestComposeMariaDBBinlog(t *testing.T) {
	c := loadCompose(t)
	s := c.service(t, "mariadb")

	// Server options as name → value; MariaDB treats - and _ in option
	// names alike.
	opts := map[string]string{}
	for _, arg := range s.Command {
		name, value, _ := strings.Cut(strings.TrimPrefix(arg, "--"), "=")
		opts[strings.ReplaceAll(name, "_", "-")] = value
	}
	for _, tc := range []struct {
		option string
		want   string // "" accepts any value, or none
	}{
		{"log-bin", ""},
		{"binlog-format", "ROW"},
		{"binlog-row-image", "FULL"},
		{"server-id", c.stackEnv(t, "VC_MYSQL_SERVER_ID")},
	} {
		t.Run(tc.option, func(t *testing.T) {
			got, ok := opts[tc.option]
			switch {
			case !ok:
				t.Errorf("service mariadb: command %q lacks --%s", s.Command, tc.option)
			case tc.want != "" && !strings.EqualFold(got, tc.want):
				t.Errorf("service mariadb: --%s=%s, want %s", tc.option, got, tc.want)
			}
		})
	}
}

// The images carry the versions the native stack runs.
func TestComposeImageVersions(t *testing.T) {
	c := loadCompose(t)
	for _, tc := range []struct {
		service    string
		repo       string
		versionVar string // in scripts/stack.env; "" uses version
		version    string // MariaDB and Redis come from Debian, not stack.env
	}{
		{service: "mariadb", repo: "mariadb", version: "10.11"},
		{service: "redis", repo: "redis", version: "7.0"},
		{service: "kafka", repo: "apache/kafka", versionVar: "VC_KAFKA_VERSION"},
		{service: "cassandra", repo: "cassandra", versionVar: "VC_CASSANDRA_VERSION"},
	} {
		t.Run(tc.service, func(t *testing.T) {
			want := tc.repo + ":" + tc.version
			if tc.versionVar != "" {
				want = tc.repo + ":" + c.stackEnv(t, tc.versionVar)
			}
			if got := c.service(t, tc.service).Image; got != want {
				from := "DESIGN.md"
				if tc.versionVar != "" {
					from = "scripts/stack.env " + tc.versionVar
				}
				t.Errorf("service %s: image %q, want %q (from %s)", tc.service, got, want, from)
			}
		})
	}
}

// Kafka has two listeners: one the containers use, one advertised to the
// host on the published port. It is configured like scripts/stack's broker.
func TestComposeKafka(t *testing.T) {
	c := loadCompose(t)
	s := c.service(t, "kafka")
	env := s.Environment

	// listenerMap parses NAME://host:port,… into name → host:port.
	listenerMap := func(v string) map[string]string {
		out := map[string]string{}
		for l := range strings.SplitSeq(v, ",") {
			name, addr, ok := strings.Cut(strings.TrimSpace(l), "://")
			if ok {
				out[name] = addr
			}
		}
		return out
	}
	listeners := listenerMap(env["KAFKA_LISTENERS"])
	advertised := listenerMap(env["KAFKA_ADVERTISED_LISTENERS"])
	// listenerFor finds the advertised listener with address addr and
	// returns the port it listens on inside the container.
	listenerFor := func(t *testing.T, addr string) string {
		t.Helper()
		for name, a := range advertised {
			if a == addr {
				l, ok := listeners[name]
				if !ok {
					t.Fatalf("service kafka: advertised listener %s is not in KAFKA_LISTENERS %q", name, env["KAFKA_LISTENERS"])
				}
				return portOf(t, l)
			}
		}
		t.Fatalf("service kafka: KAFKA_ADVERTISED_LISTENERS %q does not advertise %s", env["KAFKA_ADVERTISED_LISTENERS"], addr)
		return ""
	}

	t.Run("host listener", func(t *testing.T) {
		hostAddr := "127.0.0.1:" + c.stackEnv(t, "VC_KAFKA_PORT")
		port := listenerFor(t, hostAddr)
		for _, p := range parsePorts(t, "kafka", s.Ports) {
			if p.containerPort != port {
				t.Errorf("service kafka publishes container port %s, but the listener advertised as %s listens on %s",
					p.containerPort, hostAddr, port)
			}
		}
	})
	t.Run("container listener", func(t *testing.T) {
		seen := map[string]bool{} // the services share one value; report it once
		for _, app := range composeApps {
			brokers, ok := c.service(t, app.service).Environment["VC_KAFKA_BROKERS"]
			if !ok || seen[brokers] {
				continue
			}
			seen[brokers] = true
			for b := range strings.SplitSeq(brokers, ",") {
				host, port, _ := net.SplitHostPort(b)
				if host != "kafka" {
					t.Errorf("service %s: VC_KAFKA_BROKERS=%s, want the kafka service's container listener", app.service, brokers)
					continue
				}
				// Containers connect to the port itself: nothing maps it.
				if got := listenerFor(t, b); got != port {
					t.Errorf("service kafka advertises %s to containers but that listener listens on port %s", b, got)
				}
			}
		}
	})
	for _, tc := range []struct{ name, want string }{
		{"KAFKA_PROCESS_ROLES", "broker,controller"},
		{"KAFKA_NUM_PARTITIONS", "3"},
		{"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "1"},
		{"KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1"},
		{"KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1"},
		{"KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, ok := env[tc.name]; !ok || got != tc.want {
				t.Errorf("service kafka: %s=%q, want %q (as in scripts/stack)", tc.name, got, tc.want)
			}
		})
	}
}

// The application services publish the default ports of
// internal/config/ports.go and listen on them on all interfaces inside
// their containers.
func TestComposeAppPorts(t *testing.T) {
	c := loadCompose(t)
	for _, tc := range composeApps {
		t.Run(tc.service, func(t *testing.T) {
			s := c.service(t, tc.service)
			published := map[string]publishedPort{} // by host port
			for _, p := range parsePorts(t, tc.service, s.Ports) {
				published[p.hostPort] = p
			}
			for _, l := range tc.listeners {
				port := portOf(t, l.defaultAddr)
				if got, want := s.Environment[l.envVar], "0.0.0.0:"+port; got != want {
					t.Errorf("service %s: %s=%q, want %q (port of the default %s, all interfaces)",
						tc.service, l.envVar, got, want, l.defaultAddr)
				}
				p, ok := published[port]
				if !ok {
					t.Errorf("service %s does not publish port %s (default %s=%s); it publishes %q",
						tc.service, port, l.envVar, l.defaultAddr, s.Ports)
					continue
				}
				delete(published, port)
				if p.hostIP != "127.0.0.1" || p.containerPort != port {
					t.Errorf("service %s publishes %s:%s:%s for %s, want 127.0.0.1:%s:%s",
						tc.service, p.hostIP, p.hostPort, p.containerPort, l.envVar, port, port)
				}
			}
			for _, p := range published {
				t.Errorf("service %s publishes host port %s, which is no default in internal/config/ports.go",
					tc.service, p.hostPort)
			}
		})
	}
}

// The application services set only variables the services read, and
// point them at the compose services.
func TestComposeAppEnv(t *testing.T) {
	c := loadCompose(t)
	keyspace := c.stackEnv(t, "VC_CASSANDRA_KEYSPACE")
	for _, tc := range composeApps {
		t.Run(tc.service, func(t *testing.T) {
			s := c.service(t, tc.service)
			known := slices.Clone(composeSharedEnv)
			for _, l := range tc.listeners {
				known = append(known, l.envVar)
			}
			for name, want := range tc.cdn {
				known = append(known, name)
				if got := s.Environment[name]; got != want {
					t.Errorf("service %s: %s=%q, want %q", tc.service, name, got, want)
				}
			}
			for name := range s.Environment {
				if !slices.Contains(known, name) {
					t.Errorf("service %s sets %s, which is not among %q", tc.service, name, known)
				}
			}
			for _, server := range tc.needs {
				for _, name := range composeServerEnv[server] {
					if _, ok := s.Environment[name]; !ok {
						t.Errorf("service %s uses %s but does not set %s", tc.service, server, name)
					}
				}
			}
			// Addresses on the compose network: service name and the port
			// the server listens on inside its container. VC_MYSQL_DSN is
			// checked with the credentials, VC_KAFKA_BROKERS with Kafka's
			// listeners.
			for _, w := range []struct{ name, want string }{
				{"VC_MYSQL_FLAVOR", "mariadb"},
				{"VC_REDIS_ADDR", "redis:6379"},
				{"VC_CASSANDRA_HOSTS", "cassandra:9042"},
				{"VC_CASSANDRA_KEYSPACE", keyspace},
				{"VC_MODERATION", "pre"},
			} {
				if got, ok := s.Environment[w.name]; ok && got != w.want {
					t.Errorf("service %s: %s=%q, want %q", tc.service, w.name, got, w.want)
				}
			}
			if secret, ok := s.Environment["VC_JWT_SECRET"]; ok && !strings.Contains(secret, "dev-only") {
				t.Errorf("service %s: VC_JWT_SECRET=%q must be marked as a development value (contain \"dev-only\")",
					tc.service, secret)
			}
		})
	}
}

// The application services run the binaries the Dockerfile builds.
func TestComposeAppCommands(t *testing.T) {
	c := loadCompose(t)
	data, err := os.ReadFile(filepath.Join(c.root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	dockerfile := string(data)
	for _, tc := range composeApps {
		t.Run(tc.service, func(t *testing.T) {
			s := c.service(t, tc.service)
			if s.Build == nil {
				t.Errorf("service %s has no build section; it must be built from the Dockerfile", tc.service)
			}
			if !slices.Equal(s.Command, tc.command) {
				t.Errorf("service %s: command %q, want %q", tc.service, []string(s.Command), tc.command)
			}
			if !strings.Contains(dockerfile, " "+tc.pkg+" ") && !strings.Contains(dockerfile, " "+tc.pkg+"\n") {
				t.Errorf("Dockerfile does not build %s, which service %s runs", tc.pkg, tc.service)
			}
			if dir := strings.TrimPrefix(tc.pkg, "./"); !strings.Contains(dockerfile, "COPY "+dir+"/") {
				t.Errorf("Dockerfile does not copy %s/, which service %s is built from", dir, tc.service)
			}
		})
	}
}

// An application service starts only once the servers it uses are
// healthy and the schema has been applied.
func TestComposeAppDependsOn(t *testing.T) {
	c := loadCompose(t)
	isServer := func(name string) bool {
		return slices.ContainsFunc(composeServers, func(s composeServer) bool { return s.service == name })
	}
	for _, tc := range composeApps {
		t.Run(tc.service, func(t *testing.T) {
			deps := c.service(t, tc.service).DependsOn
			want := map[string]string{}
			for _, server := range tc.needs {
				want[server] = "service_healthy"
			}
			if tc.service != "stackctl-schema" {
				want["stackctl-schema"] = "service_completed_successfully"
			}
			for dep, cond := range want {
				got, ok := deps[dep]
				switch {
				case !ok:
					t.Errorf("service %s does not depend on %s (want condition %s)", tc.service, dep, cond)
				case got != cond:
					t.Errorf("service %s depends on %s with condition %s, want %s", tc.service, dep, got, cond)
				}
			}
			for dep, cond := range deps {
				switch {
				case want[dep] != "":
					// Checked above.
				case isServer(dep) && cond != "service_healthy":
					t.Errorf("service %s depends on server %s with condition %s, want service_healthy", tc.service, dep, cond)
				case !isServer(dep):
					t.Errorf("service %s depends on %s, which is neither a server nor stackctl-schema", tc.service, dep)
				}
			}
		})
	}
}

// MariaDB's user, password and database are scripts/stack.env's, in the
// server's settings, in its init grants and in every service's DSN.
func TestComposeMySQLCredentials(t *testing.T) {
	c := loadCompose(t)
	user := c.stackEnv(t, "VC_MYSQL_USER")
	password := c.stackEnv(t, "VC_MYSQL_PASSWORD")
	database := c.stackEnv(t, "VC_MYSQL_DATABASE")
	mariadb := c.service(t, "mariadb")

	t.Run("mariadb", func(t *testing.T) {
		env := mariadb.Environment
		for _, tc := range []struct{ name, stackVar, want string }{
			{"MARIADB_USER", "VC_MYSQL_USER", user},
			{"MARIADB_PASSWORD", "VC_MYSQL_PASSWORD", password},
			{"MARIADB_DATABASE", "VC_MYSQL_DATABASE", database},
		} {
			if got := env[tc.name]; got != tc.want {
				t.Errorf("service mariadb: %s=%q, but scripts/stack.env has %s=%q", tc.name, got, tc.stackVar, tc.want)
			}
		}
		if env["MARIADB_ROOT_PASSWORD"] == "" {
			t.Error("service mariadb: MARIADB_ROOT_PASSWORD is not set")
		}
	})

	t.Run("init grants", func(t *testing.T) {
		var script string
		for _, v := range mariadb.Volumes {
			src, dst, ok := strings.Cut(v, ":")
			if ok && strings.HasPrefix(dst, "/docker-entrypoint-initdb.d/") {
				script = src
			}
		}
		if script == "" {
			t.Fatalf("service mariadb mounts no script into /docker-entrypoint-initdb.d (volumes %q)", mariadb.Volumes)
		}
		data, err := os.ReadFile(filepath.Join(c.root, script))
		if err != nil {
			t.Fatalf("service mariadb's init script: %v", err)
		}
		grant := fmt.Sprintf("GRANT ALL PRIVILEGES ON *.* TO '%s'@'%%'", user)
		if !strings.Contains(string(data), grant) {
			t.Errorf("%s lacks %q: cdc needs the replication grants for VC_MYSQL_USER=%s", script, grant, user)
		}
	})

	for _, tc := range composeApps {
		dsn, ok := c.service(t, tc.service).Environment["VC_MYSQL_DSN"]
		if !ok {
			continue
		}
		t.Run(tc.service, func(t *testing.T) {
			cfg, err := mysql.ParseDSN(dsn)
			if err != nil {
				t.Fatalf("service %s: VC_MYSQL_DSN=%q: %v", tc.service, dsn, err)
			}
			for _, w := range []struct{ what, got, want string }{
				{"address", cfg.Addr, "mariadb:3306"},
				{"user (VC_MYSQL_USER)", cfg.User, user},
				{"password (VC_MYSQL_PASSWORD)", cfg.Passwd, password},
				{"database (VC_MYSQL_DATABASE)", cfg.DBName, database},
			} {
				if w.got != w.want {
					t.Errorf("service %s: VC_MYSQL_DSN %s is %q, want %q", tc.service, w.what, w.got, w.want)
				}
			}
		})
	}
}

// The varnish service fronts readsvc with internal/cdn's VCL (its tests
// keep scripts/compose/varnish.vcl current), where cdc purges it.
func TestComposeVarnish(t *testing.T) {
	c := loadCompose(t)
	s := c.service(t, "varnish")
	if !strings.HasPrefix(s.Image, "varnish:") {
		t.Errorf("service varnish: image %q, want the official varnish image", s.Image)
	}
	vcl, err := os.ReadFile(filepath.Join(c.root, "scripts", "compose", "varnish.vcl"))
	if err != nil {
		t.Fatal(err)
	}
	_, readPort, _ := strings.Cut(config.DefaultReadAddr, ":")
	if !strings.Contains(string(vcl), `.host = "readsvc";`) || !strings.Contains(string(vcl), `.port = "`+readPort+`";`) {
		t.Errorf("scripts/compose/varnish.vcl does not point at readsvc:%s", readPort)
	}
	if !slices.Contains(s.Volumes, "./scripts/compose/varnish.vcl:/etc/varnish/default.vcl:ro") {
		t.Errorf("service varnish does not mount scripts/compose/varnish.vcl as its default.vcl: %q", s.Volumes)
	}
}
