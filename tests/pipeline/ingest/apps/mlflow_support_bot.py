"""A small RAG support bot traced with mlflow-tracing, exporting OTLP/HTTP to evalstream.

Run by test_ingest_end_to_end in its own process; the test sets OTEL_EXPORTER_OTLP_TRACES_*
(endpoint, protocol, bearer-token header) and MLFLOW_TRACKING_URI (any http URL: without it
mlflow-tracing 3.x records nothing).
"""

import mlflow
from mlflow.entities import Document, SpanType

KB = {
    "refund": "Refunds are issued within 14 days of purchase to the original payment method.",
    "password": "To reset your password, open Settings, choose Security and click Reset password.",
    "shipping": "Standard shipping takes 3 to 5 business days within the EU.",
}


@mlflow.trace(span_type=SpanType.RETRIEVER)
def retrieve(query: str) -> list[Document]:
    hits = [k for k in KB if k in query.lower()] or ["shipping"]
    return [Document(page_content=KB[k], metadata={"doc_uri": f"kb://{k}"}, id=k) for k in hits]


@mlflow.trace(span_type=SpanType.TOOL)
def lookup_order(order_id: str) -> dict:
    if order_id == "bad":
        raise ValueError("order service unavailable")
    return {"order_id": order_id, "status": "shipped"}


@mlflow.trace(span_type=SpanType.CHAT_MODEL)
def chat(messages: list[dict]) -> dict:
    span = mlflow.get_current_active_span()
    span.set_attribute(
        "mlflow.chat.tokenUsage", {"input_tokens": 120, "output_tokens": 30, "total_tokens": 150}
    )
    span.set_attribute("mlflow.llm.model", "gpt-4o-mini")
    question = messages[-1]["content"].lower()
    text = "Refunds take up to 14 days." if "refund" in question else "Shipping takes 3-5 days."
    return {"choices": [{"message": {"role": "assistant", "content": text}}]}


@mlflow.trace(span_type=SpanType.AGENT)
def answer(question: str, order_id: str | None = None) -> str:
    print(mlflow.get_current_active_span().trace_id, flush=True)  # tr-<otel trace id>
    docs = retrieve(question)
    if order_id:
        try:
            lookup_order(order_id)
        except ValueError:
            context_note = "order lookup failed"  # the TOOL span records the error
            del context_note
    context = "\n".join(d.page_content for d in docs)
    messages = [
        {"role": "system", "content": f"Answer from the context:\n{context}"},
        {"role": "user", "content": question},
    ]
    return chat(messages)["choices"][0]["message"]["content"]


if __name__ == "__main__":
    for question, order in [("How do I get a refund?", None), ("Where is my parcel?", "bad")]:
        answer(question, order)
