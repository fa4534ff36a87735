"""Kafka plumbing shared by the pipeline: client configs, security, the local broker.

* :mod:`pipeline.kafka.clients`: every kafka-python client the pipeline builds (producer,
  admin, topic reader, ``publish``) and ``KafkaUnavailableError``;
* :mod:`pipeline.kafka.security`: TLS/SASL settings turned into kafka-python, aiokafka and
  faust arguments;
* :mod:`pipeline.kafka.broker`: the local single-node Kafka used by ``evalstream demo``,
  ``evalstream broker`` and the tests.

Nothing is imported here, so ``import pipeline.kafka.security`` stays light.
"""
