"""The queue type setting: classic by default, quorum for a cluster, anything else refused at start."""
import pytest

from common.messaging import queue_type, topology_entities
from common.settings import service_config


def test_classic_unless_set():
    assert queue_type(service_config("intake", {})) == "classic"
    assert queue_type(service_config("intake", {"QUEUE_TYPE": "quorum"})) == "quorum"


def test_an_unknown_queue_type_is_refused():
    with pytest.raises(ValueError, match="classic or quorum"):
        queue_type({"QUEUE_TYPE": "mirrored"})


def test_quorum_retry_queues_dead_letter_at_least_once():
    retry = [q for q in topology_entities((1000,), "quorum") if getattr(q, "name", "").endswith(".retry.1000ms")]
    assert retry and all(q.queue_arguments["x-queue-type"] == "quorum" and
                         q.queue_arguments["x-dead-letter-strategy"] == "at-least-once" for q in retry)
    classic = [q for q in topology_entities((1000,)) if getattr(q, "name", "").endswith(".retry.1000ms")]
    assert all("x-queue-type" not in q.queue_arguments for q in classic)
