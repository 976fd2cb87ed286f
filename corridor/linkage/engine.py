"""Batch deduplication on Splink: DuckDB on one machine, Spark beyond.

Records arrive in chunks (``Iterable[Iterable[PersonRecord]]``); each chunk becomes
Corridor's key columns (``features.feature_row``) and is written to a Parquet file in a
working directory, so the registry is never held as Python objects at once. The backend
(DuckDB or Spark) reads the files; Splink blocks, scores with the model set from Corridor's
(``model.SplinkModel``) and clusters (connected components of the pairs at or above the
threshold).
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from corridor.linkage.columns import (
    RAW_SCHEMA,
    build_feature_table,
    raw_from_person_csv,
    raw_table,
)
from corridor.linkage.features import COLUMNS, feature_row
from corridor.linkage.model import SplinkModel, block_keys_sql, splink_settings, tf_tables_sql
from corridor.matching.records import PersonRecord
from corridor.matching.variants import load_default_frequencies

__all__ = [
    "BACKENDS", "DedupeResult", "SCHEMA", "dedupe", "dedupe_features", "dedupe_person_csv",
    "spark_session",
    "write_features", "write_raw",
]

BACKENDS = ("duckdb", "spark")
_TYPES = {"str": pa.string(), "int": pa.int32(), "list": pa.list_(pa.string()),
          "lists": pa.list_(pa.list_(pa.string()))}
SCHEMA = pa.schema([(name, _TYPES[kind]) for name, kind in COLUMNS.items()])
TABLE = "corridor_persons"


@dataclass
class DedupeResult:
    """Clusters of two or more records (members sorted, clusters by first member)."""

    clusters: list[list[str]]
    records: int
    pairs: int
    backend: str
    model_version: str
    timings: dict[str, float] = field(default_factory=dict)
    # With keep_pairs=True: (id_l, id_r, match weight) of the pairs scored at or above
    # min(threshold, min_weight), and each pair's weight per comparison (mw_*, in bits).
    pair_weights: list[tuple[str, str, float]] = field(default_factory=list)
    pair_details: list[dict[str, Any]] = field(default_factory=list)


def _write_chunk(records: list[PersonRecord], path: str) -> int:
    rows = [feature_row(r) for r in records]
    if rows:
        columns = {name: [row[name] for row in rows] for name in SCHEMA.names}
        pq.write_table(pa.Table.from_pydict(columns, schema=SCHEMA), path)
    return len(rows)


def _write_raw(records: list[PersonRecord], path: str) -> int:
    if records:
        pq.write_table(raw_table(records), path)
    return len(records)


def write_raw(
    chunks: Iterable[Iterable[PersonRecord]],
    directory: Path,
    progress: Callable[[int], None] | None = None,
    *,
    empty: bool = True,
) -> int:
    """Write every chunk's name fields as they are and its scalar columns
    (``columns.raw_table``) as one Parquet file; returns the record count."""
    n = 0
    for i, chunk in enumerate(chunks):
        count = _write_raw(list(chunk), str(directory / f"raw-{i:06d}.parquet"))
        n += count
        if progress is not None and count:
            progress(count)
    if n == 0 and empty:
        pq.write_table(RAW_SCHEMA.empty_table(), directory / "raw-empty.parquet")
    return n


def write_features(
    chunks: Iterable[Iterable[PersonRecord]],
    directory: Path,
    progress: Callable[[int], None] | None = None,
    workers: int = 1,
    *,
    method: str = "sql",
    memory_limit: str | None = None,
) -> int:
    """Write the chunks' key columns as Parquet files in ``directory``; returns the
    record count.

    ``method="sql"`` (the default) writes each chunk's name fields as they are and
    computes the columns in DuckDB, each distinct name value parsed once
    (``columns.build_feature_table``); ``method="python"`` computes ``feature_row`` per
    record, in ``workers`` forked processes when ``workers > 1`` (at most two chunks per
    worker in flight, so the chunks are still read as they are needed). Both give the
    same rows (``tests/linkage/test_columns.py``)."""
    if method not in ("sql", "python"):
        raise ValueError(f"unknown method {method!r} (sql or python)")
    n = 0

    def done(count: int) -> None:
        nonlocal n
        n += count
        if progress is not None and count:
            progress(count)

    if method == "sql":
        with tempfile.TemporaryDirectory(prefix="raw-", dir=directory.parent) as raw_dir:
            n = write_raw(chunks, Path(raw_dir), progress, empty=False)
            if n:
                _features_from_raw(Path(raw_dir), directory / "part-000000.parquet",
                                   memory_limit)
    elif workers <= 1 or "fork" not in mp.get_all_start_methods():
        for i, chunk in enumerate(chunks):
            done(_write_chunk(list(chunk), str(directory / f"part-{i:06d}.parquet")))
    else:
        with mp.get_context("fork").Pool(workers) as pool:
            pending: deque[Any] = deque()
            for i, chunk in enumerate(chunks):
                path = str(directory / f"part-{i:06d}.parquet")
                pending.append(pool.apply_async(_write_chunk, (list(chunk), path)))
                while len(pending) >= 2 * workers:
                    done(pending.popleft().get())
            while pending:
                done(pending.popleft().get())
    if n == 0:
        pq.write_table(SCHEMA.empty_table(), directory / "part-empty.parquet")
    return n


def _features_from_raw(raw_dir: Path, out: Path, memory_limit: str | None) -> None:
    import duckdb

    con = duckdb.connect()
    try:
        con.execute(f"SET temp_directory = '{raw_dir}/duckdb-tmp'")
        if memory_limit:
            con.execute("SET memory_limit = ?", [memory_limit])
            con.execute("SET preserve_insertion_order = false")
        con.execute(
            f"CREATE TABLE corridor_raw AS SELECT * FROM read_parquet('{raw_dir}/*.parquet')"
        )
        build_feature_table(con, "corridor_raw", "corridor_features")
        con.execute(f"COPY corridor_features TO '{out}' (FORMAT parquet)")
    finally:
        con.close()


def spark_session(cores: int = 2, checkpoint_dir: str | None = None) -> Any:
    """A local Spark session set up for Splink (its similarity jar, few partitions, no UI).

    On a cluster, build the session the cluster's way (``spark-submit``) with the same
    ``spark.jars`` (``splink.backends.spark.similarity_jar_location()``) and pass it to
    ``dedupe(..., spark=session)``.
    """
    from pyspark import SparkConf
    from pyspark.sql import SparkSession
    from splink.backends.spark import similarity_jar_location

    conf = (
        SparkConf()
        .setMaster(f"local[{cores}]")
        .setAppName("corridor-dedupe")
        .set("spark.jars", similarity_jar_location())
        .set("spark.sql.shuffle.partitions", str(cores))
        .set("spark.default.parallelism", str(cores))
        .set("spark.ui.enabled", "false")
        .set("spark.sql.adaptive.enabled", "false")
        .set("spark.driver.memory", "2g")
        .set("spark.ui.showConsoleProgress", "false")
    )
    spark = SparkSession.builder.config(conf=conf).getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    checkpoints = checkpoint_dir or tempfile.mkdtemp(prefix="corridor-spark-")
    spark.sparkContext.setCheckpointDir(checkpoints)
    return spark


def _frequency_table() -> pa.Table:
    counts = load_default_frequencies()
    return pa.table({
        "sk": pa.array(list(counts), pa.string()),
        "per_million": pa.array([float(v) for v in counts.values()], pa.float64()),
    })


def _clusters_from_arrow(table: pa.Table) -> list[list[str]]:
    groups: dict[str, list[str]] = {}
    for cid, uid in zip(
        table.column("cluster_id").to_pylist(), table.column("unique_id").to_pylist(), strict=True
    ):
        groups.setdefault(str(cid), []).append(str(uid))
    clusters = [sorted(g) for g in groups.values() if len(g) > 1]
    clusters.sort(key=lambda c: c[0])
    return clusters


def dedupe(
    chunks: Iterable[Iterable[PersonRecord]],
    *,
    backend: str = "duckdb",
    threshold: float = 0.5,
    model: SplinkModel | None = None,
    spark: Any = None,
    workdir: Path | None = None,
    progress: Callable[[int], None] | None = None,
    duckdb_threads: int | None = None,
    keep_pairs: bool = False,
    min_weight: float | None = None,
    workers: int = 1,
    memory_limit: str | None = None,
    features: str = "sql",
) -> DedupeResult:
    """Find the clusters of records that are one person (pair probability >= ``threshold``,
    Corridor's calibration).

    ``chunks`` is read once, chunk by chunk; ``progress`` is called with each chunk's size.
    ``features`` says how the key columns are computed (``write_features``: ``sql``, or
    ``python`` in ``workers`` processes).
    ``backend`` is ``duckdb`` (one machine) or ``spark`` (``spark`` a session;
    a local one is started when none is given). ``memory_limit`` (DuckDB's own syntax,
    ``"3GB"``) caps DuckDB's memory: beyond it DuckDB spills to the working directory.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r} (one of {', '.join(BACKENDS)})")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="corridor-dedupe-", dir=workdir) as tmp:
        parts = Path(tmp) / "persons"
        parts.mkdir()
        # On DuckDB the name fields go as they are; the columns are built in the
        # connection that deduplicates (no second pass over Parquet files).
        raw = features == "sql" and backend == "duckdb"
        if raw:
            n = write_raw(chunks, parts, progress)
        else:
            n = write_features(chunks, parts, progress, workers, method=features,
                               memory_limit=memory_limit)
        features_s = time.perf_counter() - t0
        result = dedupe_features(
            parts, n, backend=backend, threshold=threshold, model=model, spark=spark,
            workdir=Path(tmp), duckdb_threads=duckdb_threads, keep_pairs=keep_pairs,
            min_weight=min_weight, memory_limit=memory_limit, raw=raw,
        )
    result.timings = {"features_s": features_s + result.timings.pop("columns_s", 0.0),
                      **result.timings, "total_s": time.perf_counter() - t0}
    return result


def dedupe_person_csv(
    path: Path,
    *,
    threshold: float = 0.5,
    model: SplinkModel | None = None,
    workdir: Path | None = None,
    duckdb_threads: int | None = None,
    keep_pairs: bool = False,
    min_weight: float | None = None,
    memory_limit: str | None = None,
) -> DedupeResult:
    """``dedupe`` of a person CSV (``matching.bench.read_person_csv``'s columns) on
    DuckDB, the file read by DuckDB itself (``columns.raw_from_person_csv``: the same
    values as ``read_person_csv``), so no record becomes a Python object."""
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="corridor-dedupe-", dir=workdir) as tmp:
        result = dedupe_features(
            Path(tmp), 0, backend="duckdb", threshold=threshold, model=model,
            workdir=Path(tmp), duckdb_threads=duckdb_threads, keep_pairs=keep_pairs,
            min_weight=min_weight, memory_limit=memory_limit, person_csv=path,
        )
    result.timings = {"features_s": result.timings.pop("columns_s", 0.0),
                      **result.timings, "total_s": time.perf_counter() - t0}
    return result


