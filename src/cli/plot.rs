//! Pictures the CLI writes with plotters: latent scatter plots coloured by digit, and confusion
//! matrices. Text is drawn with the DejaVu font bundled in `assets/fonts`, registered once, so
//! a machine without system fonts draws the same picture.

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, register_font};

use super::CliResult;
use crate::inference::Confusion;
use crate::render::DIGIT_COLOURS;

const FONT: &str = "sans-serif";

fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
        // The bundled font is a valid TrueType file; failing here is a build defect.
        let _ = register_font(FONT, FontStyle::Normal, bytes);
    });
}

fn err(path: &Path) -> impl Fn(&dyn std::fmt::Display) -> String + '_ {
    move |e| format!("{}: {e}", path.display())
}

/// A scatter of 2D points coloured by their digit, with a legend, as a PNG.
pub fn scatter(path: &Path, title: &str, points: &[[f32; 2]], labels: &[u8]) -> CliResult {
    register();
    let e = err(path);
    let bounds = |k: usize| {
        let (lo, hi) = points.iter().fold((f32::MAX, f32::MIN), |(lo, hi), p| {
            (lo.min(p[k]), hi.max(p[k]))
        });
        let pad = ((hi - lo) * 0.03).max(1e-3);
        (lo - pad)..(hi + pad)
    };
    let root = BitMapBackend::new(path, (900, 800)).into_drawing_area();
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let (plot, legend) = root.split_horizontally(800);
    let mut chart = ChartBuilder::on(&plot)
        .caption(title, (FONT, 22))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(45)
        .build_cartesian_2d(bounds(0), bounds(1))
        .map_err(|x| e(&x))?;
    chart
        .configure_mesh()
        .label_style((FONT, 13))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(|x| e(&x))?;
    chart
        .draw_series(points.iter().zip(labels).map(|(p, &l)| {
            let (r, g, b) = DIGIT_COLOURS[l as usize % 10];
            Circle::new((p[0], p[1]), 2, RGBColor(r, g, b).mix(0.6).filled())
        }))
        .map_err(|x| e(&x))?;
    for (d, (r, g, b)) in DIGIT_COLOURS.iter().enumerate() {
        let y = 80 + d as i32 * 30;
        legend
            .draw(&Circle::new((20, y), 7, RGBColor(*r, *g, *b).filled()))
            .map_err(|x| e(&x))?;
        legend
            .draw(&Text::new(d.to_string(), (35, y - 9), (FONT, 18)))
            .map_err(|x| e(&x))?;
    }
    root.present().map_err(|x| e(&x))
}

/// The confusion matrix as a heat map with the counts written in, as a PNG.
pub fn confusion(path: &Path, title: &str, matrix: &Confusion) -> CliResult {
    register();
    let e = err(path);
    let n = matrix.counts.len();
    let root = BitMapBackend::new(path, (640, 640)).into_drawing_area();
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT, 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(40)
        // Cells are unit squares centred on whole numbers, so the labels fall mid-cell.
        .build_cartesian_2d(-0.5..n as f64 - 0.5, -0.5..n as f64 - 0.5)
        .map_err(|x| e(&x))?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("predicted")
        .y_desc("true")
        .x_labels(n)
        .y_labels(n)
        .label_style((FONT, 14))
        .x_label_formatter(&|v| format!("{}", v.round()))
        .y_label_formatter(&|v| format!("{}", n as f64 - 1.0 - v.round()))
        .draw()
        .map_err(|x| e(&x))?;
    // Shade by the fraction of the true digit's images: the diagonal dark, confusions visible.
    let cells = matrix.counts.iter().enumerate().flat_map(|(t, row)| {
        let total = row.iter().sum::<usize>().max(1) as f64;
        row.iter()
            .enumerate()
            .map(move |(p, &c)| (t, p, c, c as f64 / total))
    });
    let cells: Vec<_> = cells.collect();
    chart
        .draw_series(cells.iter().map(|&(t, p, _, f)| {
            let (x, y) = (p as f64, (n - 1 - t) as f64);
            let shade = (255.0 * (1.0 - f.sqrt())) as u8;
            Rectangle::new(
                [(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)],
                RGBColor(shade, shade, 255).filled(),
            )
        }))
        .map_err(|x| e(&x))?;
    chart
        .draw_series(cells.iter().filter(|c| c.2 > 0).map(|&(t, p, c, f)| {
            let (x, y) = (p as f64, (n - 1 - t) as f64);
            let colour = if f > 0.5 { WHITE } else { BLACK };
            let style = (FONT, 13)
                .into_font()
                .color(&colour)
                .pos(Pos::new(HPos::Center, VPos::Center));
            Text::new(c.to_string(), (x, y), style)
        }))
        .map_err(|x| e(&x))?;
    root.present().map_err(|x| e(&x))
}
