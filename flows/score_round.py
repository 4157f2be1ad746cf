"""The scoring flow: rubric → items → judgments and code runs → scores → tables. Orchestration only."""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from prefect import Flow, flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext
from prefect.states import Completed, Failed, State
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import quote

from executors import ExecSettings
from flows.progress import RoundProgress
from flows.sandboxes import RoundSandboxes, round_sandboxes
from pipeline.grading import (
    SubmissionResult,
    cached_execute,
    grade_batch,
    judged_pairs,
    rejected_result,
    round_rows,
)
from pipeline.ingest import DEFAULT_MAX_BYTES, RejectedFile, Submission, split_round
from pipeline.judge import ChatBackend, ItemJudgment, JudgeSettings, embedded_backend, local_server, open_judge
from pipeline.judge._outage import reset_outages
from pipeline.review import STORE_FILE, ReviewStore, RoundView, export, record_round_source
from pipeline.rounds import Round, RoundLock, RoundShrunk, load_round, round_lock
from pipeline.settings import ScoreSettings
from pipeline.store import RoundRows, read_partition, write_partition
from pipeline.summary import RoundSummary, summarize
from rubric_schema import Exam, exam_sha


@task(name="load-round")
def load(round_dir: str) -> Round:
    """Validate round.yaml and the rubric before anything is spent on judging."""
    return load_round(round_dir)


@task(name="ingest")
def ingest(rnd: Round) -> tuple[list[Submission], list[RejectedFile]]:
    """Split every submission file; bad files come back as rejections, not failures."""
    limit = rnd.config.settings.max_submission_bytes or DEFAULT_MAX_BYTES
    return split_round(rnd.submissions_dir, [q.id for q in rnd.exam.questions], max_bytes=limit)


@dataclass(frozen=True)
class RoundResources:
    """What the batch tasks of one round share: opened by the flow for the round, closed when it ends.

    Tasks on threads get the objects themselves; Dask workers are other processes and get what pickles:
    the judge endpoint (configured, or the flow's embedded server's URL), each opening its own judge on it,
    or the name of the worker plugin that holds each worker's own embedded judge (ScoreSettings.dask_judge).
    """

    judge_settings: JudgeSettings
    exec_settings: ExecSettings
    """What code answers run under: the sandboxes' here, each Dask worker's own pool's there."""
    judge_backend: ChatBackend | None = None
    """The embedded server every in-process task judges on; None: each task opens its judge from the settings."""
    sandboxes: RoundSandboxes | None = None
    """The warm sandboxes in-process tasks run code on; None: each Dask worker's process keeps its own."""
    progress: RoundProgress | None = None
    """Where finished batches and live judge counts go (in-process tasks only)."""
    worker_judge: str | None = None
    """The WorkerJudge plugin each Dask worker judges on (flows.dask_judge, dask_judge=per-worker); None: the
    endpoint or backend above."""

    def backend(self) -> ChatBackend | None:
        """The backend this task judges on: the flow's shared one, this worker's own, or None (the task
        opens its judge from the settings).
        """
        if self.worker_judge is None:
            return self.judge_backend
        from flows.dask_judge import worker_backend  # distributed: imported on Dask workers only

        return worker_backend(self.worker_judge)


Judged = dict[tuple[str, str], ItemJudgment]
"""(submission id, question id) → the judge's verdict on that item."""


