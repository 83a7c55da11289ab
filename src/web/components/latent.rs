//! The latent space: 2D views of the test digits' codes (PCA, t-SNE, a slice) for the
//! autoencoder and the fine-tuned classifier side by side (hover a point to see its digit), one
//! slider per latent dimension with the decoded image redrawn live, and interpolation between
//! two digits.

use leptos::html::Canvas;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{CanvasRenderingContext2d, MouseEvent};

use super::canvas::Digits;
use crate::latent::{Method, interpolate};
use crate::render::DIGIT_COLOURS;
use crate::web::link::send;
use crate::web::protocol::{Embedder, Request};
use crate::web::state::{AppState, Embedding};

const SIDE: f64 = 360.0;
const PAD: f64 = 8.0;
/// Images in an interpolation strip.
const STEPS: usize = 8;

/// Where each point of `e` lands on the canvas.
fn layout(e: &Embedding) -> Vec<(f64, f64)> {
    let (mut lo, mut hi) = ([f32::MAX; 2], [f32::MIN; 2]);
    for p in &e.points {
        for k in 0..2 {
            lo[k] = lo[k].min(p[k]);
            hi[k] = hi[k].max(p[k]);
        }
    }
    let span = |k: usize| ((hi[k] - lo[k]) as f64).max(1e-9);
    e.points
        .iter()
        .map(|p| {
            let x = PAD + (p[0] - lo[0]) as f64 / span(0) * (SIDE - 2.0 * PAD);
            let y = SIDE - PAD - (p[1] - lo[1]) as f64 / span(1) * (SIDE - 2.0 * PAD);
            (x, y)
        })
        .collect()
}

/// One latent view on a canvas, with the digit under the pointer shown beside it.
#[component]
fn Scatter(
    embedding: RwSignal<Option<Embedding>>,
    which: Embedder,
    id: &'static str,
    title: &'static str,
) -> impl IntoView {
    let state = expect_context::<AppState>();
    let canvas = NodeRef::<Canvas>::new();
    let positions = Memo::new(move |_| embedding.with(|e| e.as_ref().map(layout)));
    let hovered = RwSignal::new(None::<usize>);
    Effect::new(move |_| {
        let Some(c) = canvas.get() else { return };
        let Some(ctx) = c.get_context("2d").ok().flatten() else {
            return;
        };
        let ctx: CanvasRenderingContext2d = ctx.unchecked_into();
        ctx.set_fill_style_str("#fff");
        ctx.fill_rect(0.0, 0.0, SIDE, SIDE);
        let labels = embedding.with(|e| e.as_ref().map(|e| e.labels.clone()));
        if let (Some(pos), Some(labels)) = (positions.get(), labels) {
            for (&(x, y), &l) in pos.iter().zip(&labels) {
                let (r, g, b) = DIGIT_COLOURS[l as usize % 10];
                ctx.set_fill_style_str(&format!("rgba({r},{g},{b},0.65)"));
                ctx.fill_rect(x - 1.5, y - 1.5, 3.0, 3.0);
            }
        }
    });
    let on_move = move |ev: MouseEvent| {
        let Some(c) = canvas.get_untracked() else {
            return;
        };
        let scale = SIDE / c.client_width().max(1) as f64;
        let (mx, my) = (ev.offset_x() as f64 * scale, ev.offset_y() as f64 * scale);
        let nearest = positions.with_untracked(|pos| {
            pos.as_ref()?
                .iter()
                .enumerate()
                .map(|(i, &(x, y))| (i, (x - mx).powi(2) + (y - my).powi(2)))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .filter(|&(_, d)| d < 100.0)
                .map(|(i, _)| i)
        });
        hovered.set(nearest);
    };
    let hovered_image = Signal::derive(move || {
        let i = hovered.get()?;
        embedding.with(|e| {
            let e = e.as_ref()?;
            Some(
                e.images
                    .get(i * 784..(i + 1) * 784)?
                    .iter()
                    .map(|&p| p as f32 / 255.0)
                    .collect::<Vec<f32>>(),
            )
        })
    });
    let caption = move || {
        if let Some((w, it, total)) = state.embedding_busy.get()
            && w == which
        {
            return if total > 0 {
                format!("computing… t-SNE iteration {it}/{total}")
            } else {
                "computing…".into()
            };
        }
        embedding.with(|e| match e {
            Some(e) => format!(
                "{} of {} test digits in {:.2} s",
                match e.method {
                    // Dimensions as the page numbers them (z1, z2, ...).
                    Method::Slice { x, y } => format!("slice z{}, z{}", x + 1, y + 1),
                    m => m.name(),
                },
                e.points.len(),
                e.seconds
            ),
            None => "not computed yet".into(),
        })
    };
    let hover_text = move || {
        let i = hovered.get()?;
        let label = embedding.with(|e| e.as_ref().and_then(|e| e.labels.get(i).copied()))?;
        Some(format!("test digit #{i}: a {label}"))
    };
    view! {
        <div class="scatter">
            <h3>{title}</h3>
            <canvas id=id class="scatter-canvas" node_ref=canvas width=SIDE as u32 height=SIDE as u32
                aria-label=title on:mousemove=on_move on:mouseleave=move |_| hovered.set(None)></canvas>
            <p class="status" id=format!("{id}-caption")>{caption}</p>
            <div class="hover" id=format!("{id}-hover") class:hidden=move || hovered.with(Option::is_none)>
                <Digits pixels=Signal::derive(move || hovered_image.get().unwrap_or_default()) cols=1 scale=3 gap=0 />
                <span>{hover_text}</span>
            </div>
        </div>
    }
}

