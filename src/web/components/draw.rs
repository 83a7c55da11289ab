//! Draw and corrupt: a 28x28 canvas shown large (mouse, touch, pen), the study's corruptions
//! applied live, and the model's reconstruction and latent code beside it.

use leptos::html::Canvas;
use leptos::prelude::*;
use web_sys::PointerEvent;

use super::canvas::{Digits, paint_images};
use crate::data::{Noise, NoiseStack};
use crate::render::stroke;
use crate::web::link::send;
use crate::web::protocol::Request;
use crate::web::state::AppState;

/// The corruption controls.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Corruption {
    uniform: f32,
    salt_pepper: f32,
    hole: usize,
    rotation: f32,
    seed: u64,
}

impl Corruption {
    fn stack(&self) -> NoiseStack {
        let mut noise = Vec::new();
        if self.rotation > 0.0 {
            noise.push(Noise::Rotation {
                degrees: self.rotation,
            });
        }
        if self.hole > 0 {
            noise.push(Noise::Hole { size: self.hole });
        }
        if self.uniform > 0.0 {
            noise.push(Noise::Uniform {
                amount: self.uniform,
            });
        }
        if self.salt_pepper > 0.0 {
            noise.push(Noise::SaltPepper {
                amount: self.salt_pepper,
            });
        }
        NoiseStack(noise)
    }
}

fn slider(
    label: &'static str,
    id: &'static str,
    min: f64,
    max: f64,
    step: f64,
    value: Signal<f64>,
    set: impl Fn(f64) + 'static,
) -> impl IntoView {
    view! {
        <label class="slider">
            <span>{label}</span>
            <input id=id type="range" min=min max=max step=step prop:value=move || value.get().to_string()
                on:input=move |ev| set(event_target_value(&ev).parse().unwrap_or(0.0)) />
            <output>{move || format!("{}", (value.get() * 100.0).round() / 100.0)}</output>
        </label>
    }
}

