"""Runs Keel's ClickHouse statements on a current ClickHouse (chDB, in-process).

Reads a JSON list of {"name": ..., "sql": ...} on stdin, runs them in order in
one session (migrations first, so the queries find their tables), and prints
one line per failure. Exits 1 if any statement failed, 2 if chDB is missing.
"""
import json
import os
import sys
import tempfile

try:
    import chdb
    from chdb import session
except ImportError:
    print("chdb is not installed: pip install chdb (make test does this)", file=sys.stderr)
    sys.exit(2)

# A cluster keel_check of one shard, so that `keel migrate
# --clickhouse-cluster`'s Distributed tables can be made (chDB serves no
# port, so nothing reads through them here).
CLUSTER = """<clickhouse><remote_servers><keel_check><shard><replica>
<host>localhost</host><port>9000</port></replica></shard></keel_check></remote_servers></clickhouse>"""

statements = json.load(sys.stdin)
failures = 0
with tempfile.TemporaryDirectory() as path:
    config = os.path.join(path, "cluster.xml")
    with open(config, "w") as f:
        f.write(CLUSTER)
    s = session.Session(os.path.join(path, "data") + "?config-file=" + config)
    s.query("CREATE DATABASE IF NOT EXISTS keel")
    s.query("USE keel")
    for st in statements:
        try:
            s.query(st["sql"], "TabSeparated")
        except Exception as e:  # chDB raises a plain exception with the server's message
            failures += 1
            print(f"{st['name']}: {str(e).strip()[:500]}")
    print(f"chdb {chdb.__version__}: {len(statements) - failures} of {len(statements)} statements ran", file=sys.stderr)
    s.close()
sys.exit(1 if failures else 0)
