"""The scoring flow: rubric → items → judgments and code runs → scores → tables. Orchestration only."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from prefect import flow, get_run_logger, task
from prefect.context import FlowRunContext
from prefect.states import Completed, Failed, State
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import quote

from flows import progress
from pipeline.grading import SubmissionResult, cached_execute, grade_batch, rejected_result, round_rows
from pipeline.ingest import DEFAULT_MAX_BYTES, RejectedFile, Submission, split_round
from pipeline.judge import JudgeSettings, local_server, open_judge, shared_local_judge
from pipeline.judge._outage import PatientChat, patience_for, reset_outages
from pipeline.review import STORE_FILE, ReviewStore, RoundView, export
from pipeline.rounds import Round, load_round, round_lock
from pipeline.settings import ScoreSettings
from pipeline.store import write_partition
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


@task(name="score-batch", retries=2, retry_delay_seconds=[2, 15])
def score_batch(
    exam: Exam,
    submissions: list[Submission],
    judge_settings: JudgeSettings,
    samples: int,
    calibration: str | None,
    settings: ScoreSettings,
) -> list[SubmissionResult]:
    """Judge, run and score one batch; a retry costs nothing already cached (judge and code caches)."""
    from executors import run_code_task
    from pipeline.calibrate import load_calibration

    calibrator = load_calibration(calibration) if calibration else None
    execute = cached_execute(run_code_task, settings.cache_dir / "exec")
    with open_judge(judge_settings) as judge, progress.watch(judge.stats):
        if judge_settings.base_url:  # the embedded server's own calls are supervised inside LocalChat
            patience = patience_for(judge_settings.base_url, judge_settings.outage_budget_s)
            judge.backend = PatientChat(judge.backend, patience)
        results = grade_batch(
            exam,
            submissions,
            judge=judge,
            execute=execute,
            samples=samples,
            calibrator=calibrator,
        )
    unscored = sum(1 for r in results for i in r.items if i["raw_points"] is None and i["kind"] != "missing")
    progress.advance(len(submissions), sum(len(s.items) for s in submissions), unscored)
    return results


@task(name="write-tables", retries=1, retry_delay_seconds=2)
def write_tables(out_dir: str, round_id: str, rows: dict[str, list[dict[str, Any]]]) -> dict[str, str]:
    """Replace the round's partition of every table (atomic per table, idempotent on re-runs)."""
    return {
        table: str(write_partition(out_dir, table, round_id, table_rows))
        for table, table_rows in rows.items()
    }


@task(name="reapply-reviews", retries=1, retry_delay_seconds=2)
def reapply_reviews(out_dir: str, round_dir: str, round_id: str) -> None:
    """A re-scored round keeps what its reviewers decided: the review log rewrites human_reviews and the
    final points of the tables just written (a grade of an answer that changed is kept but marked stale).
    """
    log = Path(out_dir) / STORE_FILE
    if log.is_file():
        export(RoundView(out_dir, round_dir, round_id=round_id), ReviewStore(log))


JudgeKind = Literal["local", "openai", "langchain"]
"""local: the embedded model; openai: GRADEFLOW_JUDGE_BASE_URL; langchain: GRADEFLOW_JUDGE_PROVIDER through
LangChain's chat models (unset: the embedded model through LangChain)."""


def judge_settings_for(judge: JudgeKind) -> JudgeSettings:
    """The judge settings a round runs with: the environment's, narrowed to the kind of judge asked for."""
    if judge == "openai":
        return JudgeSettings(provider=None)
    if judge == "langchain":
        configured = JudgeSettings()
        if configured.provider:
            return configured
        return configured.model_copy(update={"provider": "local", "base_url": None})
    return JudgeSettings(base_url=None, provider=None)


@contextmanager
def judge_endpoint(settings: JudgeSettings, in_process: bool) -> Iterator[JudgeSettings]:
    """Settings every batch task can open a judge with: the configured endpoint, or the embedded server.

    With threads, the embedded server is shared by the tasks and started on the first cache miss (a fully
    cached re-run never loads the model). Dask workers are other processes: they get the server's URL,
    so it is started here, before them.
    """
    if settings.base_url or (settings.provider and settings.provider != "local"):
        yield settings
    elif in_process:
        with shared_local_judge(settings):
            yield settings
    else:
        with local_server(settings) as server:
            update = {"base_url": server.base_url, "model": server.model, "timeout_s": settings.local_timeout_s}
            yield settings.model_copy(update=update)


