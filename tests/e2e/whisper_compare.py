#!/usr/bin/python3
"""Compare what the agent printed on a graphite stdout sink with what carbon-cache stored.

usage: whisper_compare.py [options] AGENT_STDOUT WHISPER_ROOT [WHISPER_ROOT...]

AGENT_STDOUT holds graphite lines `name value timestamp` (plain or tagged); other lines are
ignored. For every series selected (--match, a regex on the name as printed), the points read
back from whisper (whisper.fetch, as whisper-fetch does) must equal the printed ones: the same
timestamps, the same values, no point missing, none extra. With several roots (a relay cluster)
each series must be stored in exactly one of them.

Options:
  --match REGEX     only series whose printed name matches (re.search)
  --from TS         only points with timestamp >= TS (both sides)
  --until TS        only points with timestamp <= TS (both sides)
  --extra           also fail on series stored in whisper that the agent never printed
                    (restricted to --match)
  --list            print the series compared and their point counts
Exit 0 when everything matches, 1 otherwise (the differences are printed).
"""
import os
import re
import sys
import time

import whisper
from carbon.util import TaggedSeries


def normalize(name):
    return TaggedSeries.parse(name).path if ";" in name else name


def wsp_path(root, name):
    return os.path.join(root, TaggedSeries.encode(name, os.sep, hash_only=False) + ".wsp")


def stored_series(root):
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            if not f.endswith(".wsp"):
                continue
            rel = os.path.relpath(os.path.join(d, f), root)[:-4]
            if rel.startswith("_tagged" + os.sep):
                name = rel.split(os.sep, 3)[3].replace("_DOT_", ".")
            else:
                name = rel.replace(os.sep, ".")
            out[name] = os.path.join(d, f)
    return out


def fmt(v):
    return "%d" % v if v == int(v) else repr(v)


def main(argv):
    match = None
    t_from, t_until = 0, 1 << 62
    extra = listing = False
    args = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--match":
            match = re.compile(argv[i + 1]); i += 2; continue
        if a == "--from":
            t_from = int(argv[i + 1]); i += 2; continue
        if a == "--until":
            t_until = int(argv[i + 1]); i += 2; continue
        if a == "--extra":
            extra = True; i += 1; continue
        if a == "--list":
            listing = True; i += 1; continue
        args.append(a); i += 1
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    out_file, roots = args[0], args[1:]

    problems = []
    expected = {}   # normalised name -> {ts: value}
    printed_as = {}
    with open(out_file, errors="replace") as fh:
        for line in fh:
            f = line.split()
            if len(f) != 3:
                continue
            name, value, ts = f
            try:
                value, ts = float(value), int(ts)
            except ValueError:
                continue
            if match and not match.search(name):
                continue
            if not (t_from <= ts <= t_until):
                continue
            key = normalize(name)
            printed_as[key] = name
            pts = expected.setdefault(key, {})
            if ts in pts:
                problems.append("agent printed %s twice for timestamp %d (%s then %s): "
                                "whisper keeps one point per slot" % (name, ts, fmt(pts[ts]), fmt(value)))
            pts[ts] = value

    stored = [stored_series(r) for r in roots]
    now = int(time.time())
    last = max((max(p) for p in expected.values() if p), default=now)
    if last > now:
        time.sleep(last - now + 0.2)  # whisper.fetch clamps `until` to the present
        now = int(time.time())
    lo = max(t_from, now - 3500)
    hi = min(t_until, now)

    for key in sorted(expected):
        where = [i for i, s in enumerate(stored) if key in s]
        if not where:
            problems.append("missing series %s (printed as %s): no whisper file in %s"
                            % (key, printed_as[key], " ".join(roots)))
            continue
        if len(where) > 1:
            problems.append("series %s stored in %d caches: %s" % (key, len(where), " ".join(roots[i] for i in where)))
        got = {}
        for i in where:
            (start, end, step), values = whisper.fetch(stored[i][key], lo - 1, hi)
            for n, v in enumerate(values):
                ts = start + n * step
                if v is not None and lo <= ts <= hi:
                    if ts in got:
                        problems.append("series %s has a point at %d in two caches" % (key, ts))
                    got[ts] = v
        want = {ts: v for ts, v in expected[key].items() if lo <= ts <= hi}
        if listing:
            print("# %s: %d points printed, %d stored" % (key, len(want), len(got)))
        for ts in sorted(set(want) | set(got)):
            if ts not in got:
                problems.append("%s @%d: agent printed %s, whisper has no point" % (key, ts, fmt(want[ts])))
            elif ts not in want:
                problems.append("%s @%d: whisper has %s, agent printed no point there" % (key, ts, fmt(got[ts])))
            elif got[ts] != want[ts]:
                problems.append("%s @%d: agent printed %s, whisper has %s" % (key, ts, fmt(want[ts]), fmt(got[ts])))

    if extra:
        for i, s in enumerate(stored):
            for key in sorted(s):
                if key not in expected and (not match or match.search(key)):
                    problems.append("extra series %s in %s: the agent never printed it" % (key, roots[i]))

    for p in problems:
        print(p)
    if not expected:
        print("no series selected from %s" % out_file)
        return 1
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
