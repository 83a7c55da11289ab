"""End-to-end tests of `latentlab search` (run by scripts/test.sh with the search venv's Python).

1. SQLite: a 3-trial search on a small subset completes, a second run with --trials 4 resumes
   the same study (the first trials kept), and --report writes a spec `latentlab train` takes.
2. PostgreSQL (Debian's server, started here in a temporary directory): two workers share one
   study; one is killed mid-trial; the other fails that trial by its heartbeat and retries it.
   Every trial is done once, both workers contributed, nothing is left running.

Usage: python tests/search/test_search.py LATENTLAB_BINARY DATA_DIR
"""

import glob
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings

import optuna
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

BIN, DATA = sys.argv[1], sys.argv[2]
# Tiny trials: 2 folds of 300 images, 1 epoch each.
TRIAL = ["--folds", "2", "--epochs", "1", "--limit", "600", "--quiet", "--data", DATA,
         "--python", sys.executable]
ENV = dict(os.environ, LATENTLAB_HEARTBEAT="1,4")


def search(study, storage, trials, *extra, wait=True):
    cmd = [BIN, "search", "--study", study, "--storage", storage, "--trials", str(trials), *TRIAL,
           *extra]
    if not wait:
        return subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL)
    run = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, f"{cmd}: {run.returncode}\n{run.stderr}"
    return run


def finished(study):
    """Trials that trained to the end or were stopped by the pruner (not invalid nets)."""
    return [t for t in study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))
            if "invalid" not in t.user_attrs]


def load(study, storage):
    return optuna.load_study(study_name=study, storage=storage)


def test_sqlite(tmp):
    storage = f"sqlite:///{tmp}/s.db"
    search("s", storage, 3)
    study = load("s", storage)
    first = sorted(t.number for t in finished(study))
    assert len(first) == 3, first
    invalid = [t for t in study.trials if "invalid" in t.user_attrs]
    for t in invalid:  # recorded as pruned, with the reason and the rejected spec
        assert t.state == TrialState.PRUNED and t.user_attrs["invalid"] and t.user_attrs["spec"]
    # Resume: the same study grows to 4, keeping the first 3.
    search("s", storage, 4)
    study = load("s", storage)
    now = sorted(t.number for t in finished(study))
    assert len(now) == 4 and set(first) <= set(now), (first, now)
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    assert complete, "at least one trial ran all its folds"
    for t in complete:
        assert t.value >= t.user_attrs["mean_val_loss"] > 0
    # The report: the best trial as a spec that trains.
    out = pathlib.Path(tmp) / "report"
    run = search("s", storage, 4, "--report", "--out", str(out))
    report = json.loads((out / "report.json").read_text())
    assert report["best_objective"] == study.best_value
    assert (out / "history.png").stat().st_size > 1000
    # 560 training images: more than the space's largest batch (512), which `train` requires.
    train = subprocess.run([BIN, "train", "--spec", str(out / "best-spec.json"), "--epochs", "1",
                            "--limit", "700", "--quiet", "--data", DATA,
                            "--out", str(out / "trained")], capture_output=True, text=True)
    assert train.returncode == 0, train.stderr
    print(f"sqlite: {len(now)} trials ({len(invalid)} invalid nets pruned), resumed, reported")


