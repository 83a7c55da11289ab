//! The train view: spec, controls, progress, the loss chart and live reconstructions.

use leptos::prelude::*;

use super::canvas::Digits;
use super::chart::LossChart;
use super::spec_editor::SpecEditor;
use crate::model::{ModelSpec, SpecForm};
use crate::training::overall_sparsity;
use crate::web::link::send;
use crate::web::protocol::Request;
use crate::web::state::{AppState, DataState, RunState};

/// A "training images" field as a limit: a number below the 60,000 training images, or none.
pub fn image_limit(text: &str) -> Option<usize> {
    text.trim().parse::<usize>().ok().filter(|&n| n < 60000)
}

#[component]
pub fn TrainView() -> impl IntoView {
    let state = expect_context::<AppState>();
    let form = RwSignal::new(SpecForm::from(&ModelSpec::basic()));
    let images = RwSignal::new(String::from("60000"));
    // A spec handed over by another view (the search's best) replaces the editor's.
    Effect::new(move |_| {
        if let Some(spec) = state.editor_spec.get() {
            form.set(SpecForm::from(&spec));
        }
    });
    // Continue from the model in use (e.g. a denoising fine-tune) instead of fresh weights.
    let from_model = RwSignal::new(false);
    let have_model = Signal::derive(move || state.model_in_use.with(Option::is_some));
    let running = Signal::derive(move || state.run.get() != RunState::Idle);
    let data_ready = Signal::derive(move || matches!(state.data.get(), DataState::Ready { .. }));
    // One run at a time in the worker: not while a classifier fine-tunes either.
    let can_start = Signal::derive(move || {
        data_ready.get()
            && !running.get()
            && !state.finetune_running.get()
            && !state.search_running.get()
            && form.with(|f| f.parse().is_ok())
    });

    let start = move |_| {
        let Ok(spec) = form.with_untracked(SpecForm::parse) else {
            return;
        };
        let limit = image_limit(&images.get_untracked());
        state.history.set(Vec::new());
        // A new run replaces an interrupted one.
        if state.checkpoint.get_untracked().is_some() {
            state.clear_checkpoint();
        }
        state.resume_base.set(0);
        send(Request::Train {
            spec,
            seed: 42,
            limit,
            from_model_in_use: from_model.get_untracked() && have_model.get_untracked(),
            start: None,
        });
    };
    let bench = move |_| {
        if let Ok(spec) = form.with_untracked(SpecForm::parse) {
            state.bench.set(Some("measuring for 10 s…".into()));
            send(Request::Bench {
                spec,
                seconds: 10.0,
            });
        }
    };

    let status = move || match (state.run.get(), state.progress.get()) {
        (RunState::Idle, _) => state.last_result.get().unwrap_or_else(|| "ready".into()),
        (run, Some(p)) => format!(
            "{}epoch {}/{} · batch {}/{} · loss {:.4} · {:.0} images/s",
            if run == RunState::Paused {
                "paused · "
            } else {
                ""
            },
            p.epoch,
            p.epochs,
            p.batch,
            p.batches,
            p.train_loss,
            p.images_per_s
        ),
        (_, None) => "starting…".into(),
    };
    let fraction = move || {
        state.progress.get().map_or(0.0, |p| {
            ((p.epoch - 1) as f64 + p.batch as f64 / p.batches as f64) / p.epochs as f64
        })
    };
    let epoch_fraction = move || {
        state
            .progress
            .get()
            .map_or(0.0, |p| p.batch as f64 / p.batches as f64)
    };

    view! {
        <section class="card train" id="train-view">
            <h2>"Train an autoencoder"</h2>
            <ResumeBanner can_start=can_start />
            <SpecEditor form=form disabled=running />
            <div class="row controls">
                <label class="field small" title="train on the first N of the 60,000 training images (80% train, 20% validation)">
                    <span>"training images"</span>
                    <input id="train-images" type="text" prop:value=move || images.get() on:input=move |ev| images.set(event_target_value(&ev)) />
                </label>
                <label class="check" title="train the model in use further with these training settings (its architecture and weights; the architecture fields are ignored), e.g. against input noise for a denoising autoencoder">
                    <input id="from-model" type="checkbox" prop:disabled=move || !have_model.get() || running.get()
                        prop:checked=move || from_model.get() on:change=move |ev| from_model.set(event_target_checked(&ev)) />
                    {move || match state.model_in_use.get() {
                        Some((name, _)) => format!("continue from {name}"),
                        None => "continue from the model in use".to_string(),
                    }}
                </label>
                <button id="start" class="primary" prop:disabled=move || !can_start.get() on:click=start>"Start"</button>
                <button id="pause" prop:disabled=move || state.run.get() != RunState::Running on:click=move |_| send(Request::Pause)>"Pause"</button>
                <button id="resume" prop:disabled=move || state.run.get() != RunState::Paused on:click=move |_| send(Request::Resume)>"Resume"</button>
                <button
                    id="stop"
                    prop:disabled=move || !running.get()
                    on:click=move |_| {
                        state.run.set(RunState::Stopping);
                        send(Request::Stop);
                    }
                >"Stop"</button>
                <button id="bench" prop:disabled=move || !data_ready.get() || running.get() on:click=bench title="time training of this spec for 10 s on the active backend">"Benchmark"</button>
            </div>
            <div class="progress" role="progressbar" aria-label="training progress">
                <div class="bar" style:width=move || format!("{:.1}%", fraction() * 100.0)></div>
            </div>
            <div class="progress thin" aria-label="epoch progress">
                <div class="bar" style:width=move || format!("{:.1}%", epoch_fraction() * 100.0)></div>
            </div>
            <p class="status" id="train-status" role="status">{status}</p>
            <p class="status" id="bench-result">{move || state.bench.get().unwrap_or_default()}</p>
            <p class="status" id="checkpoint-stored"
                data-run=move || state.checkpoint_stored.get().map(|(run, _)| run).unwrap_or_default()
                data-epoch=move || state.checkpoint_stored.get().map(|(_, e)| e.to_string()).unwrap_or_default()>
                {move || state.checkpoint_stored.get().filter(|_| state.run.get() != RunState::Idle).map(|(_, e)| format!("checkpoint of epoch {e} kept in this browser")).unwrap_or_default()}
            </p>
            <p class="status" id="train-memory" data-mb=move || state.memory.with(|m| m.iter().map(|v| format!("{v:.1}")).collect::<Vec<_>>().join(","))>
                {move || state.memory.with(|m| match (m.first(), m.last()) {
                    (Some(first), Some(last)) => format!("worker memory {first:.0} MB after epoch 1, {last:.0} MB after epoch {}", m.len()),
                    _ => String::new(),
                })}
            </p>
            <div class="split">
                <div>
                    <h3>"Loss per epoch"</h3>
                    <LossChart history=state.history progress=state.progress />
                </div>
                <div>
                    <h3>"Test digits and their reconstructions"</h3>
                    <Digits id="recon-originals" label="test digits" pixels=Signal::derive(move || state.recon.get().originals) cols=10 scale=2 />
                    <Digits id="recon-output" label="reconstructions" pixels=Signal::derive(move || state.recon.get().reconstructions) cols=10 scale=2 />
                    <p class="hint">"Reconstructions refresh after every epoch."</p>
                    <Sparsity />
                </div>
            </div>
        </section>
    }
}

