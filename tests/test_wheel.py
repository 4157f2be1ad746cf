"""The built wheel carries what the code reads at run time: installed outside the checkout, every prompt
template renders and the review station finds its templates and scripts.

Built from a copy of the sources with the project's own build backend (no network:
`--no-build-isolation` uses the .venv's setuptools), installed with `--no-deps` into a fresh venv whose
only other path is the .venv's site-packages (for the dependencies; the checkout's editable finder is not
loaded from there).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

_CHECK = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    import pipeline
    from pipeline.judge import PROMPTS_DIR, judged_criteria
    from pipeline.judge._prompts import build_prompt
    from pipeline.review import _app
    from rubric_schema import load_exam

    venv = Path(sys.argv[1]).resolve()
    assert Path(pipeline.__file__).resolve().is_relative_to(venv), pipeline.__file__
    assert PROMPTS_DIR.resolve().is_relative_to(venv), PROMPTS_DIR
    shipped = sorted(p.name for p in PROMPTS_DIR.glob("*.md"))
    print("templates", len(shipped))
    station = Path(_app.__file__).parent
    assert list((station / "templates").glob("*.html")) and list((station / "static").glob("*.js"))
    rendered = 0
    for rubric in sys.argv[2:]:
        for question in load_exam(rubric).questions:
            criteria = judged_criteria(question)
            if not criteria:
                continue
            first = criteria[0]
            extra = {"criterion_id": first.id, "criterion_title": first.title, "max_count": "3",
                     "key_point": "a statement", "key_point_number": "1", "key_points": "2"}
            for ask in ("distribution_grade", "distribution_count", "distribution_key_point"):
                for before in (False, True):
                    build_prompt(question, [(c, None) for c in criteria], mode="distribution", schema=["0", "1"],
                                 ask=ask, ask_before_answer=before, extra=extra)
                    rendered += 1
            for mode in ("criterion", "item"):
                build_prompt(question, [(c, None) for c in criteria], mode=mode, schema={"type": "object"})
                rendered += 1
    print("rendered", rendered)
    """
)


@pytest.mark.e2e
def test_the_wheel_installed_outside_the_checkout_renders_every_prompt(tmp_path: Path) -> None:
    # A copy of the sources: an in-place build would reuse the checkout's build/ (stale files) and race others.
    source = tmp_path / "source"
    skipped = shutil.ignore_patterns(".git", ".venv", "build", "out", "*.egg-info", "__pycache__")
    shutil.copytree(ROOT, source, ignore=skipped)
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels),
         str(source)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = wheels.glob("gradeflow-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip())  # fmt: skip
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-2000:]
    (site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    rubrics = [ROOT / "eval_sets" / name / "rubric.yaml" for name in ("ai-engineer-mid", "mohler-cs-2011")]
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    check = subprocess.run(
        [str(python), "-I", "-c", _CHECK, str(venv), *map(str, rubrics)],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300,
    )  # fmt: skip
    assert check.returncode == 0, check.stdout[-2000:] + check.stderr[-4000:]
    shipped = {p.name for p in (ROOT / "pipeline" / "judge" / "prompts").glob("*.md")}
    assert f"templates {len(shipped)}" in check.stdout
    assert "rendered 0" not in check.stdout
