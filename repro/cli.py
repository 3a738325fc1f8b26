"""The `repro` command: one subcommand per pipeline stage, and `all` for the whole paper.

    train (+ toy) → evaluate → figures → pdf (render + latexmk)
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn,
                           TextColumn, TimeElapsedColumn, TimeRemainingColumn)
from rich.text import Text

from . import config as cfg
from .config import ROOT, ConfigError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Reproduce 'AC-GAN Learns a Biased Distribution': train, measure, "
                       "draw, write.")
console = Console(stderr=True, width=None if sys.stderr.isatty() else 120)

ProfileOpt = Annotated[str, typer.Option("--profile", "-p", envvar="PROFILE",
                                         help="smoke | quick | paper | auto (paper on CUDA, "
                                              "else quick)")]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto | cpu | cuda")]
ArtifactsOpt = Annotated[Optional[Path], typer.Option(
    "--artifacts", envvar="REPRO_ARTIFACTS", help="artifacts folder [default: ./artifacts]")]
MirrorOpt = Annotated[Optional[str], typer.Option(
    "--mirror", envvar="REPRO_MNIST_MIRROR", help="folder with the four MNIST IDX files")]
JobsOpt = Annotated[int, typer.Option(
    "--jobs", "-j", help="training processes [default: one per core on CPU, 1 on GPU]")]
DataOpt = Annotated[Optional[Path], typer.Option(
    "--data-dir", envvar="REPRO_DATA_DIR", help="where MNIST is kept [default: ./data]")]


class StepsPerSecond(ProgressColumn):
    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:6.1f} steps/s" if speed else "   ... steps/s", style="cyan")


def progress_bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    StepsPerSecond(), TimeElapsedColumn(), TextColumn("ETA"),
                    TimeRemainingColumn(), console=console)


def resolve_profile(profile: str, quiet: bool = False) -> str:
    if profile == "auto":
        import torch
        profile = "paper" if torch.cuda.is_available() else "quick"
        if not quiet:
            console.print(f"profile: [bold]{profile}[/] "
                          f"({'CUDA available' if profile == 'paper' else 'no CUDA device'}; "
                          f"PROFILE= overrides)")
    return cfg.check_profile(profile)


_LOCKS = []


def lock_profile_dir(pdir: Path) -> None:
    """One writer per artifacts folder: a second `make all` stops at once, clearly."""
    import fcntl
    pdir.mkdir(parents=True, exist_ok=True)
    f = open(pdir / ".lock", "a+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        holder = f.read().strip() or "?"
        raise ConfigError(f"another repro command (pid {holder}) is writing {pdir}: "
                          f"wait for it to finish") from None
    f.seek(0), f.truncate(), f.write(str(os.getpid())), f.flush()
    _LOCKS.append(f)          # held until this process exits
    # no other writer runs now: any temporary file is the half-written leftover of a kill
    for stale in pdir.rglob(".*.tmp"):
        stale.unlink()


def setup(profile: str, device: str, artifacts: Optional[Path], mirror=None, data_dir=None,
          quiet=False, write=True):
    """Resolve the profile, the device and the folders; print what was chosen.

    Commands that write artifacts (`write`) take the artifacts folder's lock."""
    from .util import pick_device
    if mirror:
        os.environ["REPRO_MNIST_MIRROR"] = str(mirror)
    if data_dir:
        os.environ["REPRO_DATA_DIR"] = str(data_dir)
    profile = resolve_profile(profile, quiet)
    dev = pick_device(device)
    if not quiet:
        console.print(f"device: [bold]{dev}[/]")
    root = Path(artifacts) if artifacts else ROOT / "artifacts"
    if write:
        lock_profile_dir(root / profile)
    return profile, dev, root / profile


