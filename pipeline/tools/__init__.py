"""Operations tools around the stream: backfill (re-score), alerts, maintenance (retention,
compaction), the HTML report, the demo, and the generator of docs/configuration.md.
"""
