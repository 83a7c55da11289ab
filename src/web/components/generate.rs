//! Generate digits with a GAN: train one in the page (both losses live, a grid of digits each
//! epoch), then pick a digit, see a grid of samples, resample, and walk the noise between two
//! samples.

use leptos::prelude::*;

use super::canvas::Digits;
use super::chart::LossChart;
use super::train::image_limit;
use crate::model::{CLASSES, GanKind};
use crate::web::link::send;
use crate::web::protocol::Request;
use crate::web::state::{AppState, DataState, RunState};

/// Samples in the grid (two rows of ten).
const SAMPLES: u64 = 20;
/// Digits along a walk.
const WALK_STEPS: usize = 10;

/// The training controls, progress, loss chart and per-epoch grid.
#[component]
fn GanTraining() -> impl IntoView {
    let state = expect_context::<AppState>();
    let kind = RwSignal::new(GanKind::Acgan);
    let epochs = RwSignal::new(String::from("1"));
    let images = RwSignal::new(String::from("60000"));
    let busy = Signal::derive(move || {
        state.gan_running.get() || state.finetune_running.get() || state.run.get() != RunState::Idle
    });
    let can_start = Signal::derive(move || {
        !busy.get()
            && matches!(state.data.get(), DataState::Ready { .. })
            && epochs.with(|e| e.trim().parse::<usize>().is_ok_and(|n| n > 0))
    });
    let start = move |_| {
        let Ok(epochs) = epochs.get_untracked().trim().parse::<usize>() else {
            return;
        };
        send(Request::TrainGan {
            kind: kind.get_untracked(),
            epochs,
            seed: 42,
            limit: image_limit(&images.get_untracked()),
        });
    };
    let status = move || {
        if !state.gan_running.get() {
            return match state.gan_in_use.get() {
                Some((name, spec)) => format!("{name} ({}) in use", spec.kind.name()),
                None => "no GAN yet: train one, or use a saved one".into(),
            };
        }
        match state.gan_progress.get() {
            Some(p) => {
                let losses: Vec<String> = p
                    .losses
                    .iter()
                    .map(|l| format!("{} {:.4}", l.name, l.value))
                    .collect();
                format!(
                    "epoch {}/{} · batch {}/{} · {} · {:.0} images/s",
                    p.epoch,
                    p.epochs,
                    p.batch,
                    p.batches,
                    losses.join(" "),
                    p.images_per_s
                )
            }
            None => "starting…".into(),
        }
    };
    let fraction = move || {
        state.gan_progress.get().map_or(0.0, |p| {
            ((p.epoch - 1) as f64 + p.batch as f64 / p.batches as f64) / p.epochs as f64
        })
    };
    view! {
        <div class="row controls">
            <label class="field">
                <span>"kind"</span>
                <select id="gan-kind" prop:disabled=move || busy.get()
                    on:change=move |ev| if let Some(k) = GanKind::parse(&event_target_value(&ev)) { kind.set(k) }>
                    {GanKind::ALL.into_iter().map(|k| view! {
                        <option value=k.name() selected=k == GanKind::Acgan>{k.name()}</option>
                    }).collect_view()}
                </select>
            </label>
            <label class="field small">
                <span>"epochs"</span>
                <input id="gan-epochs" type="text" prop:value=move || epochs.get() on:input=move |ev| epochs.set(event_target_value(&ev)) />
            </label>
            <label class="field small" title="train on the first N of the 60,000 training images">
                <span>"training images"</span>
                <input id="gan-images" type="text" prop:value=move || images.get() on:input=move |ev| images.set(event_target_value(&ev)) />
            </label>
            <button id="gan-start" class="primary" prop:disabled=move || !can_start.get() on:click=start>"Train GAN"</button>
            <button id="gan-stop" prop:disabled=move || !state.gan_running.get() on:click=move |_| send(Request::Stop)>"Stop"</button>
        </div>
        <div class="progress" role="progressbar" aria-label="GAN training progress">
            <div class="bar" style:width=move || format!("{:.1}%", fraction() * 100.0)></div>
        </div>
        <p class="status" id="gan-status" role="status">{status}</p>
        <div class="split">
            <div>
                <h3>"Discriminator and generator loss"</h3>
                <LossChart history=state.gan_history progress=state.gan_progress pair=("d", "g") id="gan-chart" />
            </div>
            <div>
                <h3>"Digits after each epoch"</h3>
                <Digits pixels=state.gan_samples cols=10 scale=1 id="gan-samples" label="digits generated after the last epoch" />
            </div>
        </div>
    }
}

