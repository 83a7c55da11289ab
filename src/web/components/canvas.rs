//! Drawing 28x28 images onto canvases.

use leptos::html::Canvas;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, ImageData};

use crate::render;

/// Paints a gray image (from [`render::grid`]) onto `canvas`, resizing it to fit.
pub fn paint(canvas: &HtmlCanvasElement, gray: &render::Gray) {
    canvas.set_width(gray.width as u32);
    canvas.set_height(gray.height as u32);
    let Some(ctx) = canvas.get_context("2d").ok().flatten() else {
        return;
    };
    let ctx: CanvasRenderingContext2d = ctx.unchecked_into();
    let mut rgba = Vec::with_capacity(gray.pixels.len() * 4);
    for &p in &gray.pixels {
        rgba.extend_from_slice(&[p, p, p, 255]);
    }
    // Copied into a JS array first: in the threaded build the module's memory is shared, and
    // ImageData refuses a view of shared memory.
    let array = js_sys::Uint8ClampedArray::new_with_length(rgba.len() as u32);
    array.copy_from(&rgba);
    if let Ok(data) = ImageData::new_with_js_u8_clamped_array_and_sh(
        &array,
        gray.width as u32,
        gray.height as u32,
    ) {
        let _ = ctx.put_image_data(&data, 0.0, 0.0);
    }
}

/// Paints images of 784 values (row after row of `cols`) onto `canvas`.
pub fn paint_images(
    canvas: &HtmlCanvasElement,
    pixels: &[f32],
    cols: usize,
    scale: usize,
    gap: usize,
) {
    let tiles: Vec<&[f32]> = pixels.chunks_exact(784).collect();
    if tiles.is_empty() {
        // Nothing yet: a blank row of the same shape, so the layout does not jump.
        let blank = [0.0f32; 784];
        paint(
            canvas,
            &render::grid(&vec![&blank[..]; cols], cols, scale, gap),
        );
    } else {
        paint(canvas, &render::grid(&tiles, cols, scale, gap));
    }
}

/// A canvas that shows `pixels` (n x 784) as a grid, redrawn when they change.
#[component]
pub fn Digits(
    #[prop(into)] pixels: Signal<Vec<f32>>,
    #[prop(default = 10)] cols: usize,
    #[prop(default = 2)] scale: usize,
    #[prop(default = 1)] gap: usize,
    #[prop(optional, into)] id: String,
    #[prop(optional, into)] label: String,
) -> impl IntoView {
    let canvas = NodeRef::<Canvas>::new();
    Effect::new(move |_| {
        let pixels = pixels.get();
        if let Some(c) = canvas.get() {
            paint_images(&c, &pixels, cols, scale, gap);
        }
    });
    view! { <canvas class="digits" id=id aria-label=label node_ref=canvas></canvas> }
}
