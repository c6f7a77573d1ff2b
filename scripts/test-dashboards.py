#!/usr/bin/env python3
"""Render every Graphite panel target of dashboards/grafana-graphite*/ against real data (root).

The agent runs with every module into a private carbon-cache (graphite and graphite-tagged
sinks over TCP, 1 s whisper storage, tags on); Debian's graphite-web serves that storage on
127.0.0.1 through a WSGI server. Each panel target, with its dashboard variables filled in, goes
to /render for the agent's run; it passes with at least one non-null point, or when the agent
said at start-up that the metric's module or event does not run on this kernel. Also the
variable queries (host, app, disk) must return values. Prints a table; exit 1 on any failure.

Everything listens on 127.0.0.1 only and lives in one temporary directory, removed at the end.
Needs: graphite-carbon, python3-whisper (scripts/install-peers.sh), graphite-web (apt).
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "dashboards"))
sys.dont_write_bytecode = True
import generate  # noqa: E402

# Debian's python3 has carbon and graphite-web; a pyenv shim on PATH would not.
SYSPY = "/usr/bin/python3"
# Series born with their first event, where the workload could not make one (filled in by workload()).
EVENT_ONLY = {}
PLAIN_PREFIX, TAGGED_PREFIX = "bpfpush", "bpfpusht"  # own trees: tagless tagged names = plain names


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def wait_until(deadline_s, predicate):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def listening(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def http_get(url, timeout=30):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read().decode())


CARBON_CONF = """[cache]
STORAGE_DIR = {d}/storage/
LOCAL_DATA_DIR = {d}/storage/whisper/
WHITELISTS_DIR = {d}/storage/lists/
CONF_DIR = {d}/conf/
LOG_DIR = {d}/log/
PID_DIR = {d}/run/
ENABLE_LOGROTATION = False
USER =
DATABASE = whisper
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = inf
MAX_CREATES_PER_MINUTE = inf
MIN_TIMESTAMP_RESOLUTION = 1
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = {line}
ENABLE_UDP_LISTENER = False
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = {pickle}
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = {query}
WHISPER_AUTOFLUSH = True
WHISPER_FALLOCATE_CREATE = False
CARBON_METRIC_INTERVAL = 0
ENABLE_TAGS = True
TAG_UPDATE_INTERVAL = 1
TAG_BATCH_SIZE = 500
GRAPHITE_URL = http://127.0.0.1:{web}
"""
# Counters are per-interval deltas (sum); the finest step is the agent's interval (1 s).
SCHEMAS = "[all_1s]\npattern = .*\nretentions = 1s:1h\n"
AGGREGATION = "[sum]\npattern = .*\nxFilesFactor = 0\naggregationMethod = sum\n"

WEB_SETTINGS = """SECRET_KEY = 'dashboards-test'
ALLOWED_HOSTS = ['127.0.0.1']
GRAPHITE_ROOT = '/usr/share/graphite-web'
STATIC_ROOT = '/usr/share/graphite-web/static'
STORAGE_DIR = '{d}/storage'
WHISPER_DIR = '{d}/storage/whisper/'
LOG_DIR = '{d}/log/webapp'
INDEX_FILE = '{d}/storage/index'
DATABASES = {{'default': {{'NAME': '{d}/graphite.db', 'ENGINE': 'django.db.backends.sqlite3'}}}}
TAGDB = 'graphite.tags.localdatabase.LocalDatabaseTagDB'
TAGDB_CACHE_DURATION = 0
CARBONLINK_HOSTS = ['127.0.0.1:{query}:a']
DEFAULT_XFILES_FACTOR = 0
"""
WEB_SERVER = """import sys
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIServer, WSGIRequestHandler, make_server
from graphite.wsgi import application

class Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True

class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass

make_server('127.0.0.1', int(sys.argv[1]), application, Server, QuietHandler).serve_forever()
"""

AGENT_CONF = """global: {{ interval: 1s, hostname: auto }}
modules:
  cachestat: {{ enabled: true }}
  dcstat: {{ enabled: true }}
  swap: {{ enabled: true }}
  disk: {{ enabled: true }}
  mdflush: {{ enabled: true }}
  filesystem: {{ enabled: true }}
  network: {{ enabled: true, ips: "*", ports: "*" }}
  hardirq: {{ enabled: true, slow_threshold: 1us }}
  softirq: {{ enabled: true, timing: true, slow_threshold: 1us }}
sinks:
  - {{ name: carbon, type: graphite, address: "tcp://127.0.0.1:{line}", prefix: "{plain}.{{hostname}}" }}
  - {{ name: carbon-tagged, type: graphite-tagged, address: "tcp://127.0.0.1:{line}", prefix: "{tagged}.{{hostname}}" }}