def dedupe_features(
    parts: Path,
    n: int,
    *,
    backend: str = "duckdb",
    threshold: float = 0.5,
    model: SplinkModel | None = None,
    spark: Any = None,
    workdir: Path,
    duckdb_threads: int | None = None,
    keep_pairs: bool = False,
    min_weight: float | None = None,
    memory_limit: str | None = None,
    raw: bool = False,
    person_csv: Path | None = None,
) -> DedupeResult:
    """``dedupe`` on key columns already written (``write_features``: ``n`` records as
    Parquet files in ``parts``), or with ``raw`` on the records' name fields as they are
    (``write_raw``; DuckDB only), or on a person CSV read by DuckDB (``person_csv``,
    ``n`` then ignored; DuckDB only): the columns then built in DuckDB. DuckDB's spill
    files go to ``workdir``."""
    if person_csv is not None and backend != "duckdb":
        raise ValueError("person_csv is read on the duckdb backend only")
    from splink import Linker

    model = model or SplinkModel.default()
    logging.getLogger("splink").setLevel(logging.WARNING)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    tmp = str(workdir)
    weight = model.threshold_weight(threshold)
    t1 = time.perf_counter()
    if backend == "duckdb":
        import duckdb
        from splink import DuckDBAPI

        con = duckdb.connect()
        if duckdb_threads:
            con.execute(f"SET threads = {int(duckdb_threads)}")
        con.execute(f"SET temp_directory = '{tmp}/duckdb-tmp'")
        if memory_limit:
            con.execute("SET memory_limit = ?", [memory_limit])
            # Keeping the input order costs memory; clusters do not depend on it.
            con.execute("SET preserve_insertion_order = false")
        if raw or person_csv is not None:
            t_columns = time.perf_counter()
            if person_csv is not None:
                raw_from_person_csv(con, person_csv, "corridor_raw")
                n = con.execute("SELECT count(*) FROM corridor_raw").fetchall()[0][0]
            else:
                con.execute(
                    f"CREATE TABLE corridor_raw AS "
                    f"SELECT * FROM read_parquet('{parts}/*.parquet')"
                )
            build_feature_table(con, "corridor_raw", "raw_persons", encode=True)
            con.execute("DROP TABLE corridor_raw")
            timings["columns_s"] = time.perf_counter() - t_columns
        else:
            con.execute(
                f"CREATE TABLE raw_persons AS SELECT * FROM read_parquet('{parts}/*.parquet')"
            ).fetchall()
        con.execute(
            f"CREATE TABLE {TABLE} AS {block_keys_sql(model, 'duckdb', 'raw_persons')}"
        ).fetchall()
        con.execute("DROP TABLE raw_persons").fetchall()
        freq = _frequency_table()
        con.register("corridor_name_frequencies_arrow", freq)
        con.execute(
            "CREATE TABLE corridor_name_frequencies AS "
            "SELECT * FROM corridor_name_frequencies_arrow"
        ).fetchall()
        tf_names = []
        for col, sql in tf_tables_sql(
            model, "duckdb", TABLE, "corridor_name_frequencies", n
        ).items():
            con.execute(f"CREATE TABLE corridor_tf_{col} AS {sql}").fetchall()
            tf_names.append((col, f"corridor_tf_{col}"))
        settings = splink_settings(model, backend, n)
        db_api: Any = DuckDBAPI(con)
        table = db_api.register(TABLE)
        tf_frames = [(col, db_api.register(name)) for col, name in tf_names]
    else:
        from splink import SparkAPI

        settings = splink_settings(model, backend, n)
        spark = spark or spark_session()
        db_api = SparkAPI(spark_session=spark)  # type: ignore[no-untyped-call]
        spark.read.parquet(str(parts)).createOrReplaceTempView("raw_persons")
        persons = spark.sql(block_keys_sql(model, "spark", "raw_persons"))
        persons.createOrReplaceTempView(TABLE)
        spark.createDataFrame(
            _frequency_table().to_pylist(), "sk string, per_million double"
        ).createOrReplaceTempView("corridor_name_frequencies")
        table = db_api.register(persons)
        tf_frames = [
            (col, db_api.register(spark.sql(sql).cache()))
            for col, sql in tf_tables_sql(
                model, "spark", TABLE, "corridor_name_frequencies", n
            ).items()
        ]
    if keep_pairs:
        settings["retain_intermediate_calculation_columns"] = True
    linker = Linker(table, settings, log_level=logging.WARNING)
    for col, frame in tf_frames:
        linker.table_management.register_term_frequency_lookup(frame, col)
    if n < 2:
        return DedupeResult([], n, 0, backend, model.version, timings)
    predictions = linker.inference.predict(
        threshold_match_weight=weight if min_weight is None else min(weight, min_weight)
    )
    kept: list[tuple[str, str, float]] = []
    details: list[dict[str, Any]] = []
    if keep_pairs:
        t = predictions.as_pyarrow_table()  # type: ignore[no-untyped-call]
        kept = list(zip(t.column("unique_id_l").to_pylist(),
                        t.column("unique_id_r").to_pylist(),
                        t.column("match_weight").to_pylist(), strict=True))
        levels = [c for c in t.column_names if c.startswith(("gamma_", "mw_"))]
        details = t.select(["unique_id_l", "unique_id_r", *levels]).to_pylist()
    pairs = int(
        predictions.query_sql(
            f"SELECT count(*) AS n FROM {{this}} WHERE match_weight >= {weight}"
        ).as_record_list()[0]["n"]
    )
    # (The key columns built in this connection are counted as features, not predict.)
    timings["predict_s"] = time.perf_counter() - t1 - timings.get("columns_s", 0.0)
    t2 = time.perf_counter()
    clustered = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_weight=weight
    )
    multi = clustered.query_sql(
        "SELECT cluster_id, unique_id FROM {this} WHERE cluster_id IN "
        "(SELECT cluster_id FROM {this} GROUP BY cluster_id HAVING count(*) > 1)"
    )
    arrow = multi.as_pyarrow_table()  # type: ignore[no-untyped-call]
    clusters = _clusters_from_arrow(arrow)
    timings["cluster_s"] = time.perf_counter() - t2
    if backend == "duckdb":
        con.close()
    timings["total_s"] = time.perf_counter() - t0
    return DedupeResult(clusters, n, pairs, backend, model.version, timings, kept, details)
