package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vidcomments/vidcomments/internal/apiclient"
	"github.com/vidcomments/vidcomments/internal/auth"
	"github.com/vidcomments/vidcomments/internal/proctest"
	"github.com/vidcomments/vidcomments/internal/stacktest"
)

var binDir string // the four service binaries, built once

func TestMain(m *testing.M) {
	code := func() int {
		dir, err := os.MkdirTemp("", "vc-e2e-bin")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		binDir = dir
		return m.Run()
	}()
	client.CloseIdleConnections()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

var buildOnce sync.Once
var buildErr error

func buildServices(t *testing.T) {
	t.Helper()
	buildOnce.Do(func() { buildErr = proctest.BuildInto(binDir, "./writesvc", "./syncer", "./cdc", "./readsvc") })
	if buildErr != nil {
		t.Fatal(buildErr)
	}
}

// proc is one service process, with the admin address, the environment
// added to the test's and the flags it was started with.
type proc struct {
	*proctest.Proc
	admin string
	env   []string
	args  []string
}

// cluster is the whole product on private storage.
type cluster struct {
	t        *testing.T
	secret   string
	WriteURL string
	ReadURL  string
	MySQL    *stacktest.MySQL
	Cass     *stacktest.Cassandra
	procs    []*proc
}

// startCluster starts syncer, cdc, readsvc and writesvc with moderation
// "pre" or "post", each on its own ports, and waits until all are ready.
// Services named in without are not started.
func startCluster(t *testing.T, moderation string, without ...string) *cluster {
	t.Helper()
	return startClusterEnv(t, moderation, nil, without...)
}

// startClusterEnv is startCluster with env added to every service's
// environment (a later value of a variable wins).
func startClusterEnv(t *testing.T, moderation string, env []string, without ...string) *cluster {
	t.Helper()
	c, common := newCluster(t, moderation, env...)
	write, read := stacktest.FreeAddr(t), stacktest.FreeAddr(t)
	c.WriteURL, c.ReadURL = "http://"+write, "http://"+read
	skip := map[string]bool{}
	for _, s := range without {
		skip[s] = true
	}
	if !skip["syncer"] {
		c.start("syncer", common)
	}
	if !skip["cdc"] {
		c.start("cdc", common, "-server-id", fmt.Sprint(20000+time.Now().UnixNano()%10000))
	}
	c.start("readsvc", common, "-addr", read, "-peer-addr", stacktest.FreeAddr(t))
	c.start("writesvc", common, "-addr", write)
	return c
}

// start runs the service name with env and args on a free admin port and
// waits until it is ready.
// newCluster makes a cluster's private database, keyspace and topic, and
// returns it with the environment its services share: moderation "pre" or
// "post", then env (a later value of a variable wins).
func newCluster(t *testing.T, moderation string, env ...string) (*cluster, []string) {
	t.Helper()
	stacktest.Integration(t)
	buildServices(t)
	my, cass, kafka := stacktest.NewMySQL(t), stacktest.NewCassandra(t), stacktest.NewKafka(t, stacktest.KafkaPartitions(t, 3))
	c := &cluster{t: t, secret: "e2e-test-secret-0123456789abcdef-0123456789", MySQL: my, Cass: cass}
	common := []string{
		"VC_MYSQL_DSN=" + my.Config.DSN,
		"VC_CASSANDRA_KEYSPACE=" + cass.Config.Keyspace,
		"VC_KAFKA_TOPIC=" + kafka.Config.Topic,
		"VC_SYNCER_GROUP=" + stacktest.Name("vctg"),
		"VC_JWT_SECRET=" + c.secret,
		"VC_MODERATION=" + moderation,
		"VC_CURSOR_KEY=e2e-cursor-key-0123456789abcdef",
		"VC_LOG_LEVEL=info",
	}
	return c, append(common, env...)
}

func (c *cluster) start(name string, env []string, args ...string) {
	c.t.Helper()
	admin := stacktest.FreeAddr(c.t)
	p := &proc{admin: admin, env: env, args: args}
	p.Proc = proctest.Start(c.t, name, filepath.Join(binDir, name), env, append([]string{"-admin-addr", admin}, args...)...)
	c.procs = append(c.procs, p)
	p.WaitReady("http://" + admin + "/readyz")
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// httpGet fetches url; code 0 and no body when the request failed.
func httpGet(url string) (int, []byte) {
	code, body := proctest.Get(url)
	if code == 0 {
		return 0, nil
	}
	return code, []byte(body)
}

// token signs a bearer token for user id with role.
func (c *cluster) token(user int64, role auth.Role) string {
	tok, err := auth.Issue(c.secret, auth.Principal{UserID: user, Role: role}, time.Now(), time.Hour)
	if err != nil {
		c.t.Fatal(err)
	}
	return tok
}

// post creates a comment through writesvc and returns its id.
func (c *cluster) post(video, user int64, content string) int64 {
	c.t.Helper()
	r, err := c.write().PostCommentWithResponse(context.Background(), apiID(video), nil,
		apiclient.NewComment{Content: content}, bearer(c.token(user, auth.RoleUser)))
	if err != nil {
		c.t.Fatal(err)
	}
	if r.StatusCode() != http.StatusAccepted || r.JSON202 == nil || parseID(r.JSON202.Id) == 0 {
		c.t.Fatalf("post: %d %s", r.StatusCode(), r.Body)
	}
	return parseID(r.JSON202.Id)
}

// visible returns the ids readsvc shows on the first page of video.
func (c *cluster) visible(video int64) []string {
	limit := 50
	r, err := c.read().ListVideoCommentsWithResponse(context.Background(), apiID(video), &apiclient.ListVideoCommentsParams{Limit: &limit})
	if err != nil || r.JSON200 == nil {
		return nil
	}
	return ids(r.JSON200.Comments)
}

// waitVisible polls readsvc until the first page of video shows exactly want.
func (c *cluster) waitVisible(video int64, want []int64, within time.Duration) {
	c.t.Helper()
	w := make([]string, len(want))
	for i, id := range want {
		w[i] = fmt.Sprint(id)
	}
	deadline := time.Now().Add(within)
	var got []string
	for time.Now().Before(deadline) {
		if got = c.visible(video); strings.Join(got, ",") == strings.Join(w, ",") {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatalf("video %d shows %v, want %v (after %v)", video, got, w, within)
}

// moderate sends POST /v1/mod/comments/{id}:action (approve, reject or
// delete) as moderator 1, with the reason "test".
func (c *cluster) moderate(id int64, action string) {
	c.t.Helper()
	code, b, err := c.moderateAs(c.token(1, auth.RoleModerator), id, action, "test")
	if err != nil {
		c.t.Fatal(err)
	}
	if code != http.StatusOK {
		c.t.Fatalf("%s %d: %d %s", action, id, code, b)
	}
}

// moderateAs sends one moderation action with token and reason, and never
// fails the test (safe from goroutines).
func (c *cluster) moderateAs(token string, id int64, action, reason string) (int, []byte, error) {
	ctx, as := context.Background(), bearer(token)
	switch action {
	case "approve":
		r, err := c.write().ApproveCommentWithResponse(ctx, apiID(id), apiclient.OptionalReasonBody{Reason: &reason}, as)
		if err != nil {
			return 0, nil, err
		}
		return r.StatusCode(), r.Body, nil
	case "reject":
		r, err := c.write().RejectCommentWithResponse(ctx, apiID(id), apiclient.RejectCommentJSONRequestBody{Reason: reason}, as)
		if err != nil {
			return 0, nil, err
		}
		return r.StatusCode(), r.Body, nil
	case "delete":
		r, err := c.write().ModeratorDeleteCommentWithResponse(ctx, apiID(id), apiclient.OptionalReasonBody{Reason: &reason}, as)
		if err != nil {
			return 0, nil, err
		}
		return r.StatusCode(), r.Body, nil
	}
	return 0, nil, fmt.Errorf("no moderation action %q", action)
}
