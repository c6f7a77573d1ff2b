#!/usr/bin/env python3
"""Check the committed dashboards against the metric catalogue (`bpfpush --list-metrics`):

1. every metric a dashboard queries exists in the catalogue, with the tags it uses;
2. every metric the catalogue prints appears on some panel of each set (Graphite plain,
   graphite-tagged, Datadog); a histogram through all of its .p50/.p95/.p99/.max/.bucket series;
3. the committed JSON is byte for byte what dashboards/generate.py writes now.

This reads the queries back from the JSON independently of how the generator builds them, so
a hand edit or a generator bug that names a metric the agent does not send fails here.
Exit 0 when all hold; 1 with one line per finding otherwise. Needs no root.
"""
import argparse
import glob
import json
import os
import re
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "dashboards"))
sys.dont_write_bytecode = True  # no __pycache__ beside the committed dashboards
import generate  # noqa: E402  (dashboards/generate.py: the catalogue parser and the writer)

SETS = ("grafana-graphite", "grafana-graphite-tagged", "datadog")


def catalogue_series(metrics):
    """{series name: (type, tags)} as sent, histograms expanded."""
    out = {}
    for m in metrics:
        for name, kind, tags in generate.series_of(m):
            out[name] = (kind, tags)
    return out


def grafana_targets(doc):
    for panel in doc.get("panels", []):
        for t in panel.get("targets", []):
            yield panel.get("title", "?"), t.get("target", "")


def datadog_queries(doc):
    def walk(widgets):
        for w in widgets:
            d = w.get("definition", {})
            if d.get("type") == "group":
                yield from walk(d.get("widgets", []))
            for r in d.get("requests", []):
                yield d.get("title", "?"), r.get("q", "")
    yield from walk(doc.get("widgets", []))


PLAIN_PATH = re.compile(r"\$prefix\.\$host\.([A-Za-z0-9_.*$-]+)")
TAGGED_CALL = re.compile(r"seriesByTag\(([^)]*)\)")
DD_QUERY = re.compile(r"^(sum|avg|max|min):bpfpush\.([A-Za-z0-9_.]+)\{([^}]*)\}(?: by \{([^}]*)\})?")


def names_plain(target):
    """(series name, tag slots) for each path in a plain target: variable/wildcard segments are tag
    values, a trailing le_* is the bucket bound."""
    out = []
    for path in PLAIN_PATH.findall(target):
        segs = path.split(".")
        slots = sum(1 for s in segs if s == "*" or s.startswith("$") or s.startswith("{"))
        name = [s for s in segs if not (s == "*" or s.startswith("$") or s.startswith("{")
                                        or s.startswith("le_"))]
        if segs[-1].startswith("le_"):
            slots += 1
        out.append((".".join(name), slots))
    return out


def names_tagged(target):
    out = []
    for args in TAGGED_CALL.findall(target):
        exprs = [a.strip().strip("'\"") for a in args.split(",")]
        name = [e for e in exprs if e.startswith("name=")]
        keys = [re.split(r"!?=~?", e, 1)[0] for e in exprs if not e.startswith("name=")]
        if len(name) != 1 or not name[0].startswith("name=$prefix.$host."):
            out.append((None, keys))
            continue
        out.append((name[0][len("name=$prefix.$host."):], keys))
    # groupByTags(..., 'AGG', 'tag', ...): the tag keys follow the aggregation's name
    grouped = re.findall(r"'(?:sum|max|min|avg|average)'((?:,\s*'[A-Za-z0-9_-]+')+)\)", target)
    used = {k for g in grouped for k in re.findall(r"'([^']+)'", g)}
    return out, used


