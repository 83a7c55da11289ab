//! The live loss chart: training and validation loss per epoch, plus the running loss of the
//! epoch in progress; or, for a run of two nets (a GAN), their two losses.

use leptos::prelude::*;

use crate::training::{EpochRecord, NamedLoss, Progress};

/// How a named loss is called in the legend.
fn legend(name: &str) -> &'static str {
    match name {
        "d" => "discriminator",
        "g" => "generator",
        _ => "loss",
    }
}

const W: f64 = 460.0;
const H: f64 = 220.0;
const PAD_L: f64 = 56.0;
const PAD_R: f64 = 12.0;
const PAD_T: f64 = 12.0;
const PAD_B: f64 = 30.0;

/// (epoch, loss) values to pixels of the plot.
fn pixels(values: &[(f64, f64)], x_max: f64, lo: f64, hi: f64) -> Vec<(f64, f64)> {
    values
        .iter()
        .filter(|(_, y)| y.is_finite())
        .map(|&(x, y)| {
            let px = PAD_L + (x / x_max) * (W - PAD_L - PAD_R);
            let py = PAD_T + (1.0 - (y - lo) / (hi - lo)) * (H - PAD_T - PAD_B);
            (px, py)
        })
        .collect()
}

/// A polyline's `points` attribute.
fn polyline(pixels: &[(f64, f64)]) -> String {
    pixels
        .iter()
        .map(|(x, y)| format!("{x:.1},{y:.1}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A marker on each point, so a one-point series (the first epoch) still shows.
fn markers(pixels: Vec<(f64, f64)>, class: &'static str) -> impl IntoView {
    pixels
        .into_iter()
        .map(|(x, y)| view! { <circle cx=format!("{x:.1}") cy=format!("{y:.1}") r="3" class=class></circle> })
        .collect_view()
}

/// The value of the loss `name` among `losses` (NaN if absent).
fn named(losses: &[NamedLoss], name: &str) -> f64 {
    losses
        .iter()
        .find(|l| l.name == name)
        .map_or(f64::NAN, |l| l.value)
}

#[component]
pub fn LossChart(
    history: RwSignal<Vec<EpochRecord>>,
    progress: RwSignal<Option<Progress>>,
    /// Plot these two named losses (e.g. a GAN's "d" and "g", both live) instead of training
    /// and validation loss.
    #[prop(optional)]
    pair: Option<(&'static str, &'static str)>,
    #[prop(default = "loss-chart")] id: &'static str,
) -> impl IntoView {
    let first = move |r: &EpochRecord| pair.map_or(r.train_loss, |(a, _)| named(&r.losses, a));
    let second = move |r: &EpochRecord| pair.map_or(r.val_loss, |(_, b)| named(&r.losses, b));
    let geometry = Memo::new(move |_| {
        let history = history.get();
        let progress = progress.get();
        let mut train: Vec<(f64, f64)> =
            history.iter().map(|r| (r.epoch as f64, first(r))).collect();
        let mut val: Vec<(f64, f64)> = history
            .iter()
            .map(|r| (r.epoch as f64, second(r)))
            .collect();
        // The epoch in progress: its running training loss (both losses of a pair), at its
        // fraction of the epoch.
        if let Some(p) = progress.filter(|p| p.batch < p.batches || history.len() < p.epoch) {
            let x = p.epoch as f64 - 1.0 + p.batch as f64 / p.batches as f64;
            match pair {
                None => train.push((x, p.train_loss)),
                Some((a, b)) => {
                    train.push((x, named(&p.losses, a)));
                    val.push((x, named(&p.losses, b)));
                }
            }
        }
        let all = train
            .iter()
            .chain(&val)
            .map(|p| p.1)
            .filter(|v| v.is_finite());
        let (mut lo, mut hi) = all.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
        if lo > hi {
            (lo, hi) = (0.0, 1.0);
        }
        let margin = ((hi - lo) * 0.08).max(1e-4);
        // Losses that cannot go negative keep 0 as the floor; a critic's scores can.
        let floor = if lo >= 0.0 { 0.0 } else { f64::MIN };
        let (lo, hi) = ((lo - margin).max(floor), hi + margin);
        let x_max = train.iter().map(|p| p.0).fold(1.0, f64::max).ceil();
        (
            pixels(&train, x_max, lo, hi),
            pixels(&val, x_max, lo, hi),
            lo,
            hi,
            x_max,
        )
    });
    let y_label = move |frac: f64| {
        let (_, _, lo, hi, _) = geometry.get();
        format!("{:.4}", lo + (hi - lo) * frac)
    };
    view! {
        <svg class="chart" viewBox=format!("0 0 {W} {H}") role="img" aria-label="losses per epoch" id=id
            data-val=move || history.with(|h| h.iter().map(|r| format!("{:.6}", second(r))).collect::<Vec<_>>().join(","))
            data-train=move || history.with(|h| h.iter().map(|r| format!("{:.6}", first(r))).collect::<Vec<_>>().join(","))>
            <rect x=PAD_L y=PAD_T width=W - PAD_L - PAD_R height=H - PAD_T - PAD_B class="plot"></rect>
            {[0.0, 0.5, 1.0].into_iter().map(|f| {
                let y = PAD_T + (1.0 - f) * (H - PAD_T - PAD_B);
                view! {
                    <line x1=PAD_L x2=W - PAD_R y1=y y2=y class="grid"></line>
                    <text x=PAD_L - 6.0 y=y + 4.0 class="tick" text-anchor="end">{move || y_label(f)}</text>
                }
            }).collect_view()}
            <text x=PAD_L y=H - 8.0 class="tick">"epoch 0"</text>
            <text x=W - PAD_R y=H - 8.0 class="tick" text-anchor="end">{move || format!("epoch {}", geometry.get().4)}</text>
            <polyline class="train" points=move || polyline(&geometry.get().0)></polyline>
            <polyline class="val" points=move || polyline(&geometry.get().1)></polyline>
            {move || markers(geometry.get().0, "train")}
            {move || markers(geometry.get().1, "val")}
        </svg>
        <div class="legend">
            <span class="swatch train"></span>{pair.map_or("training", |(a, _)| legend(a))}
            " " <span class="swatch val"></span>{pair.map_or("validation", |(_, b)| legend(b))}
        </div>
    }
}
