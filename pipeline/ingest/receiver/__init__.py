"""Where spans enter: the OTLP/HTTP receiver (``POST /v1/traces``) that writes the spans topic.

``http`` is the aiohttp service and its Kafka producer; ``body`` reads and bounds request
bodies; ``codec`` decodes OTLP protobuf/JSON and splits a request into per-trace messages.
The spans topic is then turned into traces by :mod:`pipeline.ingest.assembler`.
"""
