-- Query the evalstream Parquet dataset with DuckDB, no evalstream code needed:
--   duckdb -c ".read examples/query_parquet.sql"          (from the project root)
-- Change the path below to your EVALSTREAM_PARQUET_DIR. One row = one trace x evaluator;
-- date=/hour= directories are Hive partitions (usable in WHERE to prune files).
SET VARIABLE parquet_dir = 'evalstream-data/parquet';

-- Replays of the same Kafka offsets rewrite the same file name, but a consumer reading
-- a copy of the data may see both: keep one row per (source offset, evaluator, span).
CREATE OR REPLACE TEMP VIEW results AS
SELECT * EXCLUDE (rn) FROM (
    SELECT *, row_number() OVER (
        PARTITION BY kafka_topic, kafka_partition, kafka_offset, evaluator, span_id
    ) AS rn
    FROM read_parquet(getvariable('parquet_dir') || '/**/*.parquet', hive_partitioning = true)
) WHERE rn = 1;

-- Pass rate per evaluator per hour (errors and not-applicable rows have passed = NULL).
SELECT
    evaluator,
    date_trunc('hour', "timestamp") AS hour,
    count(*) AS evaluations,
    round(avg(CASE WHEN passed THEN 1.0 WHEN NOT passed THEN 0.0 END), 4) AS pass_rate,
    round(avg(score), 4) AS mean_score,
    count(error) AS errors
FROM results
GROUP BY ALL
ORDER BY hour, evaluator;

-- The 20 worst traces: most failed evaluations, then lowest score.
SELECT
    trace_id,
    any_value(app) AS app,
    count(*) FILTER (WHERE NOT passed OR error IS NOT NULL) AS failed,
    min(score) AS min_score,
    string_agg(evaluator || ': ' || coalesce(error, rationale, ''), ' | ')
        FILTER (WHERE NOT passed OR error IS NOT NULL) AS why
FROM results
GROUP BY trace_id
HAVING failed > 0
ORDER BY failed DESC, min_score ASC NULLS LAST, trace_id
LIMIT 20;
