"""optuna's side of `latentlab search` (src/cli/search.rs embeds this file and runs it).

optuna holds the study: TPE at its defaults, a median pruner fed each fold's validation loss,
RDB storage (SQLite by default, PostgreSQL for many workers) with heartbeats, so a worker that
dies mid-trial has that trial failed by the next worker and retried with the same parameters.
Each trial is one `latentlab search-trial` process talking JSON lines: it asks for parameters
as the space's code reaches them, reports folds, and ends with the objective (or `invalid`: a
net shape inference rejected, recorded as pruned with the reason, not counted as a trial).
"""

import argparse
import ctypes
import json
import os
import socket
import signal
import subprocess
import sys
import warnings

import optuna
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

INVALID = "invalid"


def die_with_parent():
    """The trial process ends when this worker does (Linux), so a killed worker leaves no orphan."""
    try:
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def counted(study):
    """Trials that count towards --trials: complete, or stopped by the pruner after training."""
    n = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)):
        if INVALID not in t.user_attrs:
            n += 1
    return n


def objective_of(trial_command):
    def objective(trial):
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        child = subprocess.Popen(trial_command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 text=True, bufsize=1, preexec_fn=die_with_parent)

        def reply(obj):
            child.stdin.write(json.dumps(obj) + "\n")
            child.stdin.flush()

        try:
            for line in child.stdout:
                msg = json.loads(line)
                kind = msg["msg"]
                if kind == "ask":
                    low, high, log = msg["low"], msg["high"], msg["log"]
                    if msg["kind"] == "int":
                        v = trial.suggest_int(msg["name"], int(low), int(high), log=log)
                    else:
                        v = trial.suggest_float(msg["name"], low, high, log=log)
                    reply({"value": v})
                elif kind == "invalid":
                    trial.set_user_attr(INVALID, msg["reason"])
                    trial.set_user_attr("spec", msg["spec"])
                    raise optuna.TrialPruned(msg["reason"])
                elif kind == "spec":
                    trial.set_user_attr("spec", msg["spec"])
                elif kind == "fold":
                    loss = msg["val_loss"]
                    loss = float("inf") if loss is None else loss
                    trial.report(loss, msg["fold"])
                    prune = bool(trial.should_prune())  # a numpy bool, which json refuses
                    reply({"prune": prune})
                    if prune:
                        raise optuna.TrialPruned(f"fold {msg['fold'] + 1}: {loss:.5f}")
                elif kind == "done":
                    trial.set_user_attr("mean_val_loss", msg["mean_val_loss"])
                    trial.set_user_attr("mean_minutes", msg["mean_minutes"])
                    value = msg["objective"]
                    return float("inf") if value is None else value
            raise RuntimeError(f"the trial process ended without a result (exit {child.wait()})")
        finally:
            child.stdin.close()
            try:
                # After its last message the trial process exits at once; on any other way
                # out of here (an error, Ctrl-C) it is stopped.
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            if child.returncode != 0:
                print(f"trial {trial.number}: latentlab exited with {child.returncode}",
                      file=sys.stderr)

    return objective


def open_study(args):
    # A running trial's worker writes a heartbeat every `interval` s; one silent for `grace` s
    # is failed (and retried) by the next worker to start a trial. Tests shorten both.
    interval, grace = (int(x) for x in os.environ.get("LATENTLAB_HEARTBEAT", "10,30").split(","))
    storage = RDBStorage(
        args.storage,
        heartbeat_interval=interval,
        grace_period=grace,
        heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=3),
    )
    return optuna.create_study(
        study_name=args.study, storage=storage, load_if_exists=True, direction="minimize",
        sampler=optuna.samplers.TPESampler(), pruner=optuna.pruners.MedianPruner())


def search(args):
    study = open_study(args)
    command = json.loads(args.trial_command)

    def enough(study, _trial):
        if counted(study) >= args.trials:
            study.stop()

    before = counted(study)
    if before >= args.trials:
        print(f"study {args.study}: already {before} trials (of {args.trials})", file=sys.stderr)
        return
    # Invalid nets cost no training but must not loop forever: a generous cap on attempts.
    study.optimize(objective_of(command), n_trials=50 * args.trials, callbacks=[enough],
                   catch=(RuntimeError,))
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        print(f"study {args.study}: no trial completed yet", file=sys.stderr)
        return
    best = study.best_trial
    print(json.dumps({"study": args.study, "trials": counted(study),
                      "best_trial": best.number, "best_objective": best.value,
                      "best_params": best.params}))


def report(args):
    import pathlib
    study = open_study(args)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    trials = study.get_trials(deepcopy=False)
    states = {}
    for t in trials:
        key = "pruned (invalid net)" if INVALID in t.user_attrs else t.state.name.lower()
        states[key] = states.get(key, 0) + 1
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        sys.exit(f"study {args.study}: no trial has completed yet ({states})")
    best = study.best_trial
    spec = dict(best.user_attrs["spec"], name=f"search-{args.study}")
    (out / "best-spec.json").write_text(json.dumps(spec, indent=2) + "\n")
    try:
        # PED-ANOVA needs no scikit-learn (fANOVA, optuna's default evaluator, does).
        importances = optuna.importance.get_param_importances(
            study, evaluator=optuna.importance.PedAnovaImportanceEvaluator())
    except Exception as e:  # too few complete trials for the evaluator
        importances = {"error": str(e)}
    import matplotlib
    matplotlib.use("Agg")
    from optuna.visualization.matplotlib import plot_optimization_history
    ax = plot_optimization_history(study)
    ax.figure.savefig(out / "history.png", dpi=120, bbox_inches="tight")
    summary = {
        "study": args.study, "trials": states, "best_trial": best.number,
        "best_objective": best.value, "best_mean_val_loss": best.user_attrs.get("mean_val_loss"),
        "best_params": best.params, "importances": importances,
        "best_spec": str(out / "best-spec.json"), "history": str(out / "history.png"),
    }
    (out / "report.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    print(f"train it: latentlab train --spec {out / 'best-spec.json'}", file=sys.stderr)


def main():
    p = argparse.ArgumentParser(prog="latentlab search")
    p.add_argument("--study", required=True)
    p.add_argument("--storage", required=True)
    p.add_argument("--trials", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--trial-command", required=True)
    p.add_argument("--report", action="store_true")
    args = p.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # Heartbeats and the retry callback are marked experimental; they are what we rely on.
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    (report if args.report else search)(args)


if __name__ == "__main__":
    main()
