//! Lays images out as a grid of gray pixels: the native CLI encodes it as PNG, the page draws it.

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
}