# NO_CACHE: task results are not persisted, so a cache key would only cost hashing every batch's inputs.
@task(name="judge-round", retries=2, retry_delay_seconds=[2, 15], cache_policy=NO_CACHE)
def judge_round(exam: Exam, submissions: list[Submission], resources: RoundResources, samples: int) -> Judged:
    """Judge every free-text item of the round in one pass, one question after another on each lane.

    Across batches one question's items would meet on the server's slots with other questions' and push
    their rubric prefixes out; in one pass each prefix is evaluated once per lane. A retry costs nothing
    already judged (the judge's cache).
    """
    pairs = judged_pairs(exam, submissions)
    if not pairs:
        return {}
    progress = resources.progress
    with open_judge(resources.judge_settings, backend=resources.judge_backend) as judge:
        with progress.watch(judge.stats) if progress is not None else nullcontext():
            judgments = judge.judge_items(
                pairs, samples=samples,
                on_item=(lambda j: progress.judged((j.submission_id, j.question_id))) if progress is not None else None,
            )
        if judge.prefixes is not None:
            states = judge.prefixes.stats
            log = get_run_logger().warning if states.failed else get_run_logger().info
            log("prefix states: %d restored, %d saved, %d failed to restore (evaluated instead)",
                states.restored, states.saved, states.failed)
    return {(j.submission_id, j.question_id): j for j in judgments}


@task(name="score-batch", retries=2, retry_delay_seconds=[2, 15], cache_policy=NO_CACHE)
def score_batch(
    exam: Exam,
    submissions: list[Submission],
    resources: RoundResources,
    samples: int,
    calibration: str | None,
    settings: ScoreSettings,
    judged: Judged | None = None,
) -> list[SubmissionResult]:
    """Judge (what `judged` lacks), run and score one batch; a retry costs nothing already cached (judge and
    code caches).
    """
    from executors import run_code_task
    from pipeline.calibrate import calibration_for, default_embedder

    calibrator = calibration_for(calibration, exam, default_embedder(settings.cache_dir)) if calibration else None
    run = (
        resources.sandboxes.run
        if resources.sandboxes is not None
        else functools.partial(run_code_task, settings=resources.exec_settings)
    )
    execute = cached_execute(run, settings.cache_dir / "exec")
    progress = resources.progress
    with open_judge(resources.judge_settings, backend=resources.backend()) as judge:
        with progress.watch(judge.stats) if progress is not None else nullcontext():
            results = grade_batch(
                exam,
                submissions,
                judge=judge,
                execute=execute,
                samples=samples,
                calibrator=calibrator,
                judged=judged,
            )
    if progress is not None:
        unscored = sum(1 for r in results for i in r.items if i.raw_points is None and i.kind != "missing")
        progress.advance(len(submissions), sum(len(s.items) for s in submissions) - len(judged or {}), unscored)
    return results


@task(name="write-tables", retries=1, retry_delay_seconds=2)
def write_tables(out_dir: str, round_id: str, rows: RoundRows) -> dict[str, str]:
    """Replace the round's partition of every table (atomic per table, idempotent on re-runs)."""
    return {
        table: str(write_partition(out_dir, table, round_id, table_rows))
        for table, table_rows in rows.items()
    }


def _files(sources: Iterable[str | None], rnd: Round) -> set[str]:
    """Submission files named by source_file values (a JSONL line is `file:line`), each by its path under the
    round's submissions folder: a submission's identity.
    """
    return {_under(Path(re.sub(r":\d+$", "", source)), rnd.submissions_dir) for source in sources if source}


def _under(path: Path, folder: Path) -> str:
    """`path` relative to `folder`; where the round folder has moved since, relative to the last part of
    the path named like `folder`; else the path as written.
    """
    with contextlib.suppress(ValueError):
        return str(path.relative_to(folder))
    parts = path.parts
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == folder.name:
            return str(Path(*parts[i + 1 :]))
    return str(path)