"""


def oom_kill_once():
    """One OOM kill in a memory cgroup of its own (v1 memory where mounted, else v2), for oomkill.kills."""
    if os.path.exists("/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        root, limit, swap = "/sys/fs/cgroup/memory", "memory.limit_in_bytes", "memory.memsw.limit_in_bytes"
    elif os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        root, limit, swap = "/sys/fs/cgroup", "memory.max", "memory.swap.max"
    else:
        return False
    cg = os.path.join(root, "bpfpush-dashboards-%d" % os.getpid())
    os.mkdir(cg)
    try:
        with open(os.path.join(cg, limit), "w") as f:
            f.write(str(32 << 20))
        try:
            with open(os.path.join(cg, swap), "w") as f:
                f.write(str(32 << 20) if swap.startswith("memory.memsw") else "0")
        except OSError:
            pass  # no swap accounting: no swap to escape to either

        def enter():
            with open(os.path.join(cg, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))
        hog = subprocess.run([SYSPY, "-c", "b = bytearray(256 << 20)\nfor i in range(0, len(b), 4096): b[i] = 1"],
                             preexec_fn=enter, stderr=subprocess.DEVNULL)
        return hog.returncode == -signal.SIGKILL
    finally:
        os.rmdir(cg)


def workload(stop, tmp):
    """Something for each module to count: forks, files, syncs, loopback TCP and UDP, disk I/O, an OOM kill."""
    oom_done = False
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    port = srv.getsockname()[1]
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    path = os.path.join(tmp, "work.dat")
    while not stop.is_set():
        # The kill waits for the agent's start line: before it, no probe would see it.
        if not oom_done and "started:" in open(os.path.join(tmp, "log/agent.err")).read():
            oom_done = True
            if not oom_kill_once():
                EVENT_ONLY["oomkill.kills"] = "no OOM kill could be made here (no memory cgroup)"
        subprocess.run(["/bin/true"])
        with open(path, "wb") as f:
            f.write(os.urandom(65536))
            f.flush()
            os.fsync(f.fileno())
        with open(path, "rb") as f:
            f.read()
        os.unlink(path)
        try:
            open(os.path.join(tmp, "missing"), "rb")
        except OSError:
            pass
        os.sync()
        c = socket.create_connection(("127.0.0.1", port))
        a, _ = srv.accept()
        c.sendall(b"x" * 4096)
        a.recv(8192)
        c.close()
        a.close()
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.sendto(b"y" * 100, udp.getsockname())
        udp.recv(200)
        u.close()
        stop.wait(0.2)
    srv.close()
    udp.close()


def agent_said(stderr_text):
    """(modules running, metrics not sent) from the agent's start-up log."""
    running = set(re.findall(r"^INFO (\w+): running$", stderr_text, re.M))
    not_sent = set()
    for names in re.findall(r"; ([\w., ]+) not sent", stderr_text):
        not_sent |= {n.strip() for n in names.split(",")}
    return running, not_sent


def fill(target, flavour, host):
    prefix = PLAIN_PREFIX if flavour == "plain" else TAGGED_PREFIX
    t = target.replace("$prefix", prefix).replace("$host", host)
    if flavour == "plain":
        return t.replace("$app", "*").replace("$disk", "*")
    return t.replace("${app:regex}", ".*").replace("${disk:regex}", ".*")


def metric_of(panel_title, catalogue):
    """The catalogue metric a panel shows: generate.py starts every title with its name."""
    first = panel_title.split()[0]
    return next((m for m in catalogue if m.name == first), None)


