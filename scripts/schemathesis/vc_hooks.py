"""Schemathesis hooks for vidcomments' contract run (scripts/contract).

Cursors are opaque and signed: a random string is a schema-valid `cursor`
the services must refuse (400 bad_cursor / invalid_cursor, as
docs/openapi.yaml says). Schemathesis's positive_data_acceptance check
would count that refusal as a failure. This hook drops exactly those
failures — a 400 to a request whose cursor no response of this run ever
issued as `next_cursor` — and nothing else: a cursor the service did issue
and then refused still fails the run, as does any other 400.

It also counts what the run sent — requests, per operation, and 5xx
answers — into the JSON file $VC_CONTRACT_STATS when the run ends, for
scripts/contract's summary, and follows each comment the stateful phase
created: which of approve, like, reply (a post naming it as parent_id) and
delete then succeeded on it, so the summary can say how many comments went
through the whole chain post → approve → like → reply → delete.
"""

import atexit
import collections
import json
import os

import schemathesis
from schemathesis.core.failures import Failure

CURSOR_CODES = {"bad_cursor", "invalid_cursor"}
issued: set[str] = set()
dropped = 0
requests_by_operation: collections.Counter = collections.Counter()
statuses: collections.Counter = collections.Counter()
stateful_statuses: collections.Counter = collections.Counter()
stateful_requests = 0
# comment id created in the stateful phase → steps that then succeeded on it
chains: dict[str, set] = {}
STEPS = {
    ("POST", "/v1/mod/comments/{id}:approve"): "approve",
    ("PUT", "/v1/comments/{id}/like"): "like",
    ("DELETE", "/v1/comments/{id}"): "delete",
    ("POST", "/v1/mod/comments/{id}:delete"): "delete",
}
CHAIN = ("approve", "like", "reply", "delete")


def _write_stats():
    path = os.environ.get("VC_CONTRACT_STATS")
    if not path:
        return
    with open(path, "w", encoding="utf-8") as f:
        json.dump(
            {
                "requests": sum(requests_by_operation.values()),
                "by_operation": dict(requests_by_operation),
                "statuses": {str(k): v for k, v in sorted(statuses.items())},
                "server_errors": sum(v for k, v in statuses.items() if k >= 500),
                "dropped_unissued_cursor": dropped,
                "stateful_requests": stateful_requests,
                "stateful_statuses": {f"{k[0]} {k[1]}": v for k, v in sorted(stateful_statuses.items())},
                "stateful_created": len(chains),
                "stateful_steps": {step: sum(step in c for c in chains.values()) for step in CHAIN},
                "stateful_full_chains": sum(all(step in c for step in CHAIN) for c in chains.values()),
            },
            f,
            indent=1,
        )


atexit.register(_write_stats)


# The users the run itself acts as (scripts/schemathesis/contract.py). Their
# ids reach the generators through the responses (author_id, banned_by…), and
# a generated ban of one of them would lock the rest of the run out: such a
# ban targets another user instead. Everything else about the request stays.
PROTECTED = set(filter(None, os.environ.get("VC_CONTRACT_PROTECTED_USERS", "").split(",")))
STAND_IN = "7000000099"


# The chain run (VC_CONTRACT_CHAIN=1, scripts/schemathesis/contract.py)
# starts its scenarios with root comments: a generated parent_id names no
# comment (422) and a generated Idempotency-Key is soon reused (409), and
# either ends the scenario before it began. Its replies come from the
# document's Reply link, which sets parent_id after generation. The other
# runs generate both freely.
CHAIN_RUN = os.environ.get("VC_CONTRACT_CHAIN") == "1"
POST_COMMENT_PATHS = {"/v1/videos/{video_id}/comments"}

# Schemathesis (4.32.5, pinned) starts stateful scenarios only from
# operations it judges "likely roots", and rules out an operation that has
# an input it infers as a reference to a resource no operation produces:
# postComment takes video_id (and parent_id), and nothing in the API makes
# videos, so by its rule no scenario would begin with a post, and the
# chain post → approve → like → reply → delete would never run (every
# scenario began with approve on a random id instead). In the chain run,
# the post is the root and nothing else is.
if CHAIN_RUN:
    from schemathesis.specs.openapi import stateful as _stateful

    def _post_is_the_root(operation, node, produced_anywhere):
        return operation.method.upper() == "POST" and operation.path in POST_COMMENT_PATHS

    _stateful.is_likely_root_transition = _post_is_the_root


def _posts_comment(context):
    op = context.operation
    return op is not None and op.method.upper() == "POST" and op.path in POST_COMMENT_PATHS


@schemathesis.hook
def filter_body(context, body):
    return not (CHAIN_RUN and _posts_comment(context) and isinstance(body, dict) and body.get("parent_id") is not None)


@schemathesis.hook
def filter_headers(context, headers):
    return not (CHAIN_RUN and _posts_comment(context) and headers and "Idempotency-Key" in headers)


@schemathesis.hook
def before_call(context, case, **kwargs):
    if case.operation.path == "/v1/mod/users/{id}:ban" and str((case.path_parameters or {}).get("id")) in PROTECTED:
        case.path_parameters["id"] = STAND_IN


@schemathesis.hook
def after_call(context, case, response):
    global stateful_requests
    method = case.method.upper()
    requests_by_operation[f"{method} {case.operation.path}"] += 1
    statuses[response.status_code] += 1
    meta = getattr(case, "meta", None)
    if meta is not None and str(getattr(meta.phase.name, "value", meta.phase.name)).lower() == "stateful":
        stateful_requests += 1
        stateful_statuses[(f"{method} {case.operation.path}", response.status_code)] += 1
        _follow(case, method, response)
        if os.environ.get("VC_DEBUG_LOG"):
            with open(os.environ["VC_DEBUG_LOG"], "a") as f:
                f.write(json.dumps({"m": method, "p": case.operation.path, "pp": case.path_parameters, "b": case.body if isinstance(case.body,(dict,list,str,type(None))) else str(case.body), "s": response.status_code, "r": response.content[:300].decode("utf-8","replace")}, default=str) + "\n")
    try:
        body = json.loads(response.content or b"null")
    except ValueError:
        return
    if isinstance(body, dict) and isinstance(body.get("next_cursor"), str):
        issued.add(body["next_cursor"])


def _follow(case, method, response):
    if not 200 <= response.status_code < 300:
        return
    path = case.operation.path
    if method == "POST" and path in POST_COMMENT_PATHS:
        try:
            chains.setdefault(json.loads(response.content)["id"], set())
        except (ValueError, KeyError, TypeError):
            return
        parent = case.body.get("parent_id") if isinstance(case.body, dict) else None
        if parent in chains:
            chains[parent].add("reply")
        return
    step = STEPS.get((method, path))
    target = (case.path_parameters or {}).get("id")
    if step and target in chains:
        chains[target].add(step)


@schemathesis.hook
def filter_failure(context, failure: Failure, case, response) -> bool:
    global dropped
    if type(failure).__name__ != "RejectedPositiveData" or response.status_code != 400:
        return True
    cursor = (case.query or {}).get("cursor")
    if not isinstance(cursor, str) or cursor == "" or cursor in issued:
        return True
    if case.method.upper() != "HEAD":  # HEAD has no body to read the code from
        try:
            code = json.loads(response.content)["error"]["code"]
        except (ValueError, KeyError, TypeError):
            return True
        if code not in CURSOR_CODES:
            return True
    dropped += 1
    return False
