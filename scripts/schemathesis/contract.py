"""The contract run behind scripts/contract (see there for the settings).

1. Both services must answer; if one does not, say how to start it.
2. Seed: post, approve and reply through writesvc, wait until readsvc shows
   it, so that generated requests also reach existing videos and comments
   (schemathesis draws ids from these half of the time).
3. Split docs/openapi.yaml per service (split.py) and run schemathesis on
   each part against its service, all checks, every phase (examples,
   coverage, fuzzing, stateful):
     readsvc                       no token
     writesvc                      a moderator's token
     writesvc                      a user's token
     writesvc                      no token
4. Print, and write to $VC_CONTRACT_OUT/summary.txt, the requests sent,
   the operations covered, the failures and the 5xx of each run. Exit 1 if
   any run failed a check, errored, answered a 5xx or left an operation
   untested.
"""

import base64
import hashlib
import hmac
import json
import os
import random
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import split  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
READ = os.environ.get("VC_CONTRACT_READ_URL", "http://127.0.0.1:8080").rstrip("/")
WRITE = os.environ.get("VC_CONTRACT_WRITE_URL", "http://127.0.0.1:8081").rstrip("/")
SECRET = os.environ["VC_CONTRACT_JWT_SECRET"]
EXAMPLES = int(os.environ.get("VC_CONTRACT_EXAMPLES", "25"))
SEED = os.environ.get("VC_CONTRACT_SEED", "")
CHAIN_ATTEMPTS = 3  # draws of the stateful chain phase before "no whole chain" fails the run
ONLY = os.environ.get("VC_CONTRACT_ONLY", "")  # run only the runs whose name contains this
OUT = os.environ["VC_CONTRACT_OUT"]
START_HINT = "start the stack and the services with `make up` (scripts/stack up && scripts/services up)"

# Users far from the small ids a generator favours; a generated ban of one
# of them is turned onto another user (vc_hooks.before_call), so the run
# never locks itself out. The moderators are new each run: posts are
# rate-limited per user, and the chain run needs posts of its own.
MODERATOR, CHAIN_MODERATOR = random.sample(range(7_100_000_000, 7_200_000_000), 2)
USER, SEEDER = 7_000_000_002, 7_000_000_003
# The chain of issue #17, each step one of the document's links from the
# step before: postComment →(Approve) approveComment →(Like) likeComment,
# →(Reply) postComment with the approved id as parent_id, →(Delete)
# deleteComment. The chain run is the stateful phase on these operations
# alone, so that its scenarios spend their steps on the chain; the run fails
# unless at least one created comment went through all of it.
CHAIN_OPERATIONS = ("postComment", "approveComment", "likeComment", "deleteComment")


def say(msg):
    print(f"[contract] {msg}", flush=True)


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def token(sub, role):
    """An HS256 JWT as writesvc issues it (internal/auth.Issue)."""
    now = int(time.time())
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps({"sub": str(sub), "role": role, "iat": now, "nbf": now, "exp": now + 3600}).encode())
    sig = hmac.new(SECRET.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(sig)}"


def call(method, url, tok=None, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if tok:
        req.add_header("Authorization", "Bearer " + tok)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def reachable(name, url):
    try:
        call("GET", url)
    except (urllib.error.URLError, OSError) as e:
        sys.exit(f"[contract] error: {name} at {url} is not answering ({e}); {START_HINT}")


def seed():
    """A video with approved roots and replies; returns (videos, comments)."""
    mod, user = token(MODERATOR, "moderator"), token(SEEDER, "user")
    video = str(random.randrange(10**12, 10**13))
    ids = []
    for u in (MODERATOR, USER, SEEDER):  # a ban an earlier run left must not lock this one out
        code, out = call("POST", f"{WRITE}/v1/mod/users/{u}:unban", mod)
        if code != 200:
            sys.exit(f"[contract] error: seeding: unban {u} answered {code} {out}")

    def post(body):
        code, out = call("POST", f"{WRITE}/v1/videos/{video}/comments", user, body)
        if code != 202:
            sys.exit(f"[contract] error: seeding: POST comment answered {code} {out}")
        code, out2 = call("POST", f"{WRITE}/v1/mod/comments/{out['id']}:approve", mod)
        if code != 200:
            sys.exit(f"[contract] error: seeding: approve answered {code} {out2}")
        ids.append(out["id"])
        return out["id"]

    roots = [post({"content": f"contract seed {i}"}) for i in range(3)]
    for i in range(2):
        post({"content": f"contract seed reply {i}", "parent_id": roots[0]})
    deadline = time.time() + 30
    while True:
        code, page = call("GET", f"{READ}/v1/videos/{video}/comments")
        shown = {c["id"] for c in (page or {}).get("comments", [])} if code == 200 else set()
        if set(roots) <= shown:
            break
        if time.time() > deadline:
            sys.exit(f"[contract] error: seeding: readsvc does not show video {video}'s approved comments after 30 s (last answer {code})")
        time.sleep(0.2)
    return [video], ids


def config(path, videos, comments, stateful_examples):
    """schemathesis.toml for one run: half the generated ids are drawn from
    the seeded videos and comments."""
    quote = lambda vs: "[" + ", ".join(json.dumps(v) for v in vs) + "]"  # noqa: E731
    pools = ""
    if videos:
        pools = f"""
[dictionaries.videos]
values = {quote(videos)}

[dictionaries.comments]
values = {quote(comments)}

[parameters]
"path.video_id" = {{ dictionary = "videos", probability = 0.5 }}
"path.id" = {{ dictionary = "comments", probability = 0.5 }}
"""
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"""# written by scripts/schemathesis/contract.py
color = false

[generation]
database = "none"
max-examples = {EXAMPLES}

[checks.positive_data_acceptance]
# The defaults, plus 422: a well-formed request about a state that does not
# allow it (a parent or a pinned comment that is missing or not approved),
# as docs/openapi.yaml documents — the same kind of answer as 404 and 409.
expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]

[phases.stateful]
max-steps = 40

[phases.stateful.generation]
max-examples = {stateful_examples}

[phases.stateful.inference]
# Only the document's own links: inferred ones carry user_id from comment
# answers into bans, and the run would ban its own posters.
algorithms = []

{pools}""")


