"""Write: each table's rows as Parquet files in its table folder; the launcher commits them
(one Delta transaction per table, ``warehouse.partitions.commit_day``) after reconciling."""

from __future__ import annotations

import apache_beam as beam
import pyarrow as pa

from warehouse import partitions, schemas


def to_row(record: dict, schema: pa.Schema) -> dict:
    """Exactly the schema's fields; maps as (key, value) pairs, missing fields as nulls."""
    row = {}
    for column in schema:
        value = record.get(column.name)
        if pa.types.is_map(column.type) and value is not None:
            value = sorted(value.items())
        row[column.name] = value
    return row


def _row_tally(table: str):
    key = ("write", f"rows_{table}", "")
    return lambda _: (key, 1)


def row_tallies(tables: dict) -> list:
    """``rows_<table>`` tallies of the tables whose rows ``reconcile`` checks against lines."""
    return [pcoll | f"TallyRows_{table}" >> beam.Map(_row_tally(table))
            for table, pcoll in tables.items()]


class ComputeStats(beam.PTransform):
    """Every stage's tallies (one PCollection) -> the day's ``stats`` rows."""

    def __init__(self, run_id: str):
        super().__init__()
        self._run_id = run_id

    def expand(self, tallies):
        run_id = self._run_id
        return (
            tallies
            | "Sum" >> beam.CombinePerKey(sum)
            | "StatsRows" >> beam.Map(lambda kv: {"run_id": run_id, "stage": kv[0][0],
                                                  "metric": kv[0][1], "reason": kv[0][2],
                                                  "value": kv[1]})
        )


class WriteTables(beam.PTransform):
    """{table: PCollection of records} -> the attempt's Parquet files in ``<table>/dt=<day>/``
    (not part of the table until committed)."""

    def __init__(self, wh: str, day: str, attempt: str):
        super().__init__()
        self._wh = wh
        self._day = day
        self._attempt = attempt

    def expand(self, tables):
        for table, pcoll in tables.items():
            schema = schemas.TABLES[table]
            _ = (
                pcoll
                | f"Rows_{table}" >> beam.Map(to_row, schema)
                | f"Write_{table}" >> beam.io.WriteToParquet(
                    partitions.attempt_prefix(self._wh, table, self._day, self._attempt),
                    schema, file_name_suffix=".parquet")
            )
        return beam.pvalue.PDone(next(iter(tables.values())).pipeline)
