"""The same deduplication on Spark (pyspark, local mode) gives the same clusters as on
DuckDB. Spark on two cores is slow (about a minute to start): one tiny registry."""

from __future__ import annotations

import shutil

import pytest

from corridor.linkage.engine import dedupe
from tests.linkage.registry import EXPECTED, REGISTRY

pytestmark = [
    pytest.mark.spark,
    pytest.mark.timeout(900),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


def test_spark_local_mode_gives_the_same_clusters_as_duckdb(tmp_path) -> None:
    pytest.importorskip("pyspark", reason="pyspark is the 'spark' extra (make install)")
    if shutil.which("java") is None:
        pytest.skip("no Java (scripts/install-system-deps.sh installs default-jre-headless)")
    from corridor.linkage.engine import spark_session

    spark = spark_session(cores=2, checkpoint_dir=str(tmp_path / "checkpoints"))
    try:
        on_spark = dedupe([REGISTRY[:9], REGISTRY[9:]], backend="spark", spark=spark)
    finally:
        spark.stop()
    on_duckdb = dedupe([REGISTRY], backend="duckdb")
    assert on_spark.clusters == on_duckdb.clusters == EXPECTED
    assert on_spark.pairs == on_duckdb.pairs