#[component]
pub fn DrawView() -> impl IntoView {
    let state = expect_context::<AppState>();
    let drawing = RwSignal::new(vec![0.0f32; 784]);
    let corruption = RwSignal::new(Corruption {
        uniform: 0.0,
        salt_pepper: 0.0,
        hole: 0,
        rotation: 0.0,
        seed: 1,
    });
    let corrupted = Memo::new(move |_| {
        let mut pixels = drawing.get();
        let c = corruption.get();
        c.stack().apply(&mut pixels, c.seed);
        pixels
    });
    let canvas = NodeRef::<Canvas>::new();
    let last_point = StoredValue::new(None::<(f32, f32)>);
    let sample_index = StoredValue::new(0usize);

    // The big canvas shows the clean drawing; the corrupted input sits beside the reconstruction.
    Effect::new(move |_| {
        let pixels = drawing.get();
        if let Some(c) = canvas.get() {
            paint_images(&c, &pixels, 1, 10, 0);
        }
    });

    // Inference: one request in flight; changes meanwhile send one more when it returns.
    let next_id = StoredValue::new(0u64);
    let in_flight = StoredValue::new(false);
    let dirty = StoredValue::new(false);
    let request = move || {
        if state.model_in_use.get_untracked().is_none() {
            return;
        }
        if in_flight.get_value() {
            dirty.set_value(true);
            return;
        }
        in_flight.set_value(true);
        next_id.update_value(|id| *id += 1);
        send(Request::Infer {
            id: next_id.get_value(),
            pixels: corrupted.get_untracked(),
        });
    };
    Effect::new(move |_| {
        corrupted.track();
        state.model_in_use.track();
        // A new classifier labels the drawing at once.
        state.classifier.track();
        request();
    });
    Effect::new(move |_| {
        if state.inference.with(Option::is_some) {
            in_flight.set_value(false);
            if dirty.get_value() {
                dirty.set_value(false);
                request();
            }
        }
    });
    // An error (e.g. no model) also ends the request in flight.
    Effect::new(move |_| {
        state.errors.track();
        in_flight.set_value(false);
    });

    let to_grid = move |ev: &PointerEvent| -> Option<(f32, f32)> {
        let c = canvas.get_untracked()?;
        let (w, h) = (
            c.client_width().max(1) as f32,
            c.client_height().max(1) as f32,
        );
        Some((
            ev.offset_x() as f32 / w * 28.0,
            ev.offset_y() as f32 / h * 28.0,
        ))
    };
    let on_down = move |ev: PointerEvent| {
        ev.prevent_default();
        if let Some(c) = canvas.get_untracked() {
            let _ = c.set_pointer_capture(ev.pointer_id());
        }
        if let Some(p) = to_grid(&ev) {
            last_point.set_value(Some(p));
            drawing.update(|img| stroke(img, p, p));
        }
    };
    let on_move = move |ev: PointerEvent| {
        let (Some(prev), Some(p)) = (last_point.get_value(), to_grid(&ev)) else {
            return;
        };
        ev.prevent_default();
        last_point.set_value(Some(p));
        drawing.update(|img| stroke(img, prev, p));
    };
    let on_up = move |_: PointerEvent| last_point.set_value(None);

    let random_digit = move |_| {
        let (samples, _) = state.samples.get_untracked();
        let n = samples.len() / 784;
        if n == 0 {
            return;
        }
        // Walk the test digits in a scrambled but repeatable order.
        sample_index.update_value(|i| *i = (*i * 7919 + 13) % n);
        let i = sample_index.get_value();
        drawing.set(
            samples[i * 784..(i + 1) * 784]
                .iter()
                .map(|&p| p as f32 / 255.0)
                .collect(),
        );
    };

    let set = move |f: fn(&mut Corruption, f64)| move |v: f64| corruption.update(|c| f(c, v));
    let get = move |f: fn(&Corruption) -> f64| Signal::derive(move || f(&corruption.get()));

    let latent_bars = move || {
        let latent = state.inference.get().map(|i| i.latent).unwrap_or_default();
        let max = latent.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
        latent
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                let width = (v.abs() / max * 50.0).min(50.0);
                let left = if v < 0.0 { 50.0 - width } else { 50.0 };
                view! {
                    <div class="latent-row">
                        <span class="dim">{format!("z{}", i + 1)}</span>
                        <div class="latent-track"><div class="latent-bar" class:neg=v < 0.0 style:left=format!("{left}%") style:width=format!("{width}%")></div></div>
                        <span class="value">{format!("{v:+.2}")}</span>
                    </div>
                }
            })
            .collect_view()
    };

    // The classifier's probabilities for the corrupted drawing, the likeliest digit marked.
    let probability_bars = move || {
        let probs = state
            .inference
            .get()
            .and_then(|i| i.probabilities)
            .unwrap_or_default();
        let best = probs
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(d, _)| d);
        probs
            .into_iter()
            .enumerate()
            .map(|(d, p)| {
                view! {
                    <div class="latent-row" class:best=best == Some(d)>
                        <span class="dim">{d.to_string()}</span>
                        <div class="latent-track"><div class="latent-bar" style:left="0%" style:width=format!("{:.1}%", p * 100.0)></div></div>
                        <span class="value">{format!("{:.0}%", p * 100.0)}</span>
                    </div>
                }
            })
            .collect_view()
    };

    view! {
        <section class="card draw" id="draw-view">
            <h2>"Draw and corrupt"</h2>
            <p class="hint">{move || match state.model_in_use.get() {
                Some((name, _)) => format!("Model in use: {name}. Draw a digit; the reconstruction follows as you draw."),
                None => "Train a model or choose a saved one to see reconstructions. You can draw already.".into(),
            }}</p>
            <div class="draw-grid">
                <div>
                    <canvas id="draw-canvas" class="pad" node_ref=canvas width=280 height=280
                        aria-label="drawing canvas, 28 by 28 pixels"
                        on:pointerdown=on_down on:pointermove=on_move on:pointerup=on_up on:pointercancel=on_up></canvas>
                    <div class="row">
                        <button id="clear" on:click=move |_| drawing.set(vec![0.0; 784])>"Clear"</button>
                        <button id="random-digit" prop:disabled=move || state.samples.with(|s| s.0.is_empty()) on:click=random_digit>"Random test digit"</button>
                        <button id="reseed" title="draw new random noise" on:click=move |_| corruption.update(|c| c.seed += 1)>"New noise"</button>
                    </div>
                </div>
                <div class="corruptions">
                    <h3>"Corruption"</h3>
                    {slider("uniform noise", "noise-urn", 0.0, 2.0, 0.05, get(|c| c.uniform as f64), set(|c, v| c.uniform = v as f32))}
                    {slider("salt & pepper", "noise-snp", 0.0, 0.5, 0.01, get(|c| c.salt_pepper as f64), set(|c, v| c.salt_pepper = v as f32))}
                    {slider("hole size", "noise-hole", 0.0, 20.0, 1.0, get(|c| c.hole as f64), set(|c, v| c.hole = v as usize))}
                    {slider("rotation (°)", "noise-rot", 0.0, 180.0, 5.0, get(|c| c.rotation as f64), set(|c, v| c.rotation = v as f32))}
                    <p class="hint">{move || format!("applied: {}", corruption.get().stack())}</p>
                </div>
                <div class="result">
                    <div>
                        <h3>"Input to the net"</h3>
                        <Digits id="draw-input" label="the drawn digit after corruption" pixels=Signal::derive(move || corrupted.get()) cols=1 scale=6 gap=0 />
                    </div>
                    <div>
                        <h3>"Reconstruction"</h3>
                        <Digits id="draw-recon" label="reconstruction of the drawn digit" pixels=Signal::derive(move || state.inference.get().map(|i| i.reconstruction).unwrap_or_default()) cols=1 scale=6 gap=0 />
                    </div>
                    <div>
                        <h3>"Latent code"</h3>
                        <div class="latent" id="latent"
                            data-latent=move || state.inference.with(|i| i.as_ref().map(|i| i.latent.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(",")).unwrap_or_default())>
                            {latent_bars}
                        </div>
                    </div>
                    <div>
                        <h3>"Classifier"</h3>
                        <p class="hint" class:hidden=move || state.classifier.with(Option::is_some)>"Fine-tune a classifier below to see which digit it reads here."</p>
                        <div class="latent" id="probabilities"
                            data-probabilities=move || state.inference.with(|i| i.as_ref().and_then(|i| i.probabilities.as_ref()).map(|p| p.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(",")).unwrap_or_default())>
                            {probability_bars}
                        </div>
                    </div>
                </div>
            </div>
        </section>
    }
}
