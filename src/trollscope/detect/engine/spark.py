"""The Spark engine: the same trace SQL, translated from DuckDB's dialect by sqlglot, run by Spark.

The store's `posts` (and `text_clusters` and `object_clusters`, when the store has them) are copied once to Parquet in a
staging folder and read by Spark as temp views of the same names and types (TIMESTAMPTZ is
written as a UTC-adjusted Parquet timestamp, which Spark reads as the same instants; VARCHAR[]
becomes array<string>). Every table the traces make is a cached, materialised temp view. Only
query results come back, as Arrow; nothing goes through pandas.

`sqlglot` translates the dialect, not the semantics. Where the two engines would read the same
text differently, `to_spark_sql` rewrites the translated tree so that Spark computes what
DuckDB does:

* `/` is always DOUBLE division in DuckDB (`58.0 / n`, `c / 2.0`), while Spark keeps a decimal
  literal DECIMAL and rounds the quotient to a few digits: both operands of every `/` are cast
  to DOUBLE.
* `epoch(ts)` is fractional seconds in DuckDB; sqlglot makes it Spark's `unix_timestamp`, which
  drops the fraction. It becomes `unix_micros(ts) / 1e6`.
* DuckDB casts DOUBLE to an integer by rounding half to even, Spark truncates: a cast of a
  division (so also of an epoch) to an integer type is wrapped in `bround(x, 0)`.
* `trim(x)` strips every Unicode space separator (no-break space, ideographic space, ...) in
  DuckDB and only ' ' in Spark: Spark is given the characters.
* `lower(x)` maps code point by code point in DuckDB; Spark's full case mapping makes İ two code
  points and a word-final Σ a ς. Those two are mapped first (İ -> i, Σ -> σ), as DuckDB does.
* `regexp_replace` without the 'g' flag replaces the first match in DuckDB and every match in
  Spark; that is only the same for a pattern anchored with '^', and anything else is refused.

The trace SQL is written so that the translation keeps its meaning where no general rewrite
can: `array_length` (sqlglot turns `len` into Spark's string `length`), whitespace spelled
`[\\t\\n\\f\\r ]` rather than `\\s` (Java's `\\s` also matches \\x0B), and no `min_by` whose key
can tie (each engine would pick its own row); see `traces.base` and `detect.window`.

Known residual differences: characters whose lower case is new in a Unicode version newer than
DuckDB's (Unicode 16: Garay, a few Latin letters), and DOUBLE -> integer casts of expressions
other than a division. Floating-point sums may differ in the last bits (addition order).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import warnings
import weakref
from pathlib import Path

import pyarrow as pa

from trollscope.errors import MissingDependency, UserError

# Runtime settings applied to the session (restored on close when the session was not ours).
_RUNTIME_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}
_LOCAL_SHUFFLE_PARTITIONS = "8"

# Errors only. PySpark prints a "Setting default log level" banner unless its shell logger (a
# logger under org.apache.spark) is configured at the root's level.
_LOG4J2 = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n%ex
logger.spark.name = org.apache.spark
logger.spark.level = error
logger.sparkproject.name = org.sparkproject
logger.sparkproject.level = error
logger.hadoop.name = org.apache.hadoop
logger.hadoop.level = error
logger.parquet.name = org.apache.parquet
logger.parquet.level = error
"""

# What DuckDB's trim() strips: the Unicode space separators (category Zs).
_SPACE_SEPARATORS = " \u00a0\u1680" + "".join(chr(c) for c in range(0x2000, 0x200B)) + "\u202f\u205f\u3000"

_INT_TYPES = {"TINYINT", "SMALLINT", "INT", "BIGINT"}