def refuse_shrink(out_dir: str, rnd: Round, found: Iterable[str], *, allow_shrink: bool) -> None:
    """Raise RoundShrunk before anything is judged when a submission file the round's tables hold is not
    found this time (moved away or into a subfolder, which renames its submission, a mount gone): replacing
    the tables would drop its scores and grades. Files are compared by their path under the round's
    submissions folder, so a round folder moved as a whole is the same round. `allow_shrink` lets a smaller
    round through; no file at all never does.
    """
    round_id = rnd.config.round_id
    before = _files(read_partition(out_dir, "submissions", round_id).column("source_file").to_pylist(), rnd)
    now = _files(found, rnd)
    gone = sorted(before - now)
    if not before or now and (allow_shrink or not gone):
        return
    named = ", ".join(gone[:5]) + (f" and {len(gone) - 5} more" if len(gone) > 5 else "")
    if not now:
        raise RoundShrunk(
            f"round {round_id}: no submission files in {rnd.submissions_dir}, and {out_dir} holds "
            f"{len(before)} scored last time; its tables are kept as they are (a round with no files never "
            "replaces them: to drop the round, remove its output folder)"
        )
    raise RoundShrunk(
        f"round {round_id}: {len(gone)} of the {len(before)} submission file(s) scored last time are not in "
        f"{rnd.submissions_dir} now (gone: {named}); the tables in {out_dir} are kept as they are: put the "
        "files back, or pass --allow-shrink to replace them without those submissions"
    )


# NO_CACHE: `held` (the round lock) is no input to hash.
@task(name="reapply-reviews", retries=1, retry_delay_seconds=2, cache_policy=NO_CACHE)
def reapply_reviews(out_dir: str, round_dir: str, round_id: str, held: RoundLock | None = None) -> None:
    """A re-scored round keeps what its reviewers decided: the review log rewrites human_reviews and the
    final points of the tables just written (a grade of an answer that changed is kept but marked stale).
    The flow hands it its round lock (`held`), which the export would otherwise wait for; without one the
    export takes the lock itself.
    """
    log = Path(out_dir) / STORE_FILE
    if log.is_file():
        export(RoundView(out_dir, round_dir, round_id=round_id), ReviewStore(log), held=held)


JudgeKind = Literal["local", "openai", "langchain"]
"""local: the embedded model; openai: GRADEFLOW_JUDGE_BASE_URL; langchain: GRADEFLOW_JUDGE_PROVIDER through
LangChain's chat models (unset: the embedded model through LangChain)."""


def judge_settings_for(judge: JudgeKind) -> JudgeSettings:
    """The judge settings a round runs with: the environment's, narrowed to the kind of judge asked for.

    Read at the edge (run_round, score-new-rounds) and handed to the flow.
    """
    if judge == "openai":
        settings = JudgeSettings(provider=None)
        if not settings.base_url:
            raise ValueError("--judge openai needs GRADEFLOW_JUDGE_BASE_URL (and an API key) in the environment")
        return settings
    if judge == "langchain":
        configured = JudgeSettings()
        if configured.provider:
            return configured
        return configured.model_copy(update={"provider": "local", "base_url": None})
    return JudgeSettings(base_url=None, provider=None)


@contextmanager
def open_round_resources(
    settings: JudgeSettings,
    progress: RoundProgress,
    *,
    exec_settings: ExecSettings,
    in_process: bool,
    per_worker: Any | None = None,
) -> Iterator[RoundResources]:
    """The round's shared resources: the judge endpoint (configured, or the embedded server), the
    sandboxes (on `exec_settings`) and the progress; closed when the block ends.

    With threads, the embedded server is shared by the tasks and started on the first cache miss (a fully
    cached re-run never loads the model), and so are the sandboxes. Dask workers are other processes: they
    get the server's URL, so it is started here, before them. `per_worker` (the round's Dask client, with
    dask_judge=per-worker): no server here; each worker opens its own embedded judge on its first batch,
    closed when the block ends. A configured endpoint serves every worker either way.
    """
    if per_worker is not None and not in_process and _embedded(settings):
        from flows.dask_judge import worker_judges

        with worker_judges(per_worker, settings) as name:
            yield RoundResources(settings, exec_settings, worker_judge=name)
        return
    with _judge_endpoint(settings, in_process) as (endpoint, backend):
        if not in_process:
            yield RoundResources(endpoint, exec_settings)
            return
        with round_sandboxes(exec_settings) as sandboxes:
            yield RoundResources(
                endpoint, exec_settings, judge_backend=backend, sandboxes=sandboxes, progress=progress
            )


