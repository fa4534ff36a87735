"""OpenInference-style spans from the plain OpenTelemetry SDK, exported over OTLP/HTTP.

Run by test_ingest_end_to_end in its own process (endpoint and headers from the standard
OTEL_EXPORTER_OTLP_TRACES_* variables); prints the trace id it produced.
"""

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status, StatusCode

provider = TracerProvider(resource=Resource.create({"service.name": "oi-rag"}))
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
tracer = provider.get_tracer("openinference-test-app")

QUESTION = "What is the capital of France?"
DOC = "Paris is the capital and largest city of France."

with tracer.start_as_current_span("rag-pipeline") as root:
    root.set_attribute("openinference.span.kind", "CHAIN")
    root.set_attribute("input.value", QUESTION)
    with tracer.start_as_current_span("retrieve") as span:
        span.set_attribute("openinference.span.kind", "RETRIEVER")
        span.set_attribute("retrieval.documents.0.document.content", DOC)
        span.set_attribute("retrieval.documents.1.document.content", "France is in Europe.")
    with tracer.start_as_current_span("llm") as span:
        span.set_attribute("openinference.span.kind", "LLM")
        span.set_attribute("llm.model_name", "gpt-4o-mini")
        span.set_attribute("llm.token_count.prompt", 42)
        span.set_attribute("llm.token_count.completion", 7)
        span.set_attribute("llm.token_count.total", 49)
        span.set_attribute("output.value", "Paris.")
    with tracer.start_as_current_span("web-search") as span:
        span.set_attribute("openinference.span.kind", "TOOL")
        span.set_status(Status(StatusCode.ERROR, "search backend timed out"))
    root.set_attribute("output.value", "Paris.")
    trace_id = format(root.get_span_context().trace_id, "032x")

provider.shutdown()  # flushes the batch processor: the export happens before exit
print(trace_id, flush=True)
