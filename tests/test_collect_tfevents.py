"""The TensorFlowEvent collector on real event files written with tensorboard's writer."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

pytest.importorskip("tensorboard", reason="the tfevents extra (tensorboard) is not installed")

from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from tunery.collect import make_collector
from tunery.collect.tfevents import TFEventsCollector
from tunery.model import CollectorKind, FileSystemKind, MetricsCollectorSpec


def scalar_v1(tag: str, value: float, step: int) -> event_pb2.Event:
    """PyTorch SummaryWriter.add_scalar / TF1 style: simple_value."""
    summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=value)])
    return event_pb2.Event(wall_time=1700000000.0 + step, step=step, summary=summary)


def scalar_v2(tag: str, value: float, step: int, packed: bool = False) -> event_pb2.Event:
    """TF2 tf.summary.scalar style: a scalar float tensor with the scalars plugin."""
    if packed:
        tensor = tensor_pb2.TensorProto(dtype=1, tensor_content=struct.pack("<f", value))
    else:
        tensor = tensor_pb2.TensorProto(dtype=2, double_val=[value])
    metadata = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars")
    )
    summary = summary_pb2.Summary(
        value=[summary_pb2.Summary.Value(tag=tag, tensor=tensor, metadata=metadata)]
    )
    return event_pb2.Event(wall_time=1700000000.0 + step, step=step, summary=summary)


def write(directory: Path, events: list[event_pb2.Event]) -> EventFileWriter:
    writer = EventFileWriter(str(directory))
    for e in events:
        writer.add_event(e)
    writer.flush()
    return writer


def test_pytorch_and_tf2_styles_incrementally(tmp_path: Path) -> None:
    writer = write(tmp_path, [scalar_v1("loss", 0.9, 0), scalar_v2("accuracy", 0.5, 0)])
    collector = TFEventsCollector(["loss", "accuracy"])
    records, cursor = collector.read(str(tmp_path), None)
    assert [(r.name, round(r.value, 6), r.step) for r in records] == [  # type: ignore[arg-type]
        ("loss", 0.9, 0),
        ("accuracy", 0.5, 0),
    ]
    assert records[0].timestamp == 1700000000.0
    writer.add_event(scalar_v1("loss", 0.4, 1))
    writer.add_event(scalar_v2("accuracy", 0.75, 1, packed=True))
    writer.add_event(scalar_v1("other", 1.0, 1))
    writer.flush()
    writer.close()
    new, cursor = collector.read(str(tmp_path), cursor)
    got = [(r.name, round(r.value, 6), r.step) for r in new]  # type: ignore[arg-type]
    assert got == [("loss", 0.4, 1), ("accuracy", 0.75, 1)]  # simple_value is a float32
    assert collector.read(str(tmp_path), cursor)[0] == []


def test_partial_record_waits_until_complete(tmp_path: Path) -> None:
    write(tmp_path, [scalar_v1("loss", 1.0, 0)]).close()
    path = next(tmp_path.iterdir())
    whole = path.read_bytes()
    path.write_bytes(whole[:-7])  # the writer is half-way through the last record
    collector = TFEventsCollector(["loss"])
    records, cursor = collector.read(str(tmp_path), None)
    assert records == []
    path.write_bytes(whole)
    records, cursor = collector.read(str(tmp_path), cursor)
    assert [(r.name, r.value) for r in records] == [("loss", 1.0)]


def test_katib_directory_rule_and_full_tags(tmp_path: Path) -> None:
    write(tmp_path / "train", [scalar_v1("accuracy", 0.6, 0)]).close()
    write(tmp_path / "test", [scalar_v1("accuracy", 0.5, 0)]).close()
    write(tmp_path / "pt", [scalar_v1("Loss/train", 2.0, 3)]).close()
    collector = TFEventsCollector(["test/accuracy", "Loss/train"])
    records, _ = collector.read(str(tmp_path), None)
    assert sorted((r.name, r.value) for r in records) == [
        ("Loss/train", 2.0),
        ("test/accuracy", 0.5),
    ]


def test_nan_and_garbage_files_do_not_crash(tmp_path: Path) -> None:
    write(tmp_path, [scalar_v1("loss", float("nan"), 0)]).close()
    (tmp_path / "events.out.tfevents.garbage").write_bytes(
        b"\x05\x00\x00\x00\x00\x00\x00\x00xxxxjunkjunk"
    )
    records, _ = TFEventsCollector(["loss"]).read(str(tmp_path), None)
    assert [(r.name, r.value) for r in records] == [("loss", None)]


def test_factory_and_source(tmp_path: Path) -> None:
    spec = MetricsCollectorSpec(
        kind=CollectorKind.TENSORFLOW_EVENT, path="logs", path_kind=FileSystemKind.DIRECTORY
    )
    assert isinstance(make_collector(spec, ["loss"]), TFEventsCollector)
    assert TFEventsCollector(["loss"]).read(str(tmp_path / "missing"), None) == ([], {"files": {}})


def test_experiment_collects_tfevents_from_real_trials(tmp_path: Path) -> None:
    from tests.helpers import create, native_doc
    from tunery.controller import Controller
    from tunery.execute.local import LocalExecutor
    from tunery.model import TrialCondition
    from tunery.storage import Store

    script = """
    import os, sys
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter
    x = float(sys.argv[1].split("=", 1)[1])
    writer = EventFileWriter(os.path.join(os.environ["TUNERY_TRIAL_DIR"], "tb", "train"))
    for step in range(3):
        value = summary_pb2.Summary.Value(tag="accuracy", simple_value=x * step)
        writer.add_event(event_pb2.Event(step=step, summary=summary_pb2.Summary(value=[value])))
    writer.close()
    """
    doc = native_doc(
        "tfe",
        script,
        objective={"type": "maximize", "objectiveMetricName": "train/accuracy"},
        parallel=1,
        max_trials=2,
        extra_spec={
            "metricsCollectorSpec": {
                "collector": {"kind": "TensorFlowEvent"},
                "source": {"fileSystemPath": {"path": "tb", "kind": "Directory"}},
            }
        },
    )
    # the event directory is inside each trial's own directory: make it the working directory
    doc["spec"]["trialTemplate"]["workingDir"] = str(
        tmp_path / "runs" / "tfe" / "${trialParameters.t}"
    )
    doc["spec"]["trialTemplate"]["trialParameters"] = [
        {"name": "x", "reference": "x"},
        {"name": "t", "reference": "${trialSpec.Name}"},
    ]
    for i in (1, 2):
        (tmp_path / "runs" / "tfe" / f"tfe-000{i}").mkdir(parents=True)
    store = Store(f"sqlite:///{tmp_path / 't.db'}")
    create(store, doc, tmp_path)
    Controller(store, "tfe", LocalExecutor(), poll_interval=0.05).run()
    for t in store.list_trials("tfe"):
        assert t.status is TrialCondition.SUCCEEDED, (t.reason, t.message)
        assert t.objective == pytest.approx(2 * float(t.parameters["x"]), rel=1e-6)
        steps = [o.step for o in store.get_observations("tfe", t.name)]
        assert steps == [0, 1, 2]
    store.close()


def test_a_flood_of_events_is_read_in_bounded_slices(tmp_path: Path) -> None:
    write(tmp_path / "a", [scalar_v1("loss", float(i), i) for i in range(10)]).close()
    write(tmp_path / "b", [scalar_v2("loss", float(i), i) for i in range(10, 17)]).close()
    collector = TFEventsCollector(["loss"], max_records=3)
    steps: list[int | None] = []
    cursor = None
    reads = 0
    while True:
        records, cursor = TFEventsCollector(["loss"], max_records=3).read(str(tmp_path), cursor)
        reads += 1
        assert len(records) <= 3
        steps.extend(r.step for r in records)
        if not cursor.get("more"):
            break
    assert steps == list(range(17)) and reads == 6
    assert collector.read(str(tmp_path), cursor) == ([], cursor)
    # A byte bound: one record of the files per read (the first of each has no scalar).
    steps = []
    cursor = None
    for _ in range(100):
        records, cursor = TFEventsCollector(["loss"], max_bytes=1).read(str(tmp_path), cursor)
        assert len(records) <= 1
        steps.extend(r.step for r in records)
        if not cursor.get("more"):
            break
    assert steps == list(range(17))