/// One slider per latent dimension, the decoded image redrawn as they move.
#[component]
fn Sliders() -> impl IntoView {
    let state = expect_context::<AppState>();
    let code = RwSignal::new(Vec::<f32>::new());
    let slider_id = StoredValue::new(0u64);
    let a = RwSignal::new(None::<Vec<f32>>);
    let b = RwSignal::new(None::<Vec<f32>>);
    let strip_id = StoredValue::new(0u64);
    let decoded = RwSignal::new(Vec::<f32>::new());
    let strip = RwSignal::new(Vec::<f32>::new());
    // Ids: sliders odd, strips even, so one Decoded stream serves both.
    let next = StoredValue::new(0u64);
    let request = move |codes: Vec<f32>, slot: StoredValue<u64>, parity: u64| {
        next.update_value(|n| *n += 1);
        let id = next.get_value() * 2 + parity;
        slot.set_value(id);
        send(Request::Decode { id, codes });
    };
    // A new model: the sliders start at the mean code.
    Effect::new(move |_| {
        if let Some(r) = state.ranges.get() {
            code.set(r.mean.clone());
            a.set(None);
            b.set(None);
            strip.set(Vec::new());
        }
    });
    Effect::new(move |_| {
        let c = code.get();
        if !c.is_empty() && state.model_in_use.with_untracked(Option::is_some) {
            request(c, slider_id, 1);
        }
    });
    Effect::new(move |_| {
        if let Some((id, images)) = state.decoded.get() {
            if id == slider_id.get_value() {
                decoded.set(images);
            } else if id == strip_id.get_value() {
                strip.set(images);
            }
        }
    });
    let drawn = move || {
        state
            .inference
            .with_untracked(|i| i.as_ref().map(|i| i.latent.clone()))
    };
    let rows = move || {
        let Some(r) = state.ranges.get() else {
            return vec![].into_iter().collect_view();
        };
        (0..r.mean.len())
            .map(|d| {
                let (lo, hi) = (r.min[d] as f64, r.max[d] as f64);
                let step = ((hi - lo) / 200.0).max(1e-6);
                view! {
                    <label class="slider">
                        <span>{format!("z{}", d + 1)}</span>
                        <input type="range" class="latent-slider" min=lo max=hi step=step
                            prop:value=move || code.with(|c| c.get(d).copied().unwrap_or(0.0).to_string())
                            on:input=move |ev| {
                                let v: f32 = event_target_value(&ev).parse().unwrap_or(0.0);
                                code.update(|c| if let Some(x) = c.get_mut(d) { *x = v });
                            } />
                        <output>{move || code.with(|c| format!("{:+.2}", c.get(d).copied().unwrap_or(0.0)))}</output>
                    </label>
                }
            })
            .collect_view()
    };
    let set_from_drawing = move |slot: RwSignal<Option<Vec<f32>>>| {
        move |_| match drawn() {
            Some(latent) => slot.set(Some(latent)),
            None => state.error("draw a digit (or pick a random test digit) above first"),
        }
    };
    let run_strip = move |_| {
        if let (Some(a), Some(b)) = (a.get_untracked(), b.get_untracked()) {
            request(interpolate(&a, &b, STEPS), strip_id, 0);
        }
    };
    view! {
        <div class="split">
            <div>
                <h3>"Latent sliders"</h3>
                <p class="hint">"Each slider spans the range of its dimension over 2,000 test digits."</p>
                <div id="latent-sliders">{rows}</div>
                <div class="row">
                    <button id="sliders-from-drawing" on:click=move |_| match drawn() {
                        Some(latent) => code.set(latent),
                        None => state.error("draw a digit (or pick a random test digit) above first"),
                    }>"Start from the drawing"</button>
                    <button id="sliders-mean" on:click=move |_| if let Some(r) = state.ranges.get_untracked() { code.set(r.mean) }>"Mean code"</button>
                </div>
            </div>
            <div>
                <h3>"Decoded"</h3>
                <Digits id="slider-image" label="image decoded from the sliders" pixels=Signal::derive(move || decoded.get()) cols=1 scale=6 gap=0 />
                <h3>"Interpolate between two digits"</h3>
                <div class="row">
                    <button id="interp-a" on:click=set_from_drawing(a)>{move || if a.with(Option::is_some) { "A ✓ (from drawing)" } else { "A ← drawing" }}</button>
                    <button id="interp-b" on:click=set_from_drawing(b)>{move || if b.with(Option::is_some) { "B ✓ (from drawing)" } else { "B ← drawing" }}</button>
                    <button id="interp-run" prop:disabled=move || a.with(Option::is_none) || b.with(Option::is_none) on:click=run_strip>"Interpolate"</button>
                </div>
                <Digits id="interp-strip" label="decoded images from A to B" pixels=Signal::derive(move || strip.get()) cols=STEPS scale=2 />
            </div>
        </div>
    }
}

