"""Scheduled scoring: a Prefect deployment (via `flow.serve`) that scores new or changed rounds under a folder."""

from __future__ import annotations

import hashlib
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.states import Completed, Failed, State

from executors import ExecSettings
from flows.score_round import JudgeKind, judge_settings_for, round_flow, summary_of
from pipeline.rounds import RoundBusy, RoundShrunk, load_round
from pipeline.settings import ScoreSettings

DEFAULT_CRON = "0 2 * * *"
FINGERPRINT = ".submissions.sha256"


def find_rounds(root: Path) -> list[Path]:
    """Every directory under root (root included) that holds a round.yaml."""
    return sorted(p.parent for p in root.rglob("round.yaml"))


def fingerprint(round_dir: Path) -> str:
    """What the round's result depends on: round.yaml, the rubric and every submission file (name, size, mtime)."""
    rnd = load_round(round_dir)
    digest = hashlib.sha256()
    for path in [round_dir / "round.yaml", rnd.rubric_path, *sorted(rnd.submissions_dir.iterdir())]:
        stat = path.stat()
        digest.update(f"{path.name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


@flow(name="score-new-rounds", log_prints=False)
def score_new_rounds(
    rounds_root: str, out_root: str, judge: JudgeKind = "local"
) -> State:
    """Score each round whose inputs changed since its last scoring; the data is the round ids scored.

    A round left incomplete (the judge unavailable) keeps its old fingerprint, so the next tick scores it
    again, and this run ends Failed "Incomplete"; a round another run is scoring right now is skipped; a round
    that lost submission files since its tables were written is left as it was (RoundShrunk) and the run ends Failed.
    """
    logger = get_run_logger()
    # this run's environment (a worker's), read once here (the serve edge) and handed to every round
    settings, judge_settings, exec_settings = ScoreSettings(), judge_settings_for(judge), ExecSettings()
    score_round = round_flow(settings)
    scored: list[str] = []
    waiting: list[str] = []
    for round_dir in find_rounds(Path(rounds_root)):
        round_id = load_round(round_dir).config.round_id
        out_dir = Path(out_root) / round_id
        marker = out_dir / FINGERPRINT
        current = fingerprint(round_dir)
        if marker.exists() and marker.read_text().strip() == current:
            logger.info("round %s unchanged since its last scoring", round_id)
            continue
        try:
            state = score_round(
                str(round_dir), str(out_dir), settings, judge_settings, exec_settings, return_state=True
            )
            summary = summary_of(state)
        except RoundBusy as error:
            logger.warning("%s", error)
            continue
        except RoundShrunk as error:  # files went missing: an operator decides (--allow-shrink), not a schedule
            logger.error("%s", error)
            waiting.append(str(error))
            continue
        if not summary.complete:
            logger.warning("%s", summary.incomplete_line())
            waiting.append(summary.incomplete_line())
            continue
        out_dir.mkdir(parents=True, exist_ok=True)
        marker.write_text(current)
        scored.append(round_id)
    if waiting:
        return Failed(name="Incomplete", message=" | ".join(waiting), data=scored)
    return Completed(data=scored)


def serve_rounds(
    rounds_root: Path, *, out_root: Path, cron: str | None, judge: JudgeKind, name: str
) -> None:
    """Block, serving the deployment; a round.yaml's own schedule is used when no --cron is given."""
    if cron is None:
        schedules = [load_round(d).config.schedule for d in find_rounds(rounds_root)]
        cron = next((s for s in schedules if s), DEFAULT_CRON)
    score_new_rounds.serve(
        name=name,
        cron=cron,
        parameters={
            "rounds_root": str(rounds_root.resolve()),
            "out_root": str(out_root.resolve()),
            "judge": judge,
        },
        pause_on_shutdown=False,
    )