def _fail(message: str, code: int = 2):
    console.print(f"[red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def guarded(fn):
    """Turn our known errors into a one-line message and exit code 2."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from .data import DataError
        from .render import RenderError
        try:
            return fn(*args, **kwargs)
        except (ConfigError, DataError, RenderError) as e:
            _fail(str(e))
    return wrapper


# --- stages ---------------------------------------------------------------------------
# On the CPU every run trains on one thread, however many runs train at once: the thread
# count changes the order of floating-point sums, so a run resumed or retrained alone must
# use the same count as the sweep it came from to end with the same weights.
CPU_TRAINING_THREADS = 1


def check_train_args(profile, only, shard, jobs) -> list:
    """The runs `repro train` would consider; bad options fail here, before any write."""
    if jobs < 0:
        raise ConfigError(f"--jobs must be ≥ 0 (0: one per core), got {jobs}")
    return cfg.shard(cfg.select_runs(profile, only), shard)


def do_train(profile, dev, pdir, only=None, force=False, jobs=0, shard=None) -> list[str]:
    """Train every (selected) run that is not trained yet; return the ids that failed.

    On the CPU, runs go to `jobs` worker processes (default: one per core), each run on
    one thread (CPU_TRAINING_THREADS): small GANs use two single-threaded processes better
    than one with two threads, and the thread count must not depend on how many run.
    """
    import torch
    from .data import prepare_mnist
    from .train import discard_checkpoint, is_trained, read_checkpoint
    selected = check_train_args(profile, only, shard, jobs)
    prepare_mnist()
    todo = [r for r in selected if force or not is_trained(pdir, r)]
    resumed = []
    for r in todo:          # every checkpoint is checked before anything is trained
        if force:
            discard_checkpoint(r, pdir)
        elif (state := read_checkpoint(r, pdir, torch.device("cpu"))) is not None:
            resumed.append(f"{r.id} at step {state['step']}")
    console.print(f"train: {len(todo)} run(s) to train, {len(selected) - len(todo)} "
                  f"already trained")
    for line in resumed:
        console.print(f"resuming {line}")
    if not todo:
        return []
    jobs = jobs or (min(len(todo), os.cpu_count() or 1) if dev.type == "cpu" else 1)
    failed = []
    with progress_bar() as bar:
        tasks = {r.id: bar.add_task(r.id, total=r.settings["steps"]) for r in todo}

        def finished(run_id, error, steps_per_s):
            if error:
                console.print(f"[red]failed:[/] {error}")
                failed.append(run_id)
            else:
                bar.update(tasks[run_id], description=f"{run_id} ({steps_per_s:.0f} steps/s)")
        if jobs == 1:
            from .train import train_guarded
            threads = torch.get_num_threads()
            if dev.type == "cpu":
                torch.set_num_threads(CPU_TRAINING_THREADS)
            try:
                for run in todo:
                    finished(*train_guarded(run, pdir, dev, lambda s, t=tasks[run.id]:
                                            bar.update(t, completed=s)))
            finally:
                torch.set_num_threads(threads)
        else:
            _train_parallel(todo, pdir, dev, jobs, bar, tasks, finished)
    return failed


def _train_parallel(todo, pdir, dev, jobs, bar, tasks, finished):
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from .train import train_in_worker
    ctx = multiprocessing.get_context("spawn")
    threads = CPU_TRAINING_THREADS if dev.type == "cpu" else max(1, (os.cpu_count() or 1) // jobs)
    with ctx.Manager() as manager:
        queue = manager.Queue()
        with ProcessPoolExecutor(jobs, mp_context=ctx) as pool:
            pending = {pool.submit(train_in_worker, run, str(pdir), str(dev), threads, queue)
                       for run in todo}
            while pending:
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                while not queue.empty():
                    run_id, step = queue.get()
                    bar.update(tasks[run_id], completed=step)
                for future in done:
                    finished(*future.result())


def toy_is_current(profile, pdir) -> bool:
    """The toy's results are there, made with this profile's settings and code."""
    from .toy import toy_key
    from .util import read_json
    out = pdir / "toy"
    return (out / "toy.json").exists() and (out / "toy_samples.npz").exists() and \
        read_json(out / "toy.json").get("key") == toy_key(profile)


def do_toy(profile, pdir) -> None:
    """The 1-D toy with exact densities: seconds per model on one CPU thread, cached."""
    from .toy import run_toy
    if toy_is_current(profile, pdir):
        console.print("toy: already trained")
        return
    start = time.time()
    run_toy(profile, pdir / "toy")
    console.print(f"toy: trained and measured in {time.time() - start:.0f} s → "
                  f"{pdir / 'toy' / 'toy.json'}")


def do_evaluate(profile, dev, pdir) -> None:
    from .data import prepare_mnist
    from .evaluate import evaluate_run, is_evaluated, load_classifier, real_reference
    from .train import is_trained
    from .util import provenance, read_json
    from .values import summarize, write_values
    prepare_mnist()
    missing = [r.id for r in cfg.runs(profile) if not is_trained(pdir, r)]
    if missing:
        raise ConfigError(f"{len(missing)} run(s) not trained (first: {missing[0]}): "
                          f"run `repro train --profile {profile}`")
    if not toy_is_current(profile, pdir):
        raise ConfigError(f"the toy of profile {profile!r} is not trained: "
                          f"run `repro toy --profile {profile}`")
    with progress_bar() as bar:
        def factory(desc, total):
            task = bar.add_task(desc, total=total)
            return lambda s: bar.update(task, completed=s)
        evaluator, ev_metrics = load_classifier(profile, pdir, "evaluator", dev, factory)
        ab, ab_metrics = load_classifier(profile, pdir, "ab", dev, factory)
        task = bar.add_task("sampling and measuring runs", total=len(cfg.runs(profile)))
        keys = [ev_metrics["trained"], ab_metrics["trained"]]
        for run in cfg.runs(profile):
            if not is_evaluated(run, pdir, keys):
                evaluate_run(run, pdir, dev, evaluator, ab, keys)
            bar.advance(task)
    reference = real_reference(evaluator, ab, ev_metrics, dev, pdir)
    timing = {
        "train": sum(read_json(pdir / "runs" / r.id / "train.json")["wall_s"]
                     for r in cfg.runs(profile)),
        "classifiers": ev_metrics["wall_s"] + ab_metrics["wall_s"],
        "evaluate": sum(read_json(pdir / "runs" / r.id / "metrics.json")["wall_s"]
                        for r in cfg.runs(profile)),
    }
    prov = provenance(dev)
    prov["seeds"] = ",".join(str(s) for s in sorted({r.seed for r in cfg.runs(profile)}))
    toy = read_json(pdir / "toy" / "toy.json")
    values = write_values(pdir, summarize(profile, pdir, reference, timing), prov, toy)
    console.print(f"evaluate: {len(values)} values → {pdir / 'values.json'}")


def do_figures(pdir, names=None) -> None:
    from .figures import FIGURES, make_figure
    for name in names or FIGURES:
        out = make_figure(pdir, name)
        console.print(f"figure {name} → {out}")


def do_pdf(profile, pdir, documents=("paper", "poster")) -> None:
    """Render and compile each document in a fresh folder, which then becomes
    build/<profile>/<doc>: a LaTeX run orphaned by a killed command (latexmk outlives a
    SIGKILLed parent) can never write into the folder of the next one."""
    import shutil
    import tempfile
    from .render import check_tex, compile_pdf, render
    check_tex()                # before anything is rendered
    for doc in documents:
        final = ROOT / "build" / profile / doc
        final.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{doc}.", dir=final.parent))
        os.chmod(work, 0o755)
        pdf = compile_pdf(render(doc, pdir, work), pdir / f"{doc}.pdf")
        shutil.rmtree(final, ignore_errors=True)
        os.replace(work, final)    # on a failure `work` stays, with the log the error names
        console.print(f"{doc} → {pdf}")


# --- commands -------------------------------------------------------------------------
@app.command("train")
@guarded
def train_cmd(profile: ProfileOpt = "auto", device: DeviceOpt = "auto",
              artifacts: ArtifactsOpt = None, mirror: MirrorOpt = None, data_dir: DataOpt = None,
              only: Annotated[Optional[str], typer.Option(
                  help="train only runs whose id starts with this, e.g. overlap/acgan")] = None,
              force: Annotated[bool, typer.Option(
                  help="retrain from scratch even if trained or checkpointed")] = False,
              shard: Annotated[Optional[str], typer.Option(
                  help="K/N: train only every N-th selected run, from the K-th (several "
                       "machines on one shared artifacts folder)")] = None,
              jobs: JobsOpt = 0):
    """Train the GAN runs of a profile (finished runs with unchanged config are kept,
    interrupted ones resume from their checkpoint)."""
    check_train_args(resolve_profile(profile, quiet=True), only, shard, jobs)
    profile, dev, pdir = setup(profile, device, artifacts, mirror, data_dir)
    failed = do_train(profile, dev, pdir, only, force, jobs, shard)
    if failed:
        _fail(f"{len(failed)} run(s) failed: {', '.join(failed)}", 1)


@app.command("toy")
@guarded
def toy_cmd(profile: ProfileOpt = "auto", artifacts: ArtifactsOpt = None):
    """Train and measure the 1-D three-Gaussian toy (exact densities; CPU, seconds)."""
    profile, _, pdir = setup(profile, "cpu", artifacts)
    do_toy(profile, pdir)


@app.command("evaluate")
@guarded
def evaluate_cmd(profile: ProfileOpt = "auto", device: DeviceOpt = "auto",
                 artifacts: ArtifactsOpt = None, mirror: MirrorOpt = None,
                 data_dir: DataOpt = None):
    """Train (or reuse) the evaluators, measure every run, write summary.json and values.json."""
    profile, dev, pdir = setup(profile, device, artifacts, mirror, data_dir)
    do_evaluate(profile, dev, pdir)


@app.command("figures")
@guarded
def figures_cmd(profile: ProfileOpt = "auto", artifacts: ArtifactsOpt = None):
    """Draw every figure from cached metrics (no training)."""
    _, _, pdir = setup(profile, "cpu", artifacts, quiet=True)
    do_figures(pdir)


@app.command("figure")
@guarded
def figure_cmd(name: Annotated[Optional[str], typer.Argument(help="figure name")] = None,
               list_: Annotated[bool, typer.Option("--list", help="list the figures")] = False,
               profile: ProfileOpt = "auto", artifacts: ArtifactsOpt = None):
    """Rebuild one figure from cached metrics, in seconds."""
    from .figures import FIGURES
    if list_ or name is None:
        for n, fn in FIGURES.items():
            typer.echo(f"{n:24s} {(fn.__doc__ or '').strip().splitlines()[0]}")
        return
    _, _, pdir = setup(profile, "cpu", artifacts, quiet=True)
    do_figures(pdir, [name])


@app.command("render")
@guarded
def render_cmd(document: Annotated[str, typer.Argument(help="paper | poster | all")] = "all",
               profile: ProfileOpt = "auto", artifacts: ArtifactsOpt = None):
    """Render the LaTeX sources from values.json and the figures (Jinja, strict)."""
    from .render import render
    documents = _documents(document)
    profile, _, pdir = setup(profile, "cpu", artifacts, quiet=True)
    for doc in documents:
        console.print(f"{doc} → {render(doc, pdir, ROOT / 'build' / profile / doc)}")


@app.command("pdf")
@guarded
def pdf_cmd(document: Annotated[str, typer.Argument(help="paper | poster | all")] = "all",
            profile: ProfileOpt = "auto", artifacts: ArtifactsOpt = None):
    """Render and compile the paper and/or the poster to PDF (latexmk)."""
    documents = _documents(document)
    profile, _, pdir = setup(profile, "cpu", artifacts, quiet=True)
    do_pdf(profile, pdir, documents)


def _documents(document: str) -> tuple[str, ...]:
    if document == "all":
        return ("paper", "poster")
    if document not in ("paper", "poster"):
        raise ConfigError(f"unknown document {document!r}: use paper, poster or all")
    return (document,)


@app.command("all")
@guarded
def all_cmd(profile: ProfileOpt = "auto", device: DeviceOpt = "auto",
            artifacts: ArtifactsOpt = None, mirror: MirrorOpt = None, data_dir: DataOpt = None,
            jobs: JobsOpt = 0):
    """The whole paper: train → toy → evaluate → figures → PDFs."""
    profile, dev, pdir = setup(profile, device, artifacts, mirror, data_dir)
    start = time.time()
    failed = do_train(profile, dev, pdir, jobs=jobs)
    if failed:
        _fail(f"{len(failed)} run(s) failed: {', '.join(failed)}; nothing downstream was "
              f"rebuilt", 1)
    do_toy(profile, pdir)
    do_evaluate(profile, dev, pdir)
    do_figures(pdir)
    do_pdf(profile, pdir)
    console.print(f"all done in {time.time() - start:.0f} s: {pdir / 'paper.pdf'}")


@app.command("list")
@guarded
def list_cmd(profile: ProfileOpt = "auto", artifacts: ArtifactsOpt = None):
    """Every run's stable id, and whether it is trained."""
    from .train import is_trained
    profile, _, pdir = setup(profile, "cpu", artifacts, quiet=True, write=False)
    for run in cfg.runs(profile):
        typer.echo(f"{run.id:40s} {'trained' if is_trained(pdir, run) else 'not trained'}")


@app.command("sample")
@guarded
def sample_cmd(run_id: Annotated[str, typer.Argument(help="e.g. overlap/acgan/lambda=2/seed=0")],
               n: Annotated[int, typer.Option("--n", help="number of samples")] = 10_000,
               out: Annotated[Path, typer.Option("--out", help="output .npz")] = Path("samples.npz"),
               seed: Annotated[int, typer.Option(help="noise seed")] = cfg.SAMPLE_SEED,
               profile: ProfileOpt = "auto", device: DeviceOpt = "auto",
               artifacts: ArtifactsOpt = None):
    """Write N samples of a trained run: images (N,28,28) uint8 and codes (N,)."""
    import numpy as np
    from .evaluate import sample
    from .train import is_trained, load_models
    from .util import atomic_path
    if n <= 0:
        raise ConfigError(f"--n must be positive, got {n}")
    profile, dev, pdir = setup(profile, device, artifacts, quiet=True, write=False)
    run = cfg.find_run(profile, run_id)
    if not is_trained(pdir, run):
        raise ConfigError(f"run {run_id} is not trained: "
                          f"run `repro train --profile {profile} --only {run_id}`")
    G, _ = load_models(run, pdir, dev)
    images, codes = sample(G, n, dev, seed)
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, images=images.numpy(), codes=codes.numpy())
    console.print(f"{n} samples of {run_id} → {out}")


