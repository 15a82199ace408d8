"""Write the part of docs/openapi.yaml one service serves.

    python split.py docs/openapi.yaml readsvc out.yaml [operationId ...]

Keeps the operations whose x-service is the service (and, when operation
ids are given, only those), the path items that still have one, and the
links that lead to a kept operation. Each service
is then tested against exactly its own operations: the methods a path item
lists are the methods that service serves there, which is what its 405s
and Allow headers say.

"""

import sys

import yaml

METHODS = {"get", "head", "post", "put", "patch", "delete", "options", "trace"}


def drop_links(node, keep):
    """Removes, anywhere under node, links whose operationId is not kept."""
    if isinstance(node, dict):
        links = node.get("links")
        if isinstance(links, dict):
            for name in [n for n, l in links.items() if l.get("operationId") not in keep]:
                del links[name]
            if not links:
                del node["links"]
        for v in node.values():
            drop_links(v, keep)
    elif isinstance(node, list):
        for v in node:
            drop_links(v, keep)


def main(src, service, dst, *only):
    with open(src, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    keep, paths = set(), {}
    for path, item in doc["paths"].items():
        ops = {m: op for m, op in item.items()
               if m in METHODS and op.get("x-service") == service and (not only or op["operationId"] in only)}
        if not ops:
            continue
        paths[path] = {k: v for k, v in item.items() if k not in METHODS} | ops
        keep.update(op["operationId"] for op in ops.values())
    if not keep:
        sys.exit(f"split.py: no operation of {service} in {src}")
    if only and set(only) - keep:
        sys.exit(f"split.py: {src} has no {service} operation {', '.join(sorted(set(only) - keep))}")
    doc["paths"] = paths
    doc["servers"] = [s for s in doc["servers"] if service in s.get("description", "")]
    drop_links(doc, keep)
    with open(dst, "w", encoding="utf-8") as f:
        yaml.safe_dump(doc, f, sort_keys=False, allow_unicode=True)
    print(f"{service}: {sum(len([m for m in i if m in METHODS]) for i in paths.values())} operations on {len(paths)} paths")


if __name__ == "__main__":
    main(*sys.argv[1:])