def operations(doc_path):
    import yaml

    with open(doc_path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    return sorted(f"{m.upper()} {p}" for p, item in doc["paths"].items() for m in item if m in split.METHODS)


def run(name, doc_path, url, tok, phases, videos, comments, chain=False):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    cfg, stats, log = os.path.join(d, "schemathesis.toml"), os.path.join(d, "stats.json"), os.path.join(d, "output.txt")
    # The chain run draws no ids from the seeded pools: its ids come from the links.
    config(cfg, [] if chain else videos, comments, EXAMPLES * (8 if chain else 4))
    for f in (stats,):
        if os.path.exists(f):
            os.remove(f)
    cmd = [os.path.join(os.path.dirname(sys.executable), "schemathesis"), "--config-file", cfg, "run", doc_path,
           "--url", url, "--checks", "all", "--report", "json", "--report-json-path", os.path.join(d, "report.json")]
    if tok:
        cmd += ["--header", f"Authorization: Bearer {tok}"]
    if phases:
        cmd += ["--phases", phases]
    if SEED:
        cmd += ["--seed", SEED]
    env = dict(os.environ, PYTHONPATH=HERE, SCHEMATHESIS_HOOKS="vc_hooks", VC_CONTRACT_STATS=stats, VC_CONTRACT_CHAIN="1" if chain else "0",
               VC_CONTRACT_PROTECTED_USERS=",".join(str(u) for u in (MODERATOR, CHAIN_MODERATOR, USER, SEEDER)))
    started = time.time()
    with open(log, "w", encoding="utf-8") as f:
        rc = subprocess.run(cmd, cwd=d, env=env, stdout=f, stderr=subprocess.STDOUT).returncode
    with open(log, encoding="utf-8") as f:
        output = f.read()
    try:
        with open(os.path.join(d, "report.json"), encoding="utf-8") as f:
            report = json.load(f)
        with open(stats, encoding="utf-8") as f:
            st = json.load(f)
    except (OSError, ValueError) as e:
        print(output[-6000:])
        sys.exit(f"[contract] error: {name}: schemathesis left no report ({e}); its output is above and in {log}")
    ops = operations(doc_path)
    covered = [o for o in ops if st["by_operation"].get(o, 0) > 0]
    res = {
        "name": name,
        "exit": rc,
        "seconds": round(time.time() - started, 1),
        "requests": st["requests"],
        "operations": len(ops),
        "covered": len(covered),
        "uncovered": sorted(set(ops) - set(covered)),
        "failures": report["test_cases"]["unique_failures"],
        "errors": len(report.get("errors") or []),
        "server_errors": st["server_errors"],
        "dropped": st["dropped_unissued_cursor"],
        "statuses": st["statuses"],
        "warnings": sorted(k for k, v in (report.get("warnings") or {}).items() if v),
        "stateful": st["stateful_requests"],
        "created": st["stateful_created"],
        "steps": st["stateful_steps"],
        "chains": st["stateful_full_chains"],
        "log": log,
    }
    res["ok"] = (rc == 0 and res["failures"] == 0 and res["errors"] == 0 and res["server_errors"] == 0
                 and not res["uncovered"] and res["requests"] > 0 and (not chain or res["chains"] > 0))
    res["unchained"] = chain and res["chains"] == 0
    if not res["ok"]:
        print(output[-12000:])
    return res


def line(r):
    return (f"{r['name']:<24} {r['requests']:>6} requests  {r['covered']:>2}/{r['operations']:<2} operations  "
            f"{r['failures']} failures  {r['errors']} errors  {r['server_errors']} 5xx  "
            f"({r['seconds']} s; statuses {' '.join(f'{k}×{v}' for k, v in r['statuses'].items())}"
            f"{'; ' + str(r['dropped']) + ' refusals of cursors never issued' if r['dropped'] else ''})"
            + (f"\n{'':<24} stateful: {r['stateful']} requests; {r['created']} comments created, then "
               + ", ".join(f"{k} {v}" for k, v in r["steps"].items())
               + f"; {r['chains']} through the whole chain post → approve → like → reply → delete" if r["created"] else ""))


def main(doc):
    os.makedirs(OUT, exist_ok=True)
    summary = os.path.join(OUT, "summary.txt")
    if os.path.exists(summary):
        os.remove(summary)
    reachable("readsvc", f"{READ}/v1/videos/1/comments")
    reachable("writesvc", f"{WRITE}/v1/mod/queue")
    videos, comments = seed()
    say(f"seeded video {videos[0]} with {len(comments)} approved comments")
    parts = {}
    for svc in ("readsvc", "writesvc"):
        parts[svc] = os.path.join(OUT, f"openapi.{svc}.yaml")
        split.main(doc, svc, parts[svc])
    parts["chain"] = os.path.join(OUT, "openapi.chain.yaml")
    split.main(doc, "writesvc", parts["chain"], *CHAIN_OPERATIONS)
    runs = [
        ("readsvc, no token", parts["readsvc"], READ, None, None),
        ("writesvc, moderator", parts["writesvc"], WRITE, token(MODERATOR, "moderator"), None),
        ("writesvc, user", parts["writesvc"], WRITE, token(USER, "user"), None),
        ("writesvc, no token", parts["writesvc"], WRITE, None, None),
        ("writesvc, moderator, chain", parts["chain"], WRITE, token(CHAIN_MODERATOR, "moderator"), "stateful"),
    ]
    results = []
    for name, part, url, tok, phases in runs:
        if ONLY not in name:
            continue
        say(f"{name}: schemathesis run {os.path.relpath(part)} --url {url}" + (f" --phases {phases}" if phases else ""))
        chain = part == parts["chain"]
        # The stateful phase draws its steps at random, and now and then
        # none of its comments happens to go through all five (seen once in
        # make test: 204 created, 51 approved, 0 whole chains). That alone
        # is drawn again, with a new seed, up to CHAIN_ATTEMPTS times
        # (not when VC_CONTRACT_SEED repeats a run); any other failure ends
        # the run at once.
        attempts = CHAIN_ATTEMPTS if chain and not SEED else 1
        for attempt in range(1, attempts + 1):
            r = run(name.replace(", ", "-").replace(" ", "-"), part, url, tok, phases, videos, comments, chain=chain)
            r["attempt"] = attempt
            only_unchained = r["unchained"] and r["exit"] == 0 and not (r["failures"] or r["errors"] or r["server_errors"] or r["uncovered"])
            if not only_unchained or attempt == attempts:
                break
            say(f"{name}: attempt {attempt}: no created comment went through the whole chain; drawing the stateful phase again")
        r["name"] = name
        results.append(r)
        say(line(r))
    total = {k: sum(r[k] for r in results) for k in ("requests", "failures", "errors", "server_errors")}
    ok = all(r["ok"] for r in results)
    lines = [line(r) for r in results]
    lines.append(f"{'all':<24} {total['requests']:>6} requests  {sum(r['covered'] for r in results)} operation runs  "
                 f"{total['failures']} failures  {total['errors']} errors  {total['server_errors']} 5xx  — {'PASS' if ok else 'FAIL'}")
    for r in results:
        if r["uncovered"]:
            lines.append(f"{r['name']}: never requested: {', '.join(r['uncovered'])}")
        if r["warnings"]:
            lines.append(f"{r['name']}: schemathesis warnings (not failures): {', '.join(r['warnings'])}")
        if r["unchained"]:
            lines.append(f"{r['name']}: no created comment went through the whole chain post → approve → like → reply → delete"
                         f" in {r['attempt']} attempt(s)")
        elif r.get("attempt", 1) > 1:
            lines.append(f"{r['name']}: a comment went through the whole chain in attempt {r['attempt']} of {CHAIN_ATTEMPTS}")
        if not r["ok"]:
            lines.append(f"{r['name']}: FAILED (exit {r['exit']}); full output in {r['log']}")
    with open(summary, "w", encoding="utf-8") as f:
        f.write("API contract (schemathesis, docs/openapi.yaml)\n" + "\n".join(lines) + "\n")
    print("\n".join(lines), flush=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main(sys.argv[1])