#[component]
pub fn LatentView() -> impl IntoView {
    let state = expect_context::<AppState>();
    let method = RwSignal::new(String::from("pca"));
    let dims = RwSignal::new(String::from("1, 2"));
    let points = RwSignal::new(String::from("2000"));
    let parsed = Memo::new(move |_| -> Result<(Method, usize), String> {
        let n: usize = points
            .get()
            .trim()
            .parse()
            .map_err(|_| "points: a whole number".to_string())?;
        let m = match method.get().as_str() {
            "tsne" => Method::Tsne,
            "slice" => {
                let d: Vec<usize> = dims
                    .get()
                    .split(',')
                    .map(|s| s.trim().parse::<usize>())
                    .collect::<Result<_, _>>()
                    .map_err(|_| "dimensions: two numbers, e.g. 1, 2".to_string())?;
                let latent = state
                    .model_in_use
                    .with(|m| m.as_ref().map_or(usize::MAX, |m| m.1));
                match d[..] {
                    // The page counts dimensions from 1 (z1, z2, ...), as the bars and sliders.
                    [x, y] if x != y && (1..=latent).contains(&x) && (1..=latent).contains(&y) => {
                        Method::Slice { x: x - 1, y: y - 1 }
                    }
                    _ => {
                        return Err(format!(
                            "dimensions: two different numbers from 1 to {latent}, e.g. 1, 2"
                        ));
                    }
                }
            }
            _ => Method::Pca,
        };
        Ok((m, n.clamp(10, 10_000)))
    });
    let busy = Signal::derive(move || state.embedding_busy.with(Option::is_some));
    let show = move |_| {
        let Ok((method, points)) = parsed.get_untracked() else {
            return;
        };
        state
            .embedding_busy
            .set(Some((Embedder::Autoencoder, 0, 0)));
        send(Request::Embed {
            which: Embedder::Autoencoder,
            method,
            points,
        });
        if state.classifier.with_untracked(Option::is_some) {
            send(Request::Embed {
                which: Embedder::Classifier,
                method,
                points,
            });
        }
    };
    view! {
        <section class="card latent-view" id="latent-view">
            <h2>"Latent space"</h2>
            <p class="hint">"The test digits' latent codes in 2D, coloured by digit: the autoencoder's beside the fine-tuned classifier's (as in the study's Figure 4). Hover a point to see its digit."</p>
            <div class="row controls">
                <label class="field">
                    <span>"method"</span>
                    <select id="latent-method" on:change=move |ev| method.set(event_target_value(&ev))>
                        <option value="pca" selected=true>"PCA (2 components)"</option>
                        <option value="tsne">"t-SNE"</option>
                        <option value="slice">"slice: two latent dimensions"</option>
                    </select>
                </label>
                <label class="field small" class:hidden=move || method.get() != "slice">
                    <span>"dimensions"</span>
                    <input id="latent-dims" type="text" prop:value=move || dims.get() on:input=move |ev| dims.set(event_target_value(&ev)) />
                </label>
                <label class="field small" title="the first N of the 10,000 test digits">
                    <span>"points"</span>
                    <input id="latent-points" type="text" prop:value=move || points.get() on:input=move |ev| points.set(event_target_value(&ev)) />
                </label>
                <button id="latent-show" class="primary"
                    prop:disabled=move || busy.get() || parsed.with(Result::is_err) || state.model_in_use.with(Option::is_none)
                    on:click=show>"Show"</button>
            </div>
            <p class="status bad" id="latent-check" class:hidden=move || parsed.with(Result::is_ok)>{move || parsed.get().err().unwrap_or_default()}</p>
            <div class="legend">
                {DIGIT_COLOURS.iter().enumerate().map(|(d, (r, g, b))| view! {
                    <span><i style:background=format!("rgb({r},{g},{b})")></i>{d.to_string()}</span>
                }).collect_view()}
            </div>
            <div class="scatters">
                <Scatter embedding=state.embedding_ae which=Embedder::Autoencoder id="scatter-ae" title="Autoencoder" />
                <Scatter embedding=state.embedding_clf which=Embedder::Classifier id="scatter-clf" title="Fine-tuned classifier" />
            </div>
            <Sliders />
        </section>
    }
}