def start_postgres(tmp):
    """A throwaway server on a Unix socket in `tmp`, as the postgres user when run as root."""
    bindir = sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1]
    data, sock = os.path.join(tmp, "pg"), os.path.join(tmp, "sock")
    os.makedirs(sock)
    as_user = []
    if os.geteuid() == 0:  # initdb refuses root
        shutil.chown(tmp, "postgres")
        shutil.chown(sock, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    subprocess.run(as_user + [f"{bindir}/initdb", "-D", data, "-U", "postgres", "-A", "trust"],
                   check=True, capture_output=True, cwd=tmp)
    subprocess.run(as_user + [f"{bindir}/pg_ctl", "-D", data, "-w", "-l",
                              os.path.join(tmp, "pg.log"), "-o",
                              f"-k {sock} -c listen_addresses='' -p 54329", "start"],
                   check=True, capture_output=True, cwd=tmp)
    subprocess.run(as_user + [f"{bindir}/createdb", "-h", sock, "-p", "54329", "-U", "postgres",
                              "optuna"], check=True, cwd=tmp)
    stop = as_user + [f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "stop"]
    return f"postgresql://postgres@/optuna?host={sock}&port=54329", stop


def test_postgres(tmp):
    storage, stop = start_postgres(tmp)
    try:
        trials = 10
        # The study exists before the workers start (two first connections would race to
        # create optuna's tables).
        optuna.create_study(study_name="p", storage=storage, direction="minimize")
        b = search("p", storage, trials, wait=False)
        # Kill a worker A in the middle of a trial (after it finished one, so it contributed).
        # The study is read a moment before the kill lands, so the trial seen running may
        # finish first; then another worker A tries again (with a larger target, so that it
        # has trials to run).
        killed, a_pids = None, []
        for attempt in range(4):
            a = search("p", storage, trials + 4 * attempt, wait=False)
            a_pids.append(a.pid)
            deadline = time.time() + 300
            sent = False
            while time.time() < deadline and not sent:
                time.sleep(0.2)
                try:
                    study = load("p", storage)
                except KeyError:
                    continue
                mine = [t for t in study.trials
                        if t.user_attrs.get("worker", "").endswith(f":{a.pid}")]
                numbers = {t.number for t in mine}
                counted = [t for t in finished(study) if t.number in numbers]
                if any(t.state == TrialState.RUNNING for t in mine) and counted:
                    a.send_signal(signal.SIGKILL)
                    sent = True
            if not sent:
                a.send_signal(signal.SIGKILL)
            a.wait()
            # The trial A left running when it died (its driver never told optuna the end).
            stale = [t.number for t in load("p", storage).trials
                     if t.user_attrs.get("worker", "").endswith(f":{a.pid}")
                     and t.state == TrialState.RUNNING]
            if stale:
                killed = stale[0]
                break
        assert killed is not None, "no worker A was killed in the middle of a trial"
        assert b.wait(timeout=600) == 0
        # optuna fails a stale trial when a worker starts its next trial after the grace
        # period; B may have finished before then, so one more worker comes by afterwards.
        time.sleep(5)
        search("p", storage, max(trials, len(finished(load("p", storage)))) + 1)
        study = load("p", storage)
        assert not study.get_trials(states=(TrialState.RUNNING,)), "a trial was left running"
        dead = study.trials[killed]
        assert dead.state == TrialState.FAIL, dead.state
        # The retry: a later trial with the killed one's parameters, marked as its retry.
        retried = RetryHeartbeatStaleTrialCallback.retried_trial_number
        retries = [t for t in study.trials if retried(t) == killed]
        assert retries and retries[0].state.is_finished(), "the killed trial was retried"
        done = finished(study)
        assert len(done) >= trials, len(done)
        workers = {t.user_attrs["worker"] for t in done}
        pids = {w.rsplit(':', 1)[1] for w in workers}
        assert str(b.pid) in pids and pids & {str(p) for p in a_pids}, (workers, a_pids, b.pid)
        # Done once: no parameter set finished twice.
        keys = [json.dumps(t.params, sort_keys=True) for t in done]
        assert len(keys) == len(set(keys)), "a trial ran twice"
        print(f"postgresql: {len(done)} trials by 2 workers, trial {killed} killed and retried "
              f"as {retries[0].number}")
    finally:
        subprocess.run(stop, capture_output=True, cwd=tmp)


if __name__ == "__main__":
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    with tempfile.TemporaryDirectory() as tmp:
        test_sqlite(tmp)
    with tempfile.TemporaryDirectory() as tmp:
        test_postgres(tmp)
    print("search: all passed")
