//! Lays images out as a grid of gray pixels: the native CLI encodes it as PNG, the page draws it.

/// One colour per digit in latent views (category10), the same in the CLI's PNGs and the page.
pub const DIGIT_COLOURS: [(u8, u8, u8); 10] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];

/// A gray image, row-major, one byte per pixel.
#[derive(Clone, Debug, PartialEq)]
pub struct Gray {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u8>,
}

/// Places 28x28 images (values in [0, 1], 784 each) in rows of `cols`, each pixel scaled up
/// `scale` times, separated by `gap` pixels of mid-gray so dark digits stay distinguishable.
pub fn grid(images: &[&[f32]], cols: usize, scale: usize, gap: usize) -> Gray {
    let cols = cols.max(1).min(images.len().max(1));
    let rows = images.len().div_ceil(cols);
    let cell = 28 * scale;
    let width = cols * cell + (cols + 1) * gap;
    let height = rows * cell + (rows + 1) * gap;
    let mut pixels = vec![128u8; width * height];
    for (n, image) in images.iter().enumerate() {
        let (r, c) = (n / cols, n % cols);
        let (x0, y0) = (gap + c * (cell + gap), gap + r * (cell + gap));
        for y in 0..cell {
            for x in 0..cell {
                let v = image[(y / scale) * 28 + x / scale].clamp(0.0, 1.0);
                pixels[(y0 + y) * width + x0 + x] = (v * 255.0).round() as u8;
            }
        }
    }
    Gray {
        width,
        height,
        pixels,
    }
}

/// Adds ink along the segment from `a` to `b` (28x28 coordinates) with a soft round brush about
/// three pixels wide, like MNIST's strokes.
pub fn stroke(image: &mut [f32], a: (f32, f32), b: (f32, f32)) {
    let steps = (((b.0 - a.0).hypot(b.1 - a.1)) / 0.25).ceil().max(1.0) as usize;
    for s in 0..=steps {
        let t = s as f32 / steps as f32;
        let (cx, cy) = (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t);
        for y in (cy - 2.0).floor().max(0.0) as usize..=((cy + 2.0).ceil() as usize).min(27) {
            for x in (cx - 2.0).floor().max(0.0) as usize..=((cx + 2.0).ceil() as usize).min(27) {
                let d = (x as f32 + 0.5 - cx).hypot(y as f32 + 0.5 - cy);
                let ink = (1.6 - d).clamp(0.0, 1.0);
                let p = &mut image[y * 28 + x];
                *p = p.max(ink);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_and_scales_images() {
        let a = vec![1.0f32; 784];
        let mut b = vec![0.0f32; 784];
        b[0] = 0.5;
        let g = grid(&[&a, &b, &a], 2, 2, 1);
        assert_eq!((g.width, g.height), (2 * 56 + 3, 2 * 56 + 3));
        assert_eq!(g.pixels[0], 128, "gap");
        assert_eq!(g.pixels[g.width + 1], 255, "first image, top-left");
        let bx = 1 + 56 + 1;
        assert_eq!(g.pixels[g.width + bx], 128, "0.5 -> 128");
        assert_eq!(
            g.pixels[g.width + bx + 2],
            0,
            "second image, next source pixel"
        );
        assert_eq!(
            g.pixels[(g.height - 2) * g.width + g.width - 2],
            128,
            "empty fourth cell"
        );
    }

    #[test]
    fn a_stroke_inks_a_line_about_three_pixels_wide() {
        let mut img = vec![0.0f32; 784];
        stroke(&mut img, (4.5, 14.5), (23.5, 14.5));
        assert_eq!(img[14 * 28 + 10], 1.0);
        assert!(img[13 * 28 + 10] > 0.5 && img[15 * 28 + 10] > 0.5);
        assert_eq!(img[11 * 28 + 10], 0.0);
        assert_eq!(img[14 * 28 + 27], 0.0);
        // Strokes near the border stay inside the image.
        stroke(&mut img, (-3.0, -3.0), (40.0, 40.0));
        assert!(img.iter().all(|p| (0.0..=1.0).contains(p)));
    }
}
