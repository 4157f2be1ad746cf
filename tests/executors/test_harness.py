"""The in-sandbox harness as plain functions: frames, values, judges, inputs and the exponent fit."""

from __future__ import annotations

import math
import os
import random
import time

import numpy as np
import pytest
import torch

from executors.harness import _wire
from executors.harness._checker import fit_exponent
from executors.harness._values import decode, encode
from executors.harness.api import TOLERANCE, Trial

from .conftest import SEED

TASKS = SEED.tasks


def roundtrip(value):
    blobs: list[bytes] = []
    header = encode(value, blobs)
    return decode(header, blobs)


def test_frames_round_trip_through_a_pipe():
    read, write = os.pipe()
    _wire.write_fd(write, {"a": [1, 2.5, None]}, [b"\x00\x01"])
    assert _wire.read_fd(read, limit=1024, deadline=time.monotonic() + 1) == (
        {"a": [1, 2.5, None]},
        [b"\x00\x01"],
    )


def test_an_oversized_frame_is_refused_before_it_is_read():
    read, write = os.pipe()
    _wire.write_fd(write, {"big": "x" * 5000})
    with pytest.raises(_wire.WireError, match="too large"):
        _wire.read_fd(read, limit=1000)


def test_a_partial_frame_cannot_hold_the_reader_past_its_deadline():
    read, write = os.pipe()
    os.write(write, b"\x10\x00\x00\x00\x00\x00\x00\x00{")  # a 16-byte header promised, one byte sent
    started = time.monotonic()
    with pytest.raises(_wire.Deadline):
        _wire.read_fd(read, limit=1024, deadline=started + 0.2)
    assert time.monotonic() - started < 1


def test_a_closed_channel_is_a_wire_error():
    read, write = os.pipe()
    os.close(write)
    with pytest.raises(_wire.WireError, match="closed"):
        _wire.read_fd(read, limit=1024)


def test_tensors_and_arrays_cross_as_numbers_of_any_float_dtype():
    out = roundtrip([torch.ones(2, 3, dtype=torch.bfloat16), np.arange(4, dtype=np.int64), (1, 2.5)])
    assert out[0].dtype == np.float32 and out[0].shape == (2, 3) and float(out[0].sum()) == 6
    assert out[1].tolist() == [0, 1, 2, 3]
    assert out[2] == [1, 2.5]
    assert roundtrip(np.float32(1.5)) == 1.5


def test_objects_that_could_lie_are_not_encoded():
    class AlwaysEqual:
        def __eq__(self, other):
            return True

    with pytest.raises(TypeError, match="AlwaysEqual"):
        encode(AlwaysEqual(), [])


@pytest.mark.parametrize(
    "marker",
    [
        {"$nd": 5, "dtype": "float32", "shape": [1]},
        {"$nd": 0, "dtype": "object", "shape": [1]},
        {"$nd": 0, "dtype": "float32", "shape": [3]},
        {"$weird": 1},
    ],
)
def test_malformed_array_markers_are_rejected(marker):
    with pytest.raises(ValueError):
        decode(marker, [np.zeros(1, dtype=np.float32).tobytes()])


def test_lis_judge_checks_validity_not_equality():
    judge, trial = TASKS["lis"].judge, Trial("t", {"nums": [10, 9, 2, 5, 3, 7, 101, 18]})
    reference = [4, [2, 3, 7, 18]]
    assert judge(trial, [4, [2, 5, 7, 101]], reference).passed
    assert "not strictly increasing" in judge(trial, [4, [2, 5, 5, 101]], reference).error
    assert "not a subsequence" in judge(trial, [4, [2, 3, 5, 101]], reference).error
    assert "length" in judge(trial, [3, [2, 5, 7]], reference).error
    assert "expected (length, subsequence)" in judge(trial, 4, reference).error


def test_topk_judge_refuses_a_bool_for_an_int():
    assert not TASKS["topk"].judge(Trial("t", {"nums": [1], "k": 1}), True, 1).passed


def tensor_trial(**arrays):
    return Trial("t", arrays)


def test_tensor_judge_names_zero_constant_and_echoed_outputs():
    judge = TASKS["attention"].judge
    v = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    reference = v * 2 + 1
    trial = tensor_trial(v=v)
    assert "all zeros" in judge(trial, np.zeros_like(v), reference).error
    assert "a constant" in judge(trial, np.full_like(v, 0.5), reference).error
    assert "echoes an input" in judge(trial, v, reference).error
    assert judge(trial, reference + 5e-5, reference).passed


