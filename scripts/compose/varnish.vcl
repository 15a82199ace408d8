vcl 4.1;
# The CDN tier in front of readsvc (internal/cdn): written by cdn.VCL for
# one backend. Pages are cached for the s-maxage readsvc sends and purged by
# tag (xkey) when cdc sees a row change.

import xkey;
import std;

backend readsvc {
    .host = "readsvc";
    .port = "8080";
    .connect_timeout = 1s;
    .first_byte_timeout = 10s;
}

# Who may purge: cdc runs beside Varnish.
acl purgers {
    "127.0.0.1";
    "10.0.0.0"/8;
    "172.16.0.0"/12;
    "192.168.0.0"/16;
}

sub vcl_recv {
    if (req.method == "PURGE") {
        if (client.ip !~ purgers) {
            return (synth(403, "purge not allowed from this address"));
        }
        if (!req.http.xkey-purge) {
            return (synth(400, "a PURGE needs an xkey-purge header"));
        }
        set req.http.X-Purged = xkey.purge(req.http.xkey-purge);
        return (synth(200, "purged " + req.http.X-Purged));
    }
    if (req.method != "GET" && req.method != "HEAD") {
        return (pass);
    }
    # A signed-in reader's page one holds their own pending comments: it is
    # private (readsvc says so too); never look it up or store it.
    if (req.http.Authorization) {
        return (pass);
    }
    unset req.http.Cookie;
    return (hash);
}

sub vcl_backend_fetch {
    # A shared copy is about to be made: readsvc checks the video's version
    # and the authors' profiles in Redis instead of trusting what its inval
    # channel has told it so far, so a fetch right after a purge never
    # stores the page as it was.
    set bereq.http.X-Vidcomments-Shared = "1";
}

sub vcl_backend_response {
    # Only fresh answers are shared: not an error, not a page readsvc could
    # not confirm fresh (X-Cache-Stale), not a private page.
    if (beresp.status >= 500 || beresp.http.X-Cache-Stale || beresp.http.Cache-Control ~ "private") {
        set beresp.uncacheable = true;
        set beresp.ttl = 1s;
        return (deliver);
    }
    set beresp.http.xkey = beresp.http.Surrogate-Key;
    set beresp.grace = 0s;
}

sub vcl_deliver {
    unset resp.http.xkey;
    unset resp.http.Surrogate-Key;
    unset resp.http.Via;
    if (obj.uncacheable) {
        set resp.http.X-Cache = "PASS";
    } elsif (obj.hits > 0) {
        set resp.http.X-Cache = "HIT";
    } else {
        set resp.http.X-Cache = "MISS";
    }
}

sub vcl_synth {
    set resp.http.Content-Type = "application/json; charset=utf-8";
    if (resp.status == 200 && req.method == "PURGE") {
        set resp.body = {"{"purged":"} + req.http.X-Purged + "}";
    } else {
        set resp.body = {"{"error":{"code":"cdn","message":""} + resp.reason + """"}}""";
    }
    return (deliver);
}
