"""The harness's list-and-watch against the real API server: a watch the server ends is resumed where it stood (no
object handed over twice as ADDED), and a list after a lost resume point hands over what went meanwhile as
DELETED (a restarted watch used to drop those: a pod's processes left running, a stale endpoint kept)."""

from __future__ import annotations

import functools
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from tests import waiting
from tests.podharness import listwatch

k8s = pytest.importorskip("kubernetes")
from kubernetes import client, config  # noqa: E402

pytestmark = pytest.mark.k8s

ROOT_CA = "kube-root-ca.crt"  # every namespace's own ConfigMap, made by the controller-manager


@pytest.fixture
def core(k8s_cluster) -> Iterator[client.CoreV1Api]:
    api = config.new_client_from_config(config_file=str(k8s_cluster.kubeconfig))
    yield client.CoreV1Api(api)
    api.close()


@pytest.fixture
def namespace(core: client.CoreV1Api) -> Iterator[str]:
    name = f"td-lw-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    core.delete_namespace(name)


def config_map(core: client.CoreV1Api, namespace: str, name: str) -> str:
    body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name), data={"k": "v"})
    return core.create_namespaced_config_map(namespace, body).metadata.uid


def test_a_watch_the_server_ends_resumes_where_it_stood(
    core: client.CoreV1Api, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(listwatch, "WATCH_TIMEOUT_S", 1)  # the server ends each watch after a second
    seen: Counter[tuple[str, str]] = Counter()
    watches = Counter[str]()
    lister = functools.partial(core.list_namespaced_config_map, namespace)

    def list_fn(*args: Any, **kwargs: Any) -> Any:
        watches["watch" if kwargs.get("watch") else "list"] += 1
        return lister(*args, **kwargs)

    list_fn.__name__ = "list_namespaced_config_map"

    def handler(kind: str, obj: dict) -> None:
        if obj["metadata"]["name"] != ROOT_CA:
            seen[kind, obj["metadata"]["name"]] += 1

    stopping = threading.Event()
    thread = threading.Thread(target=listwatch.list_and_watch, args=(list_fn, handler, stopping), daemon=True)
    config_map(core, namespace, "before")
    thread.start()
    try:
        waiting.wait_until(lambda: seen["ADDED", "before"], 30, what="the listed ConfigMap")
        config_map(core, namespace, "during")
        waiting.wait_until(lambda: watches["watch"] >= 3, 30, what="the server to end two watches")
        core.delete_namespaced_config_map("before", namespace)
        waiting.wait_until(lambda: seen["DELETED", "before"], 30, what="the deletion")
        waiting.wait_until(lambda: watches["watch"] >= 5, 30, what="two more watches")
    finally:
        stopping.set()
        thread.join(10)
    assert watches["list"] == 1, watches  # listed once: every later watch resumed from a version
    assert seen == {("ADDED", "before"): 1, ("ADDED", "during"): 1, ("DELETED", "before"): 1}, seen


def test_a_list_after_a_lost_resume_point_hands_over_what_went_as_deleted(core: client.CoreV1Api, namespace: str):
    kept_uid = config_map(core, namespace, "kept")
    gone_uid = config_map(core, namespace, "gone")
    core.delete_namespaced_config_map("gone", namespace)
    events: list[tuple[str, str]] = []
    known = {uid: {"metadata": {"uid": uid, "name": name}} for uid, name in ((gone_uid, "gone"), (kept_uid, "kept"))}

    version = listwatch._relist(
        functools.partial(core.list_namespaced_config_map, namespace),
        lambda kind, obj: obj["metadata"].get("name") != ROOT_CA and events.append((kind, obj["metadata"]["name"])),
        known,
    )
    assert events == [("DELETED", "gone"), ("MODIFIED", "kept")]
    assert set(known) - {kept_uid} == {uid for uid, o in known.items() if o["metadata"]["name"] == ROOT_CA}
    assert int(version) > 0