def test_tensor_tolerance_depends_on_the_dtype():
    judge, reference = TASKS["relu_backward"].judge, np.ones((4, 4), dtype=np.float32)
    off = reference + 5e-3
    assert not judge(Trial("t", {}, "float32"), off, reference).passed
    assert judge(Trial("t", {}, "float16"), off, reference).passed
    assert TOLERANCE == {"float32": 1e-4, "float16": 1e-2, "bfloat16": 1e-2}


def test_tensor_judge_rejects_shape_nan_and_count_mismatches():
    judge, reference = TASKS["batchnorm_backward"].judge, [np.ones((2, 2), dtype=np.float32)] * 3
    assert "shape" in judge(Trial("t", {}), [np.ones((2, 3))] * 3, reference).error
    assert "NaN" in judge(Trial("t", {}), [np.full((2, 2), np.nan)] * 3, reference).error
    assert "returned 2 value(s), expected 3" in judge(Trial("t", {}), reference[:2], reference).error


@pytest.mark.parametrize("task_id", sorted(TASKS))
def test_trials_are_seeded_and_their_references_are_not_degenerate(task_id):
    task = TASKS[task_id]
    first, second = task.trials(random.Random(3), "torch"), task.trials(random.Random(3), "torch")
    assert [t.test_id for t in first] == [t.test_id for t in second] and len(first) >= 2
    assert repr(first[-1].args)[:200] == repr(second[-1].args)[:200]
    for trial in first:
        out = roundtrip(task.call(task.reference, task.prepare(roundtrip(trial.args), "torch", "cpu")))
        if task.torch and task_id != "train_loop":  # a zero or constant reference lets a cheap output pass
            for array in out if isinstance(out, list) else [out]:
                assert np.ptp(array) > 100 * TOLERANCE[trial.dtype] or array.size == 1, trial.test_id


def test_union_find_operations_hold_chains_in_both_link_directions():
    ops = TASKS["union_find"].timing.inputs(random.Random(0), 64)
    assert len(ops["kinds"]) == len(ops["xs"]) == len(ops["ys"]) == 64
    unions = list(zip(ops["xs"], ops["ys"], strict=True))[:30]
    assert (0, 1) in unions and (17, 16) in unions
    assert all(0 <= x < 64 for x in ops["xs"] + ops["ys"])


def test_the_training_reference_moves_the_parameters():
    task = TASKS["train_loop"]
    trial = task.trials(random.Random(0), "torch")[0]
    model = task.prepare(trial.args, "torch", "cpu")["model"]
    before = [t.clone() for t in model.state_dict().values() if t.is_floating_point()]
    after = task.call(task.reference, task.prepare(trial.args, "torch", "cpu"))
    assert max(float((a - b).abs().max()) for a, b in zip(after, before, strict=True)) > 1e-2


@pytest.mark.parametrize(("power", "expected"), [(1.0, 1.0), (2.0, 2.0), (None, 1.0 + 1 / math.log(4096))])
def test_fit_exponent_recovers_the_power_of_n(power, expected):
    sizes = [1024, 2048, 4096, 8192, 16384]
    seconds = {n: (n**power if power else n * math.log(n)) * 1e-7 for n in sizes}
    assert fit_exponent(seconds) == pytest.approx(expected, abs=0.02)


def test_cuda_event_time_never_exceeds_the_round_trip_the_checker_saw():
    from executors.harness._checker import _device_seconds

    assert _device_seconds({"device_ms": 2.0}, 0.005) == pytest.approx(0.002)
    assert _device_seconds({"device_ms": 9.0}, 0.005) == 0.005  # a forged, longer event time is ignored
    assert _device_seconds({"device_ms": "fast"}, 0.005) == 0.005


def test_requests_and_results_cross_the_pipe_as_typed_records_and_unknown_fields_fail():
    from executors import ExecSettings
    from executors.harness._records import CheckRequest, CheckResult, TrialOutcome

    request = CheckRequest(task_id="topk", entrypoint="kth_largest", code="x = 1", limits=ExecSettings().limits())
    assert CheckRequest.from_wire(roundtrip(request.to_wire())) == request
    outcome = TrialOutcome(test_id="case0", passed=True, device="cpu", error="e" * 900)
    result = CheckResult(correct=True, tests=[outcome])
    back = CheckResult.from_wire(roundtrip(result.to_wire()))
    assert back == result and len(back.tests[0].error) == 500
    with pytest.raises(ValueError, match="unknown field\\(s\\) tsk_id"):
        CheckRequest.from_wire({**request.to_wire(), "tsk_id": "topk"})
    with pytest.raises(ValueError, match="Limits: unknown field\\(s\\) seeds"):
        CheckRequest.from_wire({**request.to_wire(), "limits": {**request.to_wire()["limits"], "seeds": 1}})