# Tables of the store the trace SQL may read besides what the engine creates.
_SOURCE_TABLES = ("posts", "text_clusters", "object_clusters")


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
        if node.to.this.name in _INT_TYPES and isinstance(node.this.unnest(), exp.Div):
            node.set("this", exp.Anonymous(this="bround", expressions=[node.this, exp.Literal.number(0)]))
    # trim() without characters strips Unicode space separators in DuckDB, only ' ' in Spark.
    for node in tree.find_all(exp.Trim):
        if node.args.get("expression") is None:
            node.set("expression", exp.Literal.string(_SPACE_SEPARATORS))
    # lower(): DuckDB maps code point by code point; Spark's full case mapping turns İ into two
    # code points and a word-final Σ into ς. Mapping those two first gives DuckDB's result.
    for node in list(tree.find_all(exp.Lower)):
        node.set("this", exp.Anonymous(this="translate", expressions=[
            node.this, exp.Literal.string("\u0130\u03a3"), exp.Literal.string("i\u03c3")]))
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
            from pyspark import SparkContext, StorageLevel
            from pyspark.sql import SparkSession
        except ImportError:
            raise MissingDependency("pyspark", "spark") from None
        try:
            import sqlglot  # noqa: F401 - translates the SQL
        except ImportError:
            raise MissingDependency("sqlglot", "spark") from None
        self._storage = StorageLevel.MEMORY_AND_DISK
        self._store = store
        self._cached: dict[str, object] = {}
        self._views: list[str] = []
        self._restore: dict[str, str | None] = {}
        self._own_session = False
        self.spark = None
        self._tmp = Path(tempfile.mkdtemp(prefix="trollscope-spark-", dir=staging_dir))
        # Removed on close(), or at exit at the latest.
        self._cleanup = weakref.finalize(self, shutil.rmtree, self._tmp, ignore_errors=True)
        try:
            active = SparkSession.getActiveSession()
            if active is None and SparkContext._active_spark_context is not None:
                active = SparkSession.builder.getOrCreate()  # a running context, another thread's session
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
        log_conf.write_text(_LOG4J2)
        builder = (
            SparkSession.builder.master(master).appName("trollscope")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.session.timeZone", "UTC")
            # Each cached table's plan prints the plans of the cached tables it reads, so the text of
            # a multi-scale join's plan (written for the event log even with the UI off) grows with
            # every level and filled the driver's heap. Nothing reads it past the first megabyte.
            .config("spark.sql.maxPlanStringLength", str(1 << 20))
            .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={log_conf.as_uri()}")
        )
        if master.startswith("local"):
            builder = builder.config("spark.sql.shuffle.partitions", _LOCAL_SHUFFLE_PARTITIONS)
        try:
            with warnings.catch_warnings():
                # PySpark warns on import that it has not been tested with pandas 3; this engine
                # moves data as Arrow and never goes through pandas.
                warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas",
                                        category=FutureWarning)
                spark = builder.getOrCreate()
        except Exception as exc:  # the JVM did not start
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise UserError(f"could not start Spark at {master} with {java} ({_java_version(java)}; "
                            f"Spark 4 needs Java 17 or newer): {first}") from None
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
        # Materialised now, as DuckDB's CREATE TABLE does, and with its lineage cut: the multi-scale
        # join builds each level on the last, and a table that kept the plans of all the tables it was
        # made from made every later query plan (and its text) grow with the levels until planning
        # took minutes and filled the driver's heap. A local checkpoint keeps the rows in the
        # executors (memory, then disk); an executor lost mid-run fails the detect, which is re-run
        # whole (detect writes nothing before it finishes).
        df = self.spark.sql(to_spark_sql(select_sql)).localCheckpoint(eager=True, storageLevel=self._storage)
        df.createOrReplaceTempView(name)
        self._cached[name] = df
        self._views.append(name)

    def outgrows(self, pairs: float) -> bool:
        """Spark keeps the join's rows in its executors (memory, then disk): never moved."""
        return False

    def scratch(self, tables):
        return contextlib.nullcontext()

    def to_store(self, name: str, select_sql: str, temporary: bool = True) -> None:
        # Through Parquet in the staging folder: the rows never gather in the driver's memory.
        path = self._tmp / f"to_store_{name}"
        self.spark.sql(to_spark_sql(select_sql)).write.mode("overwrite").parquet(str(path))
        target = str(path).replace("'", "''")
        self._store.con.execute(f"CREATE OR REPLACE {'TEMP ' if temporary else ''}TABLE {name} AS "
                                f"SELECT * FROM read_parquet('{target}/*.parquet')")
        shutil.rmtree(path, ignore_errors=True)

    def from_store(self, name: str, select_sql: str) -> None:
        self.drop(name)
        path = self._tmp / f"from_store_{name}.parquet"
        target = str(path).replace("'", "''")
        self._store.con.execute(f"COPY ({select_sql}) TO '{target}' (FORMAT parquet)")
        self.spark.read.parquet(str(path)).createOrReplaceTempView(name)
        self._views.append(name)

    def arrow(self, sql: str) -> pa.Table:
        return self.spark.sql(to_spark_sql(sql)).toArrow()

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
            self._cleanup()
