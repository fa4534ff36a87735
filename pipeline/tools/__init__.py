"""Operations tools around the stream: backfill (re-score), alerts, maintenance (retention,
compaction), the HTML report, the demo, the web UI (``ui``) and the generator of
docs/configuration.md.
"""
