"""The Spark engine: the same trace SQL, translated from DuckDB's dialect by sqlglot, run by Spark.

The store's `posts` (and `text_clusters`, when the store has it) are copied once to Parquet in a
staging folder and read by Spark as temp views of the same names and types; every table the
traces make is a cached temp view. Only query results come back, as Arrow.

`sqlglot` translates the dialect, not the semantics. Where the two engines would read the same
text differently, `to_spark_sql` rewrites the translated tree so Spark computes what DuckDB does:

* `/` is always floating-point division in DuckDB (`58.0 / n`, `c / 2.0` are DOUBLE), while
  Spark keeps a decimal literal DECIMAL and rounds the quotient to a few digits. Both operands
  of every `/` are cast to DOUBLE.
* DuckDB's `epoch(ts)` is fractional seconds (DOUBLE); sqlglot makes it Spark's
  `unix_timestamp`, which floors to whole seconds. It becomes `unix_micros(ts) / 1e6`.
* DuckDB casts DOUBLE to an integer by rounding half to even; Spark truncates. A cast of a
  computed DOUBLE (a division or an epoch) to an integer type is wrapped in `bround(x, 0)`.
* DuckDB's `regexp_replace` without the `g` flag replaces the first match only; Spark replaces
  all. That is only the same for patterns anchored with `^`; any other use is refused.

The trace SQL itself is written so that sqlglot's translation keeps its meaning (see
`traces.base`): `array_length` for list lengths, explicit whitespace classes in regular
expressions, deterministic tie-breaks instead of `min_by` on tied keys.

Text functions are the one known residual difference: Spark's `lower` applies full Unicode
case mapping (final sigma, dotted capital I) where DuckDB maps code point by code point, so a
text containing such letters can normalise differently in `co_repost`'s text key.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

import pyarrow as pa

from trollscope.errors import MissingDependency, UserError

# Runtime settings applied to the session (restored on close when the session was not ours).
_RUNTIME_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}
_LOCAL_SHUFFLE_PARTITIONS = "8"

_INT_TYPES = {"TINYINT", "SMALLINT", "INT", "BIGINT"}

# Tables of the store the trace SQL may read besides what the engine creates.
_SOURCE_TABLES = ("posts", "text_clusters")


def to_spark_sql(sql: str) -> str:
    """`sql` (DuckDB's dialect) as Spark SQL that computes the same result (see module doc)."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(sql, read="duckdb")

    def double(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Cast) and node.to.this == exp.DataType.Type.DOUBLE:
            return node
        return exp.Cast(this=node, to=exp.DataType.build("DOUBLE"))

    # epoch(ts): fractional seconds, as DuckDB has it.
    for node in list(tree.find_all(exp.TimeToUnix)):
        node.replace(exp.Div(this=exp.Anonymous(this="unix_micros", expressions=[node.this.copy()]),
                             expression=exp.Literal.number(1000000)))
    # `/` is DOUBLE division in DuckDB.
    for node in list(tree.find_all(exp.Div)):
        node.set("this", double(node.this))
        node.set("expression", double(node.expression))
    # DOUBLE -> integer casts round half to even in DuckDB.
    for node in list(tree.find_all(exp.Cast)):
        if node.to.this.name in _INT_TYPES and isinstance(node.this, exp.Div):
            node.set("this", exp.Anonymous(this="bround", expressions=[node.this, exp.Literal.number(0)]))
    for node in tree.find_all(exp.RegexpReplace):
        flags = node.args.get("modifiers")
        flags = flags.name if flags is not None else ""
        if set(flags) - {"g"}:
            raise UserError(f"regexp_replace flags {flags!r} have no Spark translation: {node.sql('duckdb')}")
        if "g" not in flags and not node.expression.name.startswith("^"):
            raise UserError("regexp_replace without the 'g' flag replaces only the first match in DuckDB "
                            f"but every match in Spark; anchor the pattern or add 'g': {node.sql('duckdb')}")
    return tree.sql(dialect="spark")


def _java() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home:
        candidate = Path(home) / "bin" / "java"
        return str(candidate) if candidate.exists() else None
    return shutil.which("java")


def _java_version(java: str) -> str:
    try:
        done = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
        return (done.stderr or done.stdout).strip().splitlines()[0]
    except Exception:  # noqa: BLE001 - only for an error message
        return "unknown version"


class SparkEngine:
    name = "spark"

    def __init__(self, store, master: str = "local[*]", staging_dir: str | None = None):
        """An engine on a Spark session at `master` (an existing active session is reused).

        `staging_dir` is where the store's tables are copied as Parquet for Spark to read (a new
        temporary folder inside it, removed on close); on a cluster it must be storage every
        executor can read.
        """
        try:
            from pyspark import StorageLevel
            from pyspark.sql import SparkSession
        except ImportError:
            raise MissingDependency("pyspark", "spark") from None
        self._storage = StorageLevel.MEMORY_AND_DISK
        self._cached: dict[str, object] = {}
        self._views: list[str] = []
        self._restore: dict[str, str | None] = {}
        self._own_session = False
        self.spark = None
        self._tmp = Path(tempfile.mkdtemp(prefix="trollscope-spark-", dir=staging_dir))
        try:
            active = SparkSession.getActiveSession()
            if active is not None:
                self.spark = active
                if master and active.sparkContext.master != master:
                    warnings.warn(f"reusing the active Spark session at {active.sparkContext.master}, "
                                  f"not {master}", stacklevel=2)
                for key in _RUNTIME_CONF:
                    self._restore[key] = active.conf.get(key, None)
            else:
                self.spark = self._start(SparkSession, master)
                self._own_session = True
            for key, value in _RUNTIME_CONF.items():
                self.spark.conf.set(key, value)
            self._export(store)
        except BaseException:
            self.close()
            raise

    def _start(self, SparkSession, master: str):
        java = _java()
        if java is None:
            where = "JAVA_HOME/bin/java" if os.environ.get("JAVA_HOME") else "java on the PATH"
            raise UserError(f"the Spark engine needs Java 17 or newer, and there is no {where}; "
                            "install a JDK or use the duckdb engine")
        log_conf = self._tmp / "log4j2.properties"
        log_conf.write_text("rootLogger.level = error\nrootLogger.appenderRef.stderr.ref = console\n"
                            "appender.console.type = Console\nappender.console.name = console\n"
                            "appender.console.target = SYSTEM_ERR\n"
                            "appender.console.layout.type = PatternLayout\n"
                            "appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n%ex\n")
        builder = (
            SparkSession.builder.master(master).appName("trollscope")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={log_conf.as_uri()}")
        )
        if master.startswith("local"):
            builder = builder.config("spark.sql.shuffle.partitions", _LOCAL_SHUFFLE_PARTITIONS)
        try:
            spark = builder.getOrCreate()
        except Exception as exc:  # the JVM did not start
            raise UserError(f"could not start Spark at {master} with {java} ({_java_version(java)}); "
                            f"Spark 4 needs Java 17 or newer: {str(exc).strip().splitlines()[0]}") from None
        spark.sparkContext.setLogLevel("ERROR")
        return spark

    def _export(self, store) -> None:
        for table in _SOURCE_TABLES:
            if not store.has_table(table):
                continue
            path = self._tmp / f"{table}.parquet"
            target = str(path).replace("'", "''")
            store.con.execute(f"COPY (SELECT * FROM {table}) TO '{target}' (FORMAT parquet)")
            self.spark.read.parquet(str(path)).createOrReplaceTempView(table)
            self._views.append(table)

    def create_table(self, name: str, select_sql: str) -> None:
        self.drop(name)
        df = self.spark.sql(to_spark_sql(select_sql)).persist(self._storage)
        df.count()  # materialise now, as DuckDB's CREATE TABLE does
        df.createOrReplaceTempView(name)
        self._cached[name] = df
        self._views.append(name)

    def arrow(self, sql: str) -> pa.Table:
        return self.spark.sql(to_spark_sql(sql)).toArrow()

    def register(self, name: str, table: pa.Table) -> None:
        self.drop(name)
        self.spark.createDataFrame(table).createOrReplaceTempView(name)
        self._views.append(name)

    def drop(self, name: str) -> None:
        df = self._cached.pop(name, None)
        if df is not None:
            df.unpersist()
        if name in self._views:
            self._views.remove(name)
        if self.spark is not None:
            self.spark.catalog.dropTempView(name)

    def close(self) -> None:
        try:
            if self.spark is not None:
                for name in list(self._cached) + list(self._views):
                    self.drop(name)
                if self._own_session:
                    self.spark.stop()
                else:
                    for key, value in self._restore.items():
                        if value is None:
                            self.spark.conf.unset(key)
                        else:
                            self.spark.conf.set(key, value)
                self.spark = None
        finally:
            shutil.rmtree(self._tmp, ignore_errors=True)