@app.command("verify")
@guarded
def verify_cmd(profile: ProfileOpt = "auto", artifacts: ArtifactsOpt = None,
               as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
               against: Annotated[Optional[Path], typer.Option(
                   help="also compare every number with this reference artifacts folder")] = None):
    """Check every claim of the paper against the numbers; exit 1 if any fails."""
    import json
    from rich.table import Table
    from .util import read_json, require
    from .verify import check_claims, compare_with
    profile, _, pdir = setup(profile, "cpu", artifacts, quiet=True, write=False)
    numbers = read_json(require(pdir / "numbers.json"))
    claims = check_claims(numbers)
    compared = compare_with(numbers, against, profile) if against else []
    failed = [r["id"] for r in claims + compared if r["status"] != "pass"]
    if as_json:
        typer.echo(json.dumps({"claims": claims, "against": compared, "failed": failed},
                              indent=2))
    else:
        out = Console(width=140)
        t = Table("claim", "expected", "obtained", "difference", "status",
                  title=f"claims ({profile})")
        for r in claims:
            t.add_row(r["id"], r["expected"], _num(r["obtained"]), _num(r["difference"]),
                      r["status"], style=None if r["status"] == "pass" else "red")
        out.print(t)
        bad = [r for r in compared if r["status"] != "pass"]
        if against:
            out.print(f"against {against}: {len(compared) - len(bad)} of {len(compared)} "
                      f"numbers within tolerance")
            for r in bad:
                out.print(f"[red]mismatch[/] {r['id']}: obtained {_num(r['obtained'])}, "
                          f"reference {_num(r['reference'])}, tolerance {r['tolerance']:g}")
    if failed:
        console.print(f"[red]{len(failed)} check(s) failed:[/] {', '.join(failed)}")
        raise typer.Exit(1)


