#!/usr/bin/python3
"""Compare what the agent printed on StatsD/DogStatsD stdout sinks with what Etsy statsd 0.9.0
(graphite backend, legacyNamespace false, globalPrefix "stats") wrote into carbon-cache.

usage: statsd_compare.py [--match REGEX] [--list] AGENT_STDOUT WHISPER_ROOT

Lines `name:value|c` / `name:value|g`, optionally `|@rate` and DogStatsD `|#k:v,k2:v2`, are read
from AGENT_STDOUT (other lines are ignored). statsd turns `|#k:v` tags into a Graphite tagged key
(`name;k=v;k2=v2`: stats.js replaces the first ':' of each tag with '='), and its graphite backend
writes counters as `stats.counters.NAME.count;TAGS` and gauges as `stats.gauges.NAME;TAGS`.
Checks, per series:
  counters: the sum of every point carbon stored equals the sum of the values printed (statsd
            re-buckets time into its own flushes, so totals are what must survive);
  gauges:   the last point carbon stored equals the last value printed.
Prints one line per difference; exit 0 if none.
"""
import os
import re
import sys

import whisper
from carbon.util import TaggedSeries

LINE = re.compile(r"^([^:|#\s]+):([^|]+)\|(c|g)(?:\|@([0-9.]+))?(?:\|#(\S*))?$")


def carbon_key(kind, name, tags):
    base = "stats.counters.%s.count" % name if kind == "c" else "stats.gauges.%s" % name
    if tags:
        base += ";" + ";".join(t.replace(";", "_").replace(":", "=", 1) for t in tags.split(","))
    return TaggedSeries.parse(base).path if ";" in base else base


def wsp_path(root, name):
    return os.path.join(root, TaggedSeries.encode(name, os.sep, hash_only=False) + ".wsp")


def points(root, name):
    path = wsp_path(root, name)
    if not os.path.exists(path):
        return None
    (start, _, step), values = whisper.fetch(path, 0)
    return [(start + i * step, v) for i, v in enumerate(values) if v is not None]


def fmt(v):
    return "%d" % v if v == int(v) else repr(v)


def main(argv):
    match = None
    listing = False
    args = []
    i = 0
    while i < len(argv):
        if argv[i] == "--match":
            match = re.compile(argv[i + 1]); i += 2; continue
        if argv[i] == "--list":
            listing = True; i += 1; continue
        args.append(argv[i]); i += 1
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out_file, root = args

    sums, last = {}, {}
    with open(out_file, errors="replace") as fh:
        for line in fh:
            m = LINE.match(line.strip())
            if not m or (match and not match.search(line)):
                continue
            name, value, kind, rate, tags = m.groups()
            key = carbon_key(kind, name, tags)
            v = float(value) / (float(rate) if rate else 1.0)
            if kind == "c":
                sums[key] = sums.get(key, 0.0) + v
            else:
                last[key] = v

    problems = []
    for key in sorted(sums):
        pts = points(root, key)
        if pts is None:
            problems.append("counter %s: no whisper file (%s)" % (key, wsp_path(root, key)))
            continue
        got = sum(v for _, v in pts)
        if listing:
            print("# %s: printed sum %s, carbon sum %s over %d points" % (key, fmt(sums[key]), fmt(got), len(pts)))
        if got != sums[key]:
            problems.append("counter %s: agent printed a total of %s, carbon holds %s (%s)"
                            % (key, fmt(sums[key]), fmt(got), " ".join("%d:%s" % (t, fmt(v)) for t, v in pts)))
    for key in sorted(last):
        pts = points(root, key)
        if pts is None:
            problems.append("gauge %s: no whisper file (%s)" % (key, wsp_path(root, key)))
            continue
        if listing:
            print("# %s: printed last %s, carbon last %s" % (key, fmt(last[key]), fmt(pts[-1][1]) if pts else "-"))
        if not pts or pts[-1][1] != last[key]:
            problems.append("gauge %s: agent printed %s last, carbon's last point is %s"
                            % (key, fmt(last[key]), fmt(pts[-1][1]) if pts else "none"))
    for p in problems:
        print(p)
    if not sums and not last:
        print("no statsd lines selected in %s" % out_file)
        return 1
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