def main():
    ap = argparse.ArgumentParser(description="render every Graphite dashboard target (root)")
    ap.add_argument("--agent", default=os.path.join(ROOT, "build", "bpfpush"))
    ap.add_argument("--seconds", type=int, default=40, help="how long the agent runs before rendering")
    ap.add_argument("--backends-only", action="store_true",
                    help="bring up carbon and graphite-web, render two hand-sent series, stop "
                         "(no agent, no BPF)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("test-dashboards: needs root (the agent loads BPF programs)")
    for need in ("/usr/bin/carbon-cache", "/usr/lib/python3/dist-packages/graphite/wsgi.py"):
        if not os.path.exists(need):
            sys.exit("test-dashboards: %s missing (scripts/install-peers.sh; apt-get install "
                     "graphite-web)" % need)
    catalogue = generate.parse_catalogue(subprocess.run(
        [args.agent, "--list-metrics"], check=True, capture_output=True, text=True).stdout)
    host = re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname().split(".")[0])

    tmp = tempfile.mkdtemp(prefix="bpfpush-dash.")
    os.chmod(tmp, 0o755)
    procs = []
    try:
        line, pickle, query, web = free_ports(4)
        for sub in ("conf", "storage/whisper", "log/webapp", "run", "web"):
            os.makedirs(os.path.join(tmp, sub), exist_ok=True)
        with open(os.path.join(tmp, "conf/carbon.conf"), "w") as f:
            f.write(CARBON_CONF.format(d=tmp, line=line, pickle=pickle, query=query, web=web))
        with open(os.path.join(tmp, "conf/storage-schemas.conf"), "w") as f:
            f.write(SCHEMAS)
        with open(os.path.join(tmp, "conf/storage-aggregation.conf"), "w") as f:
            f.write(AGGREGATION)
        with open(os.path.join(tmp, "web/dash_web_settings.py"), "w") as f:
            f.write(WEB_SETTINGS.format(d=tmp, query=query))
        with open(os.path.join(tmp, "web/serve.py"), "w") as f:
            f.write(WEB_SERVER)
        env = dict(os.environ, PYTHONPATH=os.path.join(tmp, "web"),
                   GRAPHITE_SETTINGS_MODULE="dash_web_settings",
                   DJANGO_SETTINGS_MODULE="graphite.settings")
        weblog = open(os.path.join(tmp, "log/web.log"), "w")
        subprocess.run([SYSPY, "-m", "django", "migrate", "--run-syncdb", "-v0"], env=env,
                       check=True, stdout=weblog, stderr=weblog, cwd=tmp)
        procs.append(subprocess.Popen([SYSPY, os.path.join(tmp, "web/serve.py"), str(web)],
                                      env=env, stdout=weblog, stderr=weblog, cwd=tmp))
        if not wait_until(30, lambda: listening(web)):
            sys.exit("graphite-web did not listen on 127.0.0.1:%d; see %s/log/web.log" % (web, tmp))
        carbonlog = open(os.path.join(tmp, "log/carbon.out"), "w")
        procs.append(subprocess.Popen(
            ["/usr/bin/carbon-cache", "--config=%s/conf/carbon.conf" % tmp, "--nodaemon",
             "--pidfile=%s/run/carbon.pid" % tmp, "--logdir=%s/log" % tmp, "start"],
            stdout=carbonlog, stderr=carbonlog))
        if not wait_until(30, lambda: listening(line)):
            sys.exit("carbon-cache did not listen on 127.0.0.1:%d" % line)

        base = "http://127.0.0.1:%d" % web
        if args.backends_only:
            now = int(time.time())
            with socket.create_connection(("127.0.0.1", line)) as c:
                c.sendall(("selftest.plain 1 %d\nselftest.tagged;k=v 2 %d\n" % (now, now)).encode())
            for target in ("selftest.plain", "seriesByTag('name=selftest.tagged')"):
                url = base + "/render?" + urllib.parse.urlencode(
                    {"target": target, "from": "-1min", "format": "json"})
                ok = wait_until(20, lambda: any(v is not None for s in http_get(url)
                                                for v, _ in s["datapoints"]))
                print("%-40s %s" % (target, "ok" if ok else "FAIL: %s" % http_get(url)))
                if not ok:
                    return 1
            return 0

        cfg = os.path.join(tmp, "agent.yaml")
        with open(cfg, "w") as f:
            f.write(AGENT_CONF.format(line=line, plain=PLAIN_PREFIX, tagged=TAGGED_PREFIX))
        os.chmod(cfg, 0o600)
        agent_err = open(os.path.join(tmp, "log/agent.err"), "w+")
        start = int(time.time())
        agent = subprocess.Popen([args.agent, "-c", cfg, "--duration", str(args.seconds)],
                                 stdout=subprocess.DEVNULL, stderr=agent_err)
        procs.append(agent)
        stop = threading.Event()
        worker = threading.Thread(target=workload, args=(stop, tmp), daemon=True)
        worker.start()
        agent.wait(timeout=args.seconds + 60)
        agent_end = int(time.time())
        stop.set()
        worker.join()
        agent_err.seek(0)
        running, not_sent = agent_said(agent_err.read())
        if agent.returncode != 0:
            sys.exit("agent exited %d; see %s/log/agent.err" % (agent.returncode, tmp))
        # carbon has the last flush once whisper holds its timestamp (bounded wait)
        probe = "%s.%s.agent.rss_bytes" % (PLAIN_PREFIX, host)

        def render(target):
            q = urllib.parse.urlencode({"target": target, "from": str(start - 5),
                                        "until": str(int(time.time()) + 1), "format": "json"})
            return http_get(base + "/render?" + q)

        def has_last():
            try:
                pts = [ts for s in render(probe) for v, ts in s["datapoints"] if v is not None]
            except OSError:
                return False
            return bool(pts) and max(pts) >= agent_end - 2
        wait_until(20, has_last)
        time.sleep(2)  # carbon's tag batches reach graphite-web's tag database

        rows, failures = [], 0
        # variable queries
        checks = [("plain", "host", base + "/metrics/find?" + urllib.parse.urlencode({"query": PLAIN_PREFIX + ".*"})),
                  ("plain", "app", base + "/metrics/find?" + urllib.parse.urlencode({"query": "%s.%s.apps.*" % (PLAIN_PREFIX, host)})),
                  ("plain", "disk", base + "/metrics/find?" + urllib.parse.urlencode({"query": "%s.%s.disk.*" % (PLAIN_PREFIX, host)})),
                  ("tagged", "host", base + "/tags/autoComplete/values?" + urllib.parse.urlencode({"tag": "name", "expr": "name=~^%s\\.[^.]+\\.agent\\.rss_bytes$" % TAGGED_PREFIX})),
                  ("tagged", "app", base + "/tags/autoComplete/values?" + urllib.parse.urlencode({"tag": "app", "expr": "name=%s.%s.apps.file_open" % (TAGGED_PREFIX, host)})),
                  ("tagged", "disk", base + "/tags/autoComplete/values?" + urllib.parse.urlencode({"tag": "disk", "expr": "name=%s.%s.disk.latency.bucket" % (TAGGED_PREFIX, host)}))]
        var_rows = []
        for flavour, var, url in checks:
            try:
                got = http_get(url)
            except OSError as e:
                got, err = [], str(e)
            n = len(got)
            ok = n > 0 or (var == "disk" and "disk" not in running)
            failures += 0 if ok else 1
            var_rows.append((flavour, "$" + var, n, "ok" if n else ("module not running here" if ok else "FAIL: no values")))

        for folder, flavour in (("grafana-graphite", "plain"), ("grafana-graphite-tagged", "tagged")):
            for path in sorted(os.listdir(os.path.join(ROOT, "dashboards", folder))):
                with open(os.path.join(ROOT, "dashboards", folder, path)) as f:
                    doc = json.load(f)
                for panel in doc["panels"]:
                    for t in panel.get("targets", []):
                        target = fill(t["target"], flavour, host)
                        m = metric_of(panel["title"], catalogue)
                        module = m.module if m else "?"
                        try:
                            series = render(target)
                            points = sum(1 for s in series for v, _ in s["datapoints"] if v is not None)
                            err = ""
                        except Exception as e:  # an HTTP 500 is a broken target: report it
                            series, points, err = [], 0, str(e)[:60]
                        module_name = {"net": "network"}.get(module, module)
                        if points:
                            status = "ok"
                        elif err:
                            status = "FAIL: " + err
                        elif module_name not in running:
                            status = "module not running here"
                        elif m and (m.name in not_sent or any(
                                s.startswith(m.name + ".") for s in not_sent)):
                            status = "not sent on this kernel (agent log)"
                        elif m and m.name in EVENT_ONLY:
                            status = EVENT_ONLY[m.name]
                        else:
                            status = "FAIL: no points"
                        if status.startswith("FAIL"):
                            failures += 1
                        if points:
                            names = [x["target"] for x in series]
                            status += " [%s%s]" % (", ".join(names[:4]), ", ..." if len(names) > 4 else "")
                        rows.append((flavour, panel["title"], target, len(series), points, status))

        w = max(len(r[1]) for r in rows)
        print("%-7s %-*s %6s %7s  %s" % ("set", w, "panel", "series", "points", "result / target"))
        for flavour, title, target, nseries, points, status in rows:
            print("%-7s %-*s %6d %7d  %s\n%-7s %-*s %6s %7s    %s" % (flavour, w, title, nseries, points, status,
                                                                   "", w, "", "", "", target))
        for flavour, var, n, status in var_rows:
            print("%-7s %-*s %6s %7d  %s" % (flavour, w, "variable " + var, "", n, status))
        oks = sum(1 for r in rows if r[5].startswith("ok"))
        print("test-dashboards: %d targets, %d ok, %d not running/not sent here, %d failed; "
              "agent modules running: %s" % (len(rows), oks, len(rows) - oks - failures, failures,
                                             ",".join(sorted(running))))
        return 1 if failures else 0
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        if args.keep:
            print("kept %s" % tmp, file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
