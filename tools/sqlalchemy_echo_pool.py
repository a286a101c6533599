"""The echo_pool lines of real SQLAlchemy for the scenarios of
tests/echo_pool_logs_like_sqlalchemy.rs, printed as that test writes them (`LEVEL message`).

    python3 -m venv /tmp/sa && /tmp/sa/bin/pip install "sqlalchemy>=2.0,<2.2"
    /tmp/sa/bin/python tools/sqlalchemy_echo_pool.py

Connections print as `<conn N>` where poolscope writes `N`; the reasons name Python's
exception classes where poolscope names Rust's (see the README's Rust translations).
"""
import logging, sys, time
from sqlalchemy import pool, exc

class Log(logging.Handler):
    def emit(self, r):
        msg = r.getMessage()
        extra = f" error={r.exc_info[1]}" if r.exc_info else ""
        print(f"{r.levelname:>5} {msg}{extra}")
logger = logging.getLogger("sqlalchemy.pool")
logger.addHandler(Log())
logger.setLevel(logging.DEBUG)  # echo_pool="debug", without SQLAlchemy's own handler

n = [0]
class Conn:
    def __init__(self):
        n[0] += 1; self.id = n[0]; self.alive = True; self.fail_rollback = False
    def __repr__(self): return f"<conn {self.id}>"
    def rollback(self):
        if self.fail_rollback: raise RuntimeError("reset failed: connection lost")
    def commit(self): pass
    def close(self): pass
    def cursor(self):
        c = self
        class Cur:
            def execute(s, q):
                if not c.alive: raise RuntimeError("dead")
            def close(s): pass
        return Cur()

def creator(): return Conn()

class Dialect:
    # minimal dialect for pre_ping
    def do_ping(self, dbapi_connection):
        try:
            dbapi_connection.cursor().execute("SELECT 1"); return True
        except Exception: return False
    def _do_ping_w_event(self, c): return self.do_ping(c)
    def do_rollback(self, c): c.rollback()
    def do_commit(self, c): c.commit()
    def do_close(self, c): c.close()
    def do_terminate(self, c): c.close()
    def _do_terminate(self, c): c.close()
    is_async = False
    has_terminate = False
    _has_events = False
    loaded_dbapi = None
    def get_driver_connection(self, c): return c

def scenario(name, f):
    print(f"--- {name}")
    n[0] = 0
    f()

def basic():
    p = pool.QueuePool(creator)
    c = p.connect(); c.close()
    c = p.connect(); c.close()
    c = p.connect(); c.invalidate(); c.close()
    p.dispose()
scenario("basic", basic)

def invalidate_with():
    p = pool.QueuePool(creator)
    c = p.connect(); c.invalidate(RuntimeError("server closed the connection")); c.close()
    c = p.connect(); c.invalidate(soft=True); c.invalidate(RuntimeError("stale"), soft=True); c.close()
    c = p.connect(); c.close()
scenario("invalidate_with", invalidate_with)

def preping():
    p = pool.QueuePool(creator, pre_ping=True, reset_on_return=None, dialect=Dialect())
    c = p.connect(); c.close()
    c = p.connect(); raw = c.dbapi_connection; c.close()
    raw.alive = False
    c = p.connect(); c.close()
scenario("preping", preping)

def recycle():
    p = pool.QueuePool(creator, recycle=1, reset_on_return=None)
    c = p.connect(); c.close()
    time.sleep(1.1)
    c = p.connect(); c.close()
scenario("recycle", recycle)

def failing_reset():
    p = pool.QueuePool(creator)
    c = p.connect(); c.dbapi_connection.fail_rollback = True; c.close()
scenario("failing_reset", failing_reset)

def recreate_detach():
    p = pool.QueuePool(creator)
    p.recreate()
    c = p.connect(); c.detach(); c.close()
scenario("recreate_detach", recreate_detach)

def connect_error():
    def bad(): raise RuntimeError("database is stopped")
    p = pool.QueuePool(bad)
    try: p.connect()
    except Exception as e: pass
scenario("connect_error", connect_error)