@contextmanager
def _judge_endpoint(settings: JudgeSettings, in_process: bool) -> Iterator[tuple[JudgeSettings, ChatBackend | None]]:
    """The settings each task opens its judge with, and the embedded server they share (threads only)."""
    if not _embedded(settings):
        yield settings, None
    elif in_process:
        with embedded_backend(settings) as backend:
            yield settings, backend
    else:
        with local_server(settings) as server:
            update = {"base_url": server.base_url, "model": server.model, "timeout_s": settings.local_timeout_s}
            yield settings.model_copy(update=update), None


def _embedded(settings: JudgeSettings) -> bool:
    """Whether the round judges on the embedded model (no endpoint, no LangChain provider of its own)."""
    return not (settings.base_url or (settings.provider and settings.provider != "local"))


def _as_is(value: Any) -> Any:
    return value


def _of_batch(judged: Judged, batch: list[Submission]) -> Judged:
    ids = {s.submission_id for s in batch}
    return {key: judgment for key, judgment in judged.items() if key[0] in ids}


def task_runner(settings: ScoreSettings) -> Any:
    """Threads on this machine by default; Dask (a local cluster or GRADEFLOW_DASK_ADDRESS) to scale out,
    its workers judging on one shared endpoint or each on its own embedded judge (`dask_judge`).
    """
    if settings.task_runner == "dask":
        from prefect_dask import DaskTaskRunner

        if settings.dask_address:
            return DaskTaskRunner(address=settings.dask_address)
        return DaskTaskRunner(cluster_kwargs={"n_workers": settings.workers, "threads_per_worker": 1})
    return ThreadPoolTaskRunner(max_workers=settings.workers)


def outcome(summary: RoundSummary) -> State:
    """The flow run's final state: Completed, or Failed named "Incomplete" with the summary's one line
    when items wait for the judge (the CLI exits with EXIT_INCOMPLETE; the summary is the state's data).
    """
    if summary.complete:
        return Completed(data=summary)
    return Failed(name="Incomplete", message=summary.incomplete_line(), data=summary)


@flow(name="score-round", log_prints=False, validate_parameters=False)
def score_round(
    round_dir: str,
    out_dir: str,
    settings: ScoreSettings,
    judge_settings: JudgeSettings,
    exec_settings: ExecSettings,
    calibration: str | None = None,
    samples: int | None = None,
    progress: RoundProgress | None = None,
    allow_shrink: bool = False,
) -> State:
    """Score every submission of a round directory and write its tables under out_dir.

    Run it through `round_flow(settings)`, which puts it on the task runner the settings ask for; the
    settings come from the caller (the flow never reads the environment's GRADEFLOW_* itself).
    The final state carries the RoundSummary: Completed, or Failed "Incomplete" when the judge was
    unavailable and items wait for the next run. A second run of the same round into the same folder
    meanwhile fails at once with RoundBusy (pipeline.rounds.round_lock); a run that finds fewer submission
    files than the tables hold fails with RoundShrunk before judging, unless `allow_shrink` (refuse_shrink).
    """
    rnd = load(round_dir)
    with round_lock(out_dir, rnd.config.round_id) as held:
        summary = _score_locked(
            rnd, out_dir, judge_settings, exec_settings, calibration, samples, settings,
            progress or RoundProgress(), allow_shrink=allow_shrink,
        )
        record_round_source(out_dir, round_dir, rnd.config.round_id)  # review and explain need no --round-dir
        reapply_reviews(out_dir, round_dir, rnd.config.round_id, held)
        return outcome(summary)


def round_flow(settings: ScoreSettings) -> Flow[..., State]:
    """score_round on the task runner the settings ask for (threads: `settings.workers` batches at once)."""
    return score_round.with_options(task_runner=task_runner(settings))