@app.command("readme")
@guarded
def readme_cmd(profile: Annotated[str, typer.Option("--profile", "-p")] = "quick",
               artifacts: ArtifactsOpt = None):
    """Regenerate the README's results table from a profile's values.json."""
    from .readme import update_readme
    from .util import read_json, require
    _, _, pdir = setup(profile, "cpu", artifacts, quiet=True, write=False)
    changed = update_readme(read_json(require(pdir / "values.json")), profile)
    console.print("README.md " + ("updated" if changed else "already current"))


def _num(x) -> str:
    return "n/a" if x is None else f"{x:.4g}"


def main():
    """The CLI, with usage errors (a seed that is not an integer, an unknown option) as one
    line and exit code 2, like every other bad input."""
    try:
        from typer._click import exceptions as click_errors      # typer ≥ 0.2x vendors click
    except ImportError:
        from click import exceptions as click_errors
    try:
        code = app(standalone_mode=False)
    except click_errors.NoArgsIsHelpError:
        code = 0                   # the help has been printed
    except click_errors.UsageError as e:
        command = e.ctx.command_path if e.ctx else "repro"
        console.print(f"[red]error:[/] {e.format_message()} (see `{command} --help`)",
                      highlight=False, soft_wrap=True)
        code = 2
    except typer.Abort:
        code = 130
    sys.exit(code or 0)


if __name__ == "__main__":
    main()
