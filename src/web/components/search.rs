//! The Search view: a small hyperparameter search over the study's space in the worker (TPE,
//! the median rule, k-fold), a live table of its trials, and the best net into the editor.

use leptos::prelude::*;

use crate::model::ModelSpec;
use crate::web::link::send;
use crate::web::protocol::{Request, SearchTrial, TrialState};
use crate::web::state::{AppState, DataState, RunState};

/// A net in a few words: convolutions as channels/kernel/stride/padding, hidden widths, latent.
fn describe(spec: &ModelSpec) -> String {
    let conv = spec
        .arch
        .conv
        .iter()
        .map(|c| format!("{}k{}s{}p{}", c.channels, c.kernel, c.stride, c.padding))
        .collect::<Vec<_>>()
        .join(" ");
    let hidden = spec
        .arch
        .hidden
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join("/");
    format!(
        "conv {conv} · hidden {hidden} · latent {} · lr {:.1e} · batch {}{}",
        spec.arch.latent,
        spec.train.lr,
        spec.train.batch_size,
        match &spec.train.pruning {
            Some(p) => format!(" · prune every {}", p.every),
            None => String::new(),
        }
    )
}

fn state_label(state: &TrialState) -> (String, &'static str) {
    match state {
        TrialState::Running => ("running".into(), "running"),
        TrialState::Complete => ("complete".into(), "complete"),
        TrialState::Pruned => ("pruned (median)".into(), "pruned"),
        TrialState::Invalid(reason) => (format!("invalid net: {reason}"), "invalid"),
        TrialState::Stopped => ("stopped".into(), "stopped"),
    }
}

/// The complete trial with the lowest objective.
fn best(trials: &[SearchTrial]) -> Option<SearchTrial> {
    trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .min_by(|a, b| {
            a.objective
                .unwrap_or(f64::INFINITY)
                .total_cmp(&b.objective.unwrap_or(f64::INFINITY))
        })
        .cloned()
}

#[component]
pub fn SearchView() -> impl IntoView {
    let state = expect_context::<AppState>();
    let trials = RwSignal::new(String::from("4"));
    let folds = RwSignal::new(String::from("2"));
    let epochs = RwSignal::new(String::from("1"));
    let images = RwSignal::new(String::from("2000"));
    let number = |s: RwSignal<String>| s.with(|t| t.trim().parse::<usize>().ok());
    let busy = Signal::derive(move || {
        state.search_running.get()
            || state.finetune_running.get()
            || state.gan_running.get()
            || state.run.get() != RunState::Idle
    });
    let can_start = Signal::derive(move || {
        !busy.get()
            && matches!(state.data.get(), DataState::Ready { .. })
            && [trials, folds, epochs, images]
                .into_iter()
                .all(|s| number(s).is_some_and(|n| n > 0))
    });
    let start = move |_| {
        let (Some(trials), Some(folds), Some(epochs), Some(limit)) = (
            number(trials),
            number(folds),
            number(epochs),
            number(images),
        ) else {
            return;
        };
        send(Request::Search {
            trials,
            folds,
            epochs,
            limit,
            seed: 42,
        });
    };
    let status = move || {
        if let Some((trial, fold, p)) = state.search_progress.get() {
            return format!(
                "trial {trial} · fold {} · epoch {}/{} · batch {}/{} · loss {:.4}",
                fold + 1,
                p.epoch,
                p.epochs,
                p.batch,
                p.batches,
                p.train_loss
            );
        }
        state
            .search_result
            .get()
            .unwrap_or_else(|| "ready: the study's space, TPE, the median rule".into())
    };
    let rows = move || {
        let best_number = best(&state.search_trials.get()).map(|t| t.number);
        state
            .search_trials
            .get()
            .into_iter()
            .map(|t| {
                let (label, class) = state_label(&t.state);
                let losses = t
                    .fold_losses
                    .iter()
                    .map(|l| format!("{l:.4}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let objective = t.objective.map(|o| format!("{o:.4}")).unwrap_or_default();
                view! {
                    <tr class=class class:best=best_number == Some(t.number)>
                        <td>{t.number.to_string()}</td>
                        <td class="net">{describe(&t.spec)}</td>
                        <td>{losses}</td>
                        <td>{objective}</td>
                        <td class="state">{label}</td>
                    </tr>
                }
            })
            .collect_view()
    };
    let use_best = move |_| {
        if let Some(t) = best(&state.search_trials.get_untracked()) {
            let mut spec = t.spec;
            spec.name = format!("search-trial-{}", t.number);
            state.editor_spec.set(Some(spec));
        }
    };
    let field = |label: &'static str, id: &'static str, value: RwSignal<String>| {
        view! {
            <label class="field small">
                <span>{label}</span>
                <input id=id type="text" prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev)) />
            </label>
        }
    };

    view! {
        <section class="card search" id="search-view">
            <h2>"Search hyperparameters"</h2>
            <p class="hint">"The study's search space (2-4 convolutions, 1-3 hidden layers, latent 1-16, learning rate, weight decay, batch, patience, pruning) and objective (mean validation loss + 1e-5 × minutes + 1e-2 × latent size). TPE suggests each trial; a trial worse than the median after a fold stops early; nets that cannot be built are rejected before training."</p>
            <div class="row controls">
                {field("trials", "search-trials", trials)}
                {field("folds", "search-folds", folds)}
                {field("epochs per fold", "search-epochs", epochs)}
                {field("training images", "search-images", images)}
                <button id="search-start" class="primary" prop:disabled=move || !can_start.get() on:click=start>"Search"</button>
                <button id="search-stop" prop:disabled=move || !state.search_running.get() on:click=move |_| send(Request::Stop)>"Stop"</button>
                <button id="search-use-best" prop:disabled=move || state.search_running.get() || best(&state.search_trials.get()).is_none() on:click=use_best>"Best into the editor"</button>
            </div>
            <p class="status" id="search-status" role="status">{status}</p>
            <table class="trials" id="search-trials-table">
                <thead><tr><th>"#"</th><th>"net"</th><th>"fold losses"</th><th>"objective"</th><th>"state"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </section>
    }
}