/// Zero weights per layer of a pruned run, as of its last epoch.
#[component]
fn Sparsity() -> impl IntoView {
    let state = expect_context::<AppState>();
    let overall = move || {
        state.sparsity.with(|layers| {
            let all: usize = layers.iter().map(|l| l.weights).sum();
            format!(
                "{:.1}% of {all} weights are zero",
                100.0 * overall_sparsity(layers)
            )
        })
    };
    view! {
        <div class="sparsity" id="sparsity" class:hidden=move || state.sparsity.with(Vec::is_empty)>
            <h3>"Sparsity (pruning)"</h3>
            <p class="status" id="sparsity-overall">{overall}</p>
            {move || state.sparsity.get().into_iter().map(|l| {
                let pct = l.zero_fraction * 100.0;
                view! {
                    <div class="latent-row">
                        <span class="dim wide">{l.layer.clone()}</span>
                        <div class="latent-track"><div class="latent-bar" style:left="0%" style:width=format!("{pct:.1}%")></div></div>
                        <span class="value">{format!("{pct:.0}%")}</span>
                    </div>
                }
            }).collect_view()}
        </div>
    }
}

/// Offers to resume a run that a reload (or a closed tab) interrupted, from its last epoch's
/// checkpoint: the same spec, images and seed for the epochs left. Adam's moments are not in
/// the checkpoint, so the optimiser starts afresh from the saved weights.
#[component]
fn ResumeBanner(can_start: Signal<bool>) -> impl IntoView {
    let state = expect_context::<AppState>();
    let resume = move |_| {
        let Some(checkpoint) = state.checkpoint.get_untracked() else {
            return;
        };
        let Some(r) = checkpoint.resume.clone() else {
            return state.clear_checkpoint();
        };
        let mut spec = match crate::store::read_spec(&checkpoint.name, &checkpoint.bytes) {
            Ok(spec) => spec,
            Err(e) => {
                state.error(format!("the checkpoint cannot be resumed: {e}"));
                return state.clear_checkpoint();
            }
        };
        spec.train.epochs = r.epochs_total.saturating_sub(r.epochs_done).max(1);
        state.checkpoint.set(None);
        state.resume_base.set(r.epochs_done);
        send(Request::Train {
            spec,
            seed: r.seed,
            limit: r.limit,
            from_model_in_use: false,
            start: Some(serde_bytes::ByteBuf::from(checkpoint.bytes)),
        });
    };
    let text = move || {
        state.checkpoint.with(|c| {
            c.as_ref().and_then(|c| {
                c.resume.as_ref().map(|r| {
                    format!(
                        "A run of {} was interrupted after epoch {} of {} (a reload, a closed tab or a failed worker).",
                        c.name, r.epochs_done, r.epochs_total
                    )
                })
            })
        })
    };
    view! {
        <div class="checkpoint" id="checkpoint" class:hidden=move || state.checkpoint.with(Option::is_none)>
            <p id="checkpoint-text">{move || text().unwrap_or_default()}</p>
            <button id="checkpoint-resume" class="primary" prop:disabled=move || !can_start.get() on:click=resume>"Resume"</button>
            <button id="checkpoint-discard" on:click=move |_| state.clear_checkpoint()>"Discard"</button>
        </div>
    }
}