/// Digits from the GAN in use: a digit picker, a grid of samples, resample, a walk.
#[component]
fn Sampling() -> impl IntoView {
    let state = expect_context::<AppState>();
    let digit = RwSignal::new(Some(0usize));
    let base = RwSignal::new(1u64);
    let grid_id = RwSignal::new(0u64);
    let walk_id = RwSignal::new(0u64);
    let grid = RwSignal::new(Vec::<f32>::new());
    let walk = RwSignal::new(Vec::<f32>::new());
    let next_id = StoredValue::new(0u64);
    let fresh_id = move || {
        next_id.update_value(|n| *n += 1);
        next_id.get_value()
    };
    let conditional = Signal::derive(move || {
        state
            .gan_in_use
            .with(|g| g.as_ref().is_some_and(|(_, s)| s.kind.conditional()))
    });
    let class = move || {
        conditional
            .get_untracked()
            .then(|| digit.get_untracked())
            .flatten()
    };
    // A new grid whenever the GAN, the digit or the seeds change.
    Effect::new(move |_| {
        let in_use = state.gan_in_use.with(Option::is_some);
        let (_, start) = (digit.get(), base.get());
        if !in_use {
            return;
        }
        let id = fresh_id();
        grid_id.set(id);
        send(Request::Generate {
            id,
            class: class(),
            seeds: (start..start + SAMPLES).collect(),
        });
        let id = fresh_id();
        walk_id.set(id);
        send(Request::Walk {
            id,
            class: class(),
            from: start,
            to: start + 1,
            steps: WALK_STEPS,
        });
    });
    // Takes every queued answer (untracked, so emptying the queue does not rerun this); answers
    // to requests made before the last change are dropped.
    Effect::new(move |_| {
        state.generated.track();
        let answers = state
            .generated
            .try_update_untracked(std::mem::take)
            .unwrap_or_default();
        for (id, images) in answers {
            if id == grid_id.get_untracked() {
                grid.set(images);
            } else if id == walk_id.get_untracked() {
                walk.set(images);
            }
        }
    });
    let picker = move || {
        (0..CLASSES)
            .map(|d| {
                view! {
                    <button class="digit-pick" id=format!("digit-{d}")
                        class:chosen=move || digit.get() == Some(d)
                        prop:disabled=move || !conditional.get()
                        on:click=move |_| digit.set(Some(d))>{d.to_string()}</button>
                }
            })
            .collect_view()
    };
    view! {
        <div class="row controls">
            <span class="label">"digit"</span>
            {picker}
            <button id="resample" prop:disabled=move || state.gan_in_use.with(Option::is_none)
                on:click=move |_| base.update(|b| *b += SAMPLES)>"Resample"</button>
        </div>
        <p class="hint" class:hidden=move || conditional.get() || state.gan_in_use.with(Option::is_none)>
            "This GAN draws digits of no chosen class (an ACGAN does)."
        </p>
        <Digits pixels=grid cols=10 scale=2 id="generated" label="generated digits" />
        <h3>"Walking the noise from the first digit to the second"</h3>
        <Digits pixels=walk cols=WALK_STEPS scale=2 id="walk" label="digits along the walk" />
    }
}

#[component]
pub fn GenerateView() -> impl IntoView {
    view! {
        <section class="card generate" id="generate-view">
            <h2>"Generate digits"</h2>
            <p class="hint">"A GAN: a generator (the decoder's layout) learns to draw digits that a discriminator (the encoder's layout) cannot tell from real ones. An ACGAN draws the digit you ask for."</p>
            <GanTraining />
            <Sampling />
        </section>
    }
}