def _as_is(value: Any) -> Any:
    return value


def task_runner(settings: ScoreSettings) -> Any:
    """Threads on this machine by default; Dask (a local cluster or GRADEFLOW_DASK_ADDRESS) to scale out."""
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


@flow(
    name="score-round",
    log_prints=False,
    validate_parameters=False,
    task_runner=ThreadPoolTaskRunner(max_workers=4),
)
def score_round(
    round_dir: str,
    out_dir: str,
    judge: JudgeKind = "local",
    calibration: str | None = None,
    samples: int | None = None,
) -> State:
    """Score every submission of a round directory and write its tables under out_dir.

    The final state carries the RoundSummary: Completed, or Failed "Incomplete" when the judge was
    unavailable and items wait for the next run. A second run of the same round into the same folder
    meanwhile fails at once with RoundBusy (pipeline.rounds.round_lock).
    """
    rnd = load(round_dir)
    with round_lock(out_dir, rnd.config.round_id):
        summary = _score_locked(rnd, out_dir, judge, calibration, samples)
        reapply_reviews(out_dir, round_dir, rnd.config.round_id)
        return outcome(summary)


def _score_locked(
    rnd: Round, out_dir: str, judge: JudgeKind, calibration: str | None, samples: int | None
) -> RoundSummary:
    logger = get_run_logger()
    settings = ScoreSettings()
    reset_outages()
    submissions, rejected = ingest(rnd)
    progress.start(len(submissions), sum(len(s.items) for s in submissions))
    logger.info(
        "round %s: %d submissions, %d rejected files", rnd.config.round_id, len(submissions), len(rejected)
    )
    samples = samples or rnd.config.settings.samples or settings.samples
    batch_size = rnd.config.settings.batch_size or settings.batch_size
    judge_settings = judge_settings_for(judge)
    if judge == "openai" and not judge_settings.base_url:
        raise ValueError("--judge openai needs GRADEFLOW_JUDGE_BASE_URL (and an API key) in the environment")
    batches = [submissions[i : i + batch_size] for i in range(0, len(submissions), batch_size)]
    context = FlowRunContext.get()
    in_process = context is not None and isinstance(context.task_runner, ThreadPoolTaskRunner)
    # quote(): Prefect walks every task argument for futures to resolve; through an exam, a batch of
    # submissions and ~100k table rows that walk cost a fifth of the flow's CPU. Prefect's Dask runner
    # hands a quoted argument to the task still wrapped, so batches sent to Dask go as they are.
    large = quote if in_process else _as_is
    with judge_endpoint(judge_settings, in_process) as endpoint:
        futures = [
            score_batch.submit(large(rnd.exam), large(batch), endpoint, samples, calibration, settings)
            for batch in batches
        ]
        results = [result for future in futures for result in future.result()]
    results += [rejected_result(rnd.exam, r) for r in rejected]
    rows = round_rows(rnd.config.round_id, exam_sha(rnd.exam), results)
    write_tables(out_dir, rnd.config.round_id, quote(rows))
    return summarize(rnd.exam, rnd.config.round_id, rows, out_dir=Path(out_dir))


def run_round(
    round_dir: str | Path,
    out_dir: str | Path,
    *,
    judge: JudgeKind = "local",
    calibration: str | None = None,
    samples: int | None = None,
    settings: ScoreSettings | None = None,
) -> RoundSummary:
    """Run the flow with the task runner the settings ask for; the summary says whether it is complete."""
    settings = settings or ScoreSettings()
    configured = score_round.with_options(task_runner=task_runner(settings))
    state = configured(
        str(round_dir), str(out_dir), judge=judge, calibration=calibration, samples=samples, return_state=True
    )
    return summary_of(state)


def summary_of(state: State) -> RoundSummary:
    """The RoundSummary a score-round run ended with, complete or not; its exception if it crashed."""
    result = state.result(raise_on_failure=False)
    if isinstance(result, BaseException):
        raise result
    if not isinstance(result, RoundSummary):
        raise RuntimeError(f"score-round ended {state.name} without a summary: {state.message}")
    return result
