//! Fine-tune a classifier: the encoder of the model in use plus a layer of 10, trained to a
//! chosen depth (the study's Table 2 in the page); its accuracy and confusion matrix.

use leptos::prelude::*;

use super::chart::LossChart;
use super::train::image_limit;
use crate::model::Unfreeze;
use crate::web::link::send;
use crate::web::protocol::Request;
use crate::web::state::{AppState, DataState, RunState};

#[component]
pub fn FinetuneView() -> impl IntoView {
    let state = expect_context::<AppState>();
    let depth = RwSignal::new(Unfreeze::All);
    let epochs = RwSignal::new(String::from("3"));
    let images = RwSignal::new(String::from("60000"));
    let busy =
        Signal::derive(move || state.finetune_running.get() || state.run.get() != RunState::Idle);
    let can_start = Signal::derive(move || {
        !busy.get()
            && state.model_in_use.with(Option::is_some)
            && matches!(state.data.get(), DataState::Ready { .. })
            && epochs.with(|e| e.trim().parse::<usize>().is_ok_and(|n| n > 0))
    });
    let start = move |_| {
        let Ok(epochs) = epochs.get_untracked().trim().parse::<usize>() else {
            return;
        };
        send(Request::Finetune {
            unfreeze: depth.get_untracked(),
            epochs,
            seed: 42,
            limit: image_limit(&images.get_untracked()),
        });
    };
    let status = move || {
        if state.finetune_running.get() {
            return match state.finetune_progress.get() {
                Some(p) => format!(
                    "epoch {}/{} · batch {}/{} · cross-entropy {:.4} · {:.0} images/s",
                    p.epoch, p.epochs, p.batch, p.batches, p.train_loss, p.images_per_s
                ),
                None => "starting…".into(),
            };
        }
        match state.classifier.get() {
            Some(c) => match c.accuracy {
                Some(a) => format!("{}: test accuracy {:.4}", c.name, a),
                None => format!("{} in use (loaded)", c.name),
            },
            None => match state.model_in_use.get() {
                Some((name, _)) => format!("ready to fine-tune from {name}"),
                None => "train or choose an autoencoder first".into(),
            },
        }
    };
    let fraction = move || {
        state.finetune_progress.get().map_or(0.0, |p| {
            ((p.epoch - 1) as f64 + p.batch as f64 / p.batches as f64) / p.epochs as f64
        })
    };
    let confusion = move || {
        let counts = state.classifier.get().and_then(|c| c.confusion)?;
        let header = (0..counts.len())
            .map(|d| view! { <th>{d.to_string()}</th> })
            .collect_view();
        let rows = counts
            .iter()
            .enumerate()
            .map(|(t, row)| {
                let total = row.iter().sum::<usize>().max(1) as f64;
                let cells = row
                    .iter()
                    .map(|&c| {
                        let f = c as f64 / total;
                        let dark = f > 0.5;
                        view! {
                            <td class:dark=dark style:background=format!("rgba(37, 99, 235, {:.2})", f.sqrt())>
                                {if c > 0 { c.to_string() } else { String::new() }}
                            </td>
                        }
                    })
                    .collect_view();
                view! { <tr><th>{t.to_string()}</th>{cells}</tr> }
            })
            .collect_view();
        Some(view! {
            <table class="confusion" id="confusion">
                <caption>"Confusion matrix on the 10,000 test digits (rows: true digit, columns: predicted)"</caption>
                <thead><tr><th></th>{header}</tr></thead>
                <tbody>{rows}</tbody>
            </table>
        })
    };

    view! {
        <section class="card finetune" id="finetune-view">
            <h2>"Fine-tune a classifier"</h2>
            <p class="hint">"The encoder of the model in use plus a layer of 10 digits, trained with cross-entropy. Choose how deep the gradient reaches into the pretrained encoder."</p>
            <div class="row controls">
                <label class="field">
                    <span>"deepest layer that learns"</span>
                    <select id="finetune-depth" prop:disabled=move || busy.get()
                        on:change=move |ev| if let Some(u) = Unfreeze::parse(&event_target_value(&ev)) { depth.set(u) }>
                        {Unfreeze::ALL.into_iter().map(|u| view! {
                            <option value=u.name() selected=u == Unfreeze::All>{u.describe()}</option>
                        }).collect_view()}
                    </select>
                </label>
                <label class="field small">
                    <span>"epochs"</span>
                    <input id="finetune-epochs" type="text" prop:value=move || epochs.get() on:input=move |ev| epochs.set(event_target_value(&ev)) />
                </label>
                <label class="field small" title="fine-tune on the first N of the 60,000 training images">
                    <span>"training images"</span>
                    <input id="finetune-images" type="text" prop:value=move || images.get() on:input=move |ev| images.set(event_target_value(&ev)) />
                </label>
                <button id="finetune-start" class="primary" prop:disabled=move || !can_start.get() on:click=start>"Fine-tune"</button>
                <button id="finetune-stop" prop:disabled=move || !state.finetune_running.get() on:click=move |_| send(Request::Stop)>"Stop"</button>
            </div>
            <div class="progress" role="progressbar" aria-label="fine-tuning progress">
                <div class="bar" style:width=move || format!("{:.1}%", fraction() * 100.0)></div>
            </div>
            <p class="status" id="finetune-status" role="status">{status}</p>
            <div class="split">
                <div>
                    <h3>"Cross-entropy per epoch"</h3>
                    <LossChart history=state.finetune_history progress=state.finetune_progress />
                </div>
                <div>{confusion}</div>
            </div>
        </section>
    }
}