def check(metrics, dashdir):
    series = catalogue_series(metrics)
    plain_path_tags = {n: [t for t in tags if t not in generate.PLAIN_PATH_DROPS]
                       for n, (_, tags) in series.items()}
    problems, seen = [], {s: set() for s in SETS}
    for s in SETS:
        files = sorted(glob.glob(os.path.join(dashdir, s, "*.json")))
        if not files:
            problems.append("%s: no dashboards" % s)
        for f in files:
            rel = os.path.relpath(f, dashdir)
            with open(f, encoding="utf-8") as fh:
                doc = json.load(fh)
            if s == "datadog":
                for title, q in datadog_queries(doc):
                    m = DD_QUERY.match(q)
                    if not m:
                        problems.append("%s: %r: query not understood: %s" % (rel, title, q))
                        continue
                    name, by = m.group(2), m.group(4)
                    if name not in series:
                        problems.append("%s: %r: %s is not in --list-metrics" % (rel, title, name))
                        continue
                    for key in (by.split(",") if by else []):
                        if key not in series[name][1] and key != "host":
                            problems.append("%s: %r: %s has no tag %s" % (rel, title, name, key))
                    seen[s].add(name)
                continue
            for title, target in grafana_targets(doc):
                if s == "grafana-graphite":
                    found = names_plain(target)
                    for name, slots in found:
                        if name not in series:
                            problems.append("%s: %r: %s is not in --list-metrics" % (rel, title, name))
                        elif slots != len(plain_path_tags[name]):
                            problems.append("%s: %r: %s has %d tag segments in the path, the wire %d"
                                            % (rel, title, name, slots, len(plain_path_tags[name])))
                        else:
                            seen[s].add(name)
                else:
                    found, used = names_tagged(target)
                    tagset = set()
                    for name, keys in found:
                        if name not in series:
                            problems.append("%s: %r: %s is not in --list-metrics" % (rel, title, name))
                            continue
                        tagset |= set(series[name][1])
                        for k in keys:
                            if k not in series[name][1]:
                                problems.append("%s: %r: %s has no tag %s" % (rel, title, name, k))
                        seen[s].add(name)
                    for k in sorted(used - tagset):
                        problems.append("%s: %r: groups by %s, a tag its series do not have"
                                        % (rel, title, k))
                if not found:
                    problems.append("%s: %r: no bpfpush metric in target %s" % (rel, title, target))
    for s in SETS:
        for name in series:
            if name not in seen[s]:
                problems.append("%s: %s (from --list-metrics) is on no panel" % (s, name))
    return problems, {s: len(seen[s]) for s in SETS}, len(series)


def check_fresh(metrics, dashdir):
    problems = []
    expected = generate.render(metrics)
    committed = {os.path.relpath(f, dashdir) for s in SETS
                 for f in glob.glob(os.path.join(dashdir, s, "*.json"))}
    for rel in sorted(committed - set(expected)):
        problems.append("%s: not written by dashboards/generate.py (stale file?)" % rel)
    for rel, text in sorted(expected.items()):
        path = os.path.join(dashdir, rel)
        if not os.path.exists(path):
            problems.append("%s: missing: run dashboards/generate.py" % rel)
            continue
        with open(path, encoding="utf-8") as f:
            if f.read() != text:
                problems.append("%s: differs from what dashboards/generate.py writes now: rerun it"
                                % rel)
    return problems


def main():
    ap = argparse.ArgumentParser(description="dashboards vs bpfpush --list-metrics")
    ap.add_argument("--agent", default=os.path.join(ROOT, "build", "bpfpush"))
    ap.add_argument("--catalogue", help="a saved --list-metrics output instead of running --agent")
    ap.add_argument("--dir", default=os.path.join(ROOT, "dashboards"))
    args = ap.parse_args()
    metrics = generate.parse_catalogue(generate.catalogue_text(args))
    problems, covered, total = check(metrics, args.dir)
    problems += check_fresh(metrics, args.dir)
    for p in problems:
        print("FAIL " + p)
    for s in SETS:
        panels = 0
        for f in glob.glob(os.path.join(args.dir, s, "*.json")):
            with open(f, encoding="utf-8") as fh:
                doc = json.load(fh)
            if "panels" in doc:
                panels += sum(1 for p in doc["panels"] if p["type"] != "row")
            else:
                panels += sum(len(g["definition"].get("widgets", [])) for g in doc["widgets"])
        print("%-24s %2d dashboards, %3d panels, %d of %d series names covered"
              % (s, len(glob.glob(os.path.join(args.dir, s, "*.json"))), panels, covered[s], total))
    print("check-dashboards: %d metrics in --list-metrics, %s" %
          (len(metrics), "%d problem(s)" % len(problems) if problems else "ok"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