def _score_locked(
    rnd: Round,
    out_dir: str,
    judge_settings: JudgeSettings,
    exec_settings: ExecSettings,
    calibration: str | None,
    samples: int | None,
    settings: ScoreSettings,
    progress: RoundProgress,
    *,
    allow_shrink: bool,
) -> RoundSummary:
    logger = get_run_logger()
    reset_outages()
    submissions, rejected = ingest(rnd)
    refuse_shrink(out_dir, rnd, [s.source_file for s in submissions] + [r.source_file for r in rejected],
                  allow_shrink=allow_shrink)
    progress.start(len(submissions), sum(len(s.items) for s in submissions))
    logger.info(
        "round %s: %d submissions, %d rejected files", rnd.config.round_id, len(submissions), len(rejected)
    )
    samples = samples or rnd.config.settings.samples or settings.samples
    batch_size = rnd.config.settings.batch_size or settings.batch_size
    batches = [submissions[i : i + batch_size] for i in range(0, len(submissions), batch_size)]
    context = FlowRunContext.get()
    in_process = context is not None and isinstance(context.task_runner, ThreadPoolTaskRunner)
    # quote(): Prefect walks every task argument for futures to resolve; through an exam, a batch of
    # submissions and a round's table rows that walk is a large share of the flow's CPU (docs/BENCHMARKS.md,
    # "Orchestration overhead"). Prefect's Dask runner hands a quoted argument to the task still wrapped,
    # so batches sent to Dask go as they are.
    large = quote if in_process else _as_is
    # dask_judge=per-worker: the round's Dask client, to attach a judge of its own to each worker.
    per_worker = None
    if context is not None and not in_process and settings.dask_judge == "per-worker":
        per_worker = context.task_runner.client
    with open_round_resources(
        judge_settings, progress, exec_settings=exec_settings, in_process=in_process, per_worker=per_worker
    ) as resources:
        # In one process the round is judged in one pass first (one question after another on each server
        # slot); Dask workers judge their own batches, on the shared endpoint or each on its own judge.
        judged = judge_round(quote(rnd.exam), quote(submissions), quote(resources), samples) if in_process else {}
        futures = [
            score_batch.submit(
                large(rnd.exam), large(batch), large(resources), samples, calibration, settings,
                large(_of_batch(judged, batch)),
            )
            for batch in batches
        ]
        results = [result for future in futures for result in future.result()]
    results += [rejected_result(rnd.exam, r) for r in rejected]
    rows = round_rows(rnd.config.round_id, exam_sha(rnd.exam), results, submissions)
    write_tables(out_dir, rnd.config.round_id, quote(rows))
    reasons = [reason for result in results for reason in result.reasons]
    return summarize(rnd.exam, rnd.config.round_id, rows, out_dir=Path(out_dir), reasons=reasons)


def run_round(
    round_dir: str | Path,
    out_dir: str | Path,
    *,
    judge: JudgeKind = "local",
    calibration: str | None = None,
    samples: int | None = None,
    settings: ScoreSettings | None = None,
    exec_settings: ExecSettings | None = None,
    progress: RoundProgress | None = None,
    allow_shrink: bool = False,
) -> RoundSummary:
    """Run the flow with the caller's settings (else the environment's, read here once: the edge) on the
    task runner they ask for; the summary says whether the round is complete. `progress` receives the
    round's progress; `allow_shrink` lets a run with fewer submission files than last time replace the tables.
    """
    settings = settings or ScoreSettings()
    state = round_flow(settings)(
        str(round_dir), str(out_dir), settings, judge_settings_for(judge), exec_settings or ExecSettings(),
        calibration=calibration, samples=samples, progress=progress, allow_shrink=allow_shrink, return_state=True,
    )  # fmt: skip
    return summary_of(state)


def summary_of(state: State) -> RoundSummary:
    """The RoundSummary a score-round run ended with, complete or not; its exception if it crashed."""
    result = state.result(raise_on_failure=False)
    if isinstance(result, BaseException):
        raise result
    if not isinstance(result, RoundSummary):
        raise RuntimeError(f"score-round ended {state.name} without a summary: {state.message}")
    return result
