//! [`ConvKernels`] for flex (CPU, natively and in wasm): im2col / col2im and GEMM.
//!
//! All six primitives reduce to three loops over the batch, each a GEMM per sample against the
//! unfolded ("im2col") view of an image:
//!
//! | primitive | routine |
//! | --- | --- |
//! | conv forward, transposed-conv input gradient | [`unfold_matmul`]: `A · im2col(image)` |
//! | conv input gradient, transposed-conv forward | [`matmul_fold`]: `col2im(Aᵀ · src)` |
//! | both weight gradients | [`outer_unfold`]: `Σ src · im2col(image)ᵀ` |
//!
//! Samples are split into one block per thread (rayon natively and in the page's `threads` build,
//! one block in the single-threaded wasm build); each block
//! reuses one unfold buffer, and the weight gradient sums one partial per block. Shapes these
//! kernels do not cover (groups, dilation, other dtypes) fall back to burn's own flex ops.

use burn::backend::flex::FlexTensor;
use burn::backend::ops::ModuleOps;
use burn::backend::{Flex, TensorMetadata};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::{DType, TensorData};

use super::ConvKernels;
use crate::parallel::{run_all, threads};

impl ConvKernels for Flex {
    fn lab_conv2d(x: FlexTensor, weight: FlexTensor, options: ConvOptions<2>) -> FlexTensor {
        let Some(win) = conv_window(&x, &weight, &options) else {
            return Self::conv2d(x, weight, None, options);
        };
        let (n, o) = (x.shape()[0], weight.shape()[0]);
        let (x, weight) = (contiguous(x), contiguous(weight));
        let out = unfold_matmul(f32s(&x), f32s(&weight), o, &win, n);
        tensor(out, [n, o, win.oh, win.ow])
    }

    fn lab_conv2d_x_backward(
        x: FlexTensor,
        weight: FlexTensor,
        output_grad: FlexTensor,
        options: ConvOptions<2>,
    ) -> FlexTensor {
        let Some(win) = conv_window(&x, &weight, &options) else {
            return Self::conv2d_x_backward(x, weight, output_grad, options);
        };
        let (n, o) = (x.shape()[0], weight.shape()[0]);
        let (weight, grad) = (contiguous(weight), contiguous(output_grad));
        let dx = matmul_fold(f32s(&grad), f32s(&weight), o, &win, n);
        tensor(dx, [n, win.c, win.h, win.w])
    }

    fn lab_conv2d_weight_backward(
        x: FlexTensor,
        weight: FlexTensor,
        output_grad: FlexTensor,
        options: ConvOptions<2>,
    ) -> FlexTensor {
        let Some(win) = conv_window(&x, &weight, &options) else {
            return Self::conv2d_weight_backward(x, weight, output_grad, options);
        };
        let (n, o) = (x.shape()[0], weight.shape()[0]);
        let (x, grad) = (contiguous(x), contiguous(output_grad));
        let dw = outer_unfold(f32s(&grad), f32s(&x), o, &win, n);
        tensor(dw, [o, win.c, win.kh, win.kw])
    }

    fn lab_conv_transpose2d_backward(
        x: FlexTensor,
        weight: FlexTensor,
        output_grad: FlexTensor,
        options: ConvTransposeOptions<2>,
        wanted: [bool; 2],
    ) -> (Option<FlexTensor>, Option<FlexTensor>) {
        let win = transpose_window(&x, &weight, &options).filter(|win| {
            let gs = output_grad.shape();
            gs.num_dims() == 4 && [gs[1], gs[2], gs[3]] == [win.c, win.h, win.w]
        });
        let (Some(win), [true, true]) = (win, wanted) else {
            // One gradient (or a shape these kernels leave to burn): nothing to share.
            let dx = wanted[0].then(|| {
                Self::lab_conv_transpose2d_x_backward(
                    weight.clone(),
                    output_grad.clone(),
                    options.clone(),
                )
            });
            let dw = wanted[1].then(|| {
                Self::lab_conv_transpose2d_weight_backward(x, weight, output_grad, options)
            });
            return (dx, dw);
        };
        let (n, c_in) = (x.shape()[0], x.shape()[1]);
        let (x, weight, grad) = (contiguous(x), contiguous(weight), contiguous(output_grad));
        let (dx, dw) = unfold_both(f32s(&grad), f32s(&weight), f32s(&x), c_in, &win, n);
        (
            Some(tensor(dx, [n, c_in, win.oh, win.ow])),
            Some(tensor(dw, [c_in, win.c, win.kh, win.kw])),
        )
    }

    fn lab_conv_transpose2d(
        x: FlexTensor,
        weight: FlexTensor,
        options: ConvTransposeOptions<2>,
    ) -> FlexTensor {
        let Some(win) = transpose_window(&x, &weight, &options) else {
            return Self::conv_transpose2d(x, weight, None, options);
        };
        let (n, c_in) = (x.shape()[0], x.shape()[1]);
        let (x, weight) = (contiguous(x), contiguous(weight));
        let out = matmul_fold(f32s(&x), f32s(&weight), c_in, &win, n);
        tensor(out, [n, win.c, win.h, win.w])
    }

    fn lab_conv_transpose2d_x_backward(
        weight: FlexTensor,
        output_grad: FlexTensor,
        options: ConvTransposeOptions<2>,
    ) -> FlexTensor {
        // The input's size is the one a convolution of the output gradient gives back.
        let Some(win) = transpose_window_of_output(&output_grad, &weight, &options) else {
            return Self::conv_transpose2d_x_backward(weight, output_grad, options);
        };
        let (n, c_in) = (output_grad.shape()[0], weight.shape()[0]);
        let (weight, grad) = (contiguous(weight), contiguous(output_grad));
        let dx = unfold_matmul(f32s(&grad), f32s(&weight), c_in, &win, n);
        tensor(dx, [n, c_in, win.oh, win.ow])
    }

    fn lab_conv_transpose2d_weight_backward(
        x: FlexTensor,
        weight: FlexTensor,
        output_grad: FlexTensor,
        options: ConvTransposeOptions<2>,
    ) -> FlexTensor {
        let Some(win) = transpose_window(&x, &weight, &options) else {
            return Self::conv_transpose2d_weight_backward(x, weight, output_grad, options);
        };
        let (n, c_in) = (x.shape()[0], x.shape()[1]);
        let (x, grad) = (contiguous(x), contiguous(output_grad));
        let dw = outer_unfold(f32s(&x), f32s(&grad), c_in, &win, n);
        tensor(dw, [c_in, win.c, win.kh, win.kw])
    }
}

/// A sliding window over a `[c, h, w]` image: `kh x kw` taps, strides `sh`/`sw`, `ph`/`pw` zeros
/// before the first row/column, `oh x ow` positions. Its im2col matrix is
/// `[c * kh * kw, oh * ow]`, row `(ci, ki, kj)`, column `(oy, ox)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Window {
    c: usize,
    h: usize,
    w: usize,
    kh: usize,
    kw: usize,
    sh: usize,
    sw: usize,
    ph: usize,
    pw: usize,
    oh: usize,
    ow: usize,
}

pub(super) fn is_f32(t: &FlexTensor) -> bool {
    t.dtype() == DType::F32
}

/// The window of `conv2d(x, weight)`, or `None` where these kernels do not apply.
fn conv_window(x: &FlexTensor, weight: &FlexTensor, options: &ConvOptions<2>) -> Option<Window> {
    let (xs, ws) = (x.shape(), weight.shape());
    if !is_f32(x) || !is_f32(weight) || options.groups != 1 || options.dilation != [1, 1] {
        return None;
    }
    if xs.num_dims() != 4 || ws.num_dims() != 4 || xs[1] != ws[1] {
        return None;
    }
    let [(top, bottom), (left, right)] = options.padding;
    let (h, w, kh, kw) = (xs[2], xs[3], ws[2], ws[3]);
    let [sh, sw] = options.stride;
    if h + top + bottom < kh || w + left + right < kw {
        return None;
    }
    Some(Window {
        c: xs[1],
        h,
        w,
        kh,
        kw,
        sh,
        sw,
        ph: top,
        pw: left,
        oh: (h + top + bottom - kh) / sh + 1,
        ow: (w + left + right - kw) / sw + 1,
    })
}

/// The window of the convolution whose adjoint is `conv_transpose2d(x, weight)`: it slides over
/// the transposed convolution's output and has one position per input pixel.
fn transpose_window(
    x: &FlexTensor,
    weight: &FlexTensor,
    options: &ConvTransposeOptions<2>,
) -> Option<Window> {
    let (xs, ws) = (x.shape(), weight.shape());
    if !transposable(x, weight, options) || xs[1] != ws[0] || xs[2] == 0 || xs[3] == 0 {
        return None;
    }
    let side = |input: usize, k: usize, s: usize, p: usize, po: usize| {
        ((input - 1) * s + k + po).checked_sub(2 * p)
    };
    let [sh, sw] = options.stride;
    let [ph, pw] = options.padding;
    let [poh, pow] = options.padding_out;
    Some(Window {
        c: ws[1],
        h: side(xs[2], ws[2], sh, ph, poh)?,
        w: side(xs[3], ws[3], sw, pw, pow)?,
        kh: ws[2],
        kw: ws[3],
        sh,
        sw,
        ph,
        pw,
        oh: xs[2],
        ow: xs[3],
    })
}

/// [`transpose_window`] read from the transposed convolution's output (gradient) instead of its
/// input: the input size is what a convolution of the output gives back.
fn transpose_window_of_output(
    out: &FlexTensor,
    weight: &FlexTensor,
    options: &ConvTransposeOptions<2>,
) -> Option<Window> {
    let (os, ws) = (out.shape(), weight.shape());
    if !transposable(out, weight, options) || os[1] != ws[1] {
        return None;
    }
    let [sh, sw] = options.stride;
    let [ph, pw] = options.padding;
    let (h, w) = (os[2], os[3]);
    if h + 2 * ph < ws[2] || w + 2 * pw < ws[3] {
        return None;
    }
    Some(Window {
        c: ws[1],
        h,
        w,
        kh: ws[2],
        kw: ws[3],
        sh,
        sw,
        ph,
        pw,
        oh: (h + 2 * ph - ws[2]) / sh + 1,
        ow: (w + 2 * pw - ws[3]) / sw + 1,
    })
}

fn transposable(t: &FlexTensor, weight: &FlexTensor, options: &ConvTransposeOptions<2>) -> bool {
    is_f32(t)
        && is_f32(weight)
        && options.groups == 1
        && options.dilation == [1, 1]
        && t.shape().num_dims() == 4
        && weight.shape().num_dims() == 4
}

impl Window {
    fn rows(&self) -> usize {
        self.c * self.kh * self.kw
    }

    fn positions(&self) -> usize {
        self.oh * self.ow
    }

    fn pixels(&self) -> usize {
        self.c * self.h * self.w
    }

    /// The positions `o < out` whose tap `o * s + k - p` falls inside `0..len`, as a range.
    fn valid(out: usize, len: usize, s: usize, k: usize, p: usize) -> (usize, usize) {
        let lo = if p > k { (p - k).div_ceil(s) } else { 0 };
        let hi = if len + p > k {
            ((len + p - k - 1) / s + 1).min(out)
        } else {
            0
        };
        (lo.min(hi), hi)
    }

    /// Visits every (im2col row segment, image row segment) pair that overlaps: `f(col_range,
    /// image_start, stride)` for im2col entries `col_range.start..` (in a matrix whose rows are
    /// `ld` apart) reading image index `image_start + (entry - col_range.start) * stride`.
    /// Positions outside the image are skipped (zero in im2col, dropped in col2im).
    #[inline(always)]
    fn for_each_run(&self, ld: usize, mut f: impl FnMut(usize, usize, usize, usize)) {
        for ci in 0..self.c {
            for ki in 0..self.kh {
                let (ylo, yhi) = Self::valid(self.oh, self.h, self.sh, ki, self.ph);
                for kj in 0..self.kw {
                    let (xlo, xhi) = Self::valid(self.ow, self.w, self.sw, kj, self.pw);
                    if xlo >= xhi {
                        continue;
                    }
                    let row = ((ci * self.kh + ki) * self.kw + kj) * ld;
                    for oy in ylo..yhi {
                        let iy = oy * self.sh + ki - self.ph;
                        let col = row + oy * self.ow + xlo;
                        let pixel = (ci * self.h + iy) * self.w + xlo * self.sw + kj - self.pw;
                        f(col, pixel, xhi - xlo, self.sw);
                    }
                }
            }
        }
    }

    /// Writes `im2col(image)` into `cols` (rows `ld` apart, this image's columns from the start
    /// of the slice), run by run. Entries of positions outside the image are left as they are
    /// (zero).
    fn im2col_runs(&self, image: &[f32], cols: &mut [f32], ld: usize) {
        self.for_each_run(
            ld,
            #[inline(always)]
            |col, pixel, len, stride| {
                let dst = &mut cols[col..col + len];
                let src = &image[pixel..pixel + (len - 1) * stride + 1];
                match stride {
                    1 => dst.copy_from_slice(src),
                    2 => take_every::<2>(dst, src),
                    _ => dst
                        .iter_mut()
                        .zip(src.iter().step_by(stride))
                        .for_each(|(d, s)| *d = *s),
                }
            },
        );
    }

    /// `image += col2im(cols)` (layout as in [`Window::im2col_runs`]), run by run: each column's
    /// values summed back onto the pixels it read.
    fn col2im_runs(&self, cols: &[f32], ld: usize, image: &mut [f32]) {
        self.for_each_run(
            ld,
            #[inline(always)]
            |col, pixel, len, stride| {
                let src = &cols[col..col + len];
                let dst = &mut image[pixel..pixel + (len - 1) * stride + 1];
                match stride {
                    1 => dst.iter_mut().zip(src).for_each(|(d, s)| *d += s),
                    2 => add_every::<2>(dst, src),
                    _ => dst
                        .iter_mut()
                        .step_by(stride)
                        .zip(src)
                        .for_each(|(d, s)| *d += s),
                }
            },
        );
    }

    /// Where each im2col entry (row, position; `positions()` per row) reads: the pixel's index,
    /// or `pixels()` for a tap outside the image. `None` where the window's runs are long enough
    /// to copy run by run (see [`Unfolder`]).
    fn taps(&self) -> Option<Vec<u32>> {
        if self.ow >= LONG_RUN || u32::try_from(self.pixels()).is_err() {
            return None;
        }
        Some(self.tap_table())
    }

    /// The table of [`Window::taps`], whatever the runs' length.
    fn tap_table(&self) -> Vec<u32> {
        let l = self.positions();
        let mut taps = vec![self.pixels() as u32; self.rows() * l];
        self.for_each_run(l, |col, pixel, len, stride| {
            for (e, tap) in taps[col..col + len].iter_mut().enumerate() {
                *tap = (pixel + e * stride) as u32;
            }
        });
        taps
    }

    /// How many samples one GEMM covers: their im2col matrices side by side make at least
    /// [`GROUP_COLUMNS`] columns. One tiny GEMM per sample (e.g. 8 x 9 by 9 x 196 in `basic`)
    /// would cost more in call overhead and packing than in arithmetic.
    fn group(&self) -> usize {
        GROUP_COLUMNS.div_ceil(self.positions().max(1))
    }
}

/// `dst[j] = src[j * S]`, `src` holding `(dst.len() - 1) * S + 1` pixels (`dst` not empty): a
/// run of im2col. The stride is a constant and each pixel read is the head of an `S`-chunk, so
/// the loop has no bounds check or index product and LLVM vectorises it as an interleaved load
/// (`basic`'s convolutions all have stride 2; the indexed loop this replaced ran scalar, with a
/// bounds check per pixel, and was half of im2col's time).
#[inline(always)]
fn take_every<const S: usize>(dst: &mut [f32], src: &[f32]) {
    let last = dst.len() - 1;
    for (d, chunk) in dst[..last].iter_mut().zip(src.chunks_exact(S)) {
        *d = chunk[0];
    }
    dst[last] = src[last * S];
}

/// `dst[j * S] += src[j]`: a run of col2im, the adjoint of [`take_every`].
#[inline(always)]
fn add_every<const S: usize>(dst: &mut [f32], src: &[f32]) {
    let last = src.len() - 1;
    for (s, chunk) in src[..last].iter().zip(dst.chunks_exact_mut(S)) {
        chunk[0] += s;
    }
    dst[last * S] += src[last];
}

/// The width (im2col columns) a group of samples is made up to: see [`Window::group`].
const GROUP_COLUMNS: usize = 1024;

/// Samples `first..first + g` of `src` (`[n, a_rows, l]`) side by side as `[a_rows, g * l]`.
fn gather(src: &[f32], a_rows: usize, l: usize, first: usize, g: usize, out: &mut [f32]) {
    let per = a_rows * l;
    for j in 0..g {
        let sample = &src[(first + j) * per..(first + j + 1) * per];
        for (r, row) in sample.chunks_exact(l).enumerate() {
            out[r * g * l + j * l..][..l].copy_from_slice(row);
        }
    }
}

/// The inverse of [`gather`]: `[a_rows, g * l]` back to `g` samples of `[a_rows, l]`.
fn scatter(grouped: &[f32], a_rows: usize, l: usize, g: usize, out: &mut [f32]) {
    let per = a_rows * l;
    for j in 0..g {
        let sample = &mut out[j * per..(j + 1) * per];
        for (r, row) in sample.chunks_exact_mut(l).enumerate() {
            row.copy_from_slice(&grouped[r * g * l + j * l..][..l]);
        }
    }
}

/// Runs at least this long (output columns) are copied run by run; shorter ones entry by entry
/// through a table of taps. Per image of `basic`'s layers, in ns, im2col and col2im by runs
/// against by taps (README, "Im2col from a table of taps"): 7 x 7 positions (runs of 7) 3,943
/// and 5,334 against 1,781 and 2,945 in wasm, 2,957 and 2,644 against 1,777 and 2,700 natively;
/// 3 x 3 3,323 and 3,754 against 1,045 and 1,280 in wasm, 2,594 and 2,271 against 758 and 995
/// natively; but 14 x 14 812 and 851 against 746 and 1,261 natively. A run costs a call, two
/// slice checks and a vector loop's set-up, which a run of 3 or 7 floats does not repay.
const LONG_RUN: usize = 12;

/// A window's im2col and col2im, one image at a time, for one thread: run by run (a strided
/// copy per stretch of an image row that a row of taps reads), or entry by entry from the
/// window's table of taps ([`Window::taps`]), each read from a copy of the image with a zero
/// after it, so that taps outside the image need no test.
struct Unfolder<'w> {
    win: &'w Window,
    taps: Option<&'w [u32]>,
    /// The image and a zero (for the taps).
    padded: Vec<f32>,
}

impl<'w> Unfolder<'w> {
    fn new(win: &'w Window, taps: Option<&'w [u32]>) -> Self {
        let pixels = win.pixels();
        if let Some(taps) = taps {
            // What makes the unchecked reads below sound: every tap inside `padded`.
            assert_eq!(
                taps.len(),
                win.rows() * win.positions(),
                "a table for this window"
            );
            assert!(
                taps.iter().all(|&tap| tap as usize <= pixels),
                "taps inside the image"
            );
        }
        let padded = vec![0.0; if taps.is_some() { pixels + 1 } else { 0 }];
        Self { win, taps, padded }
    }

    /// The im2col matrices of images `first..first + g` side by side: `[rows, g * l]`.
    fn unfold_group(&mut self, images: &[f32], (first, g): (usize, usize), cols: &mut [f32]) {
        let (l, per_image) = (self.win.positions(), self.win.pixels());
        let cols = &mut cols[..self.win.rows() * g * l];
        if self.taps.is_none() {
            cols.fill(0.0);
        }
        for j in 0..g {
            let image = &images[(first + j) * per_image..(first + j + 1) * per_image];
            self.im2col(image, &mut cols[j * l..], g * l);
        }
    }

    /// `im2col(image)` into `cols` (rows `ld` apart, this image's columns from the start of the
    /// slice). By runs, entries outside the image are left as they are (zero).
    fn im2col(&mut self, image: &[f32], cols: &mut [f32], ld: usize) {
        let Some(taps) = self.taps else {
            return self.win.im2col_runs(image, cols, ld);
        };
        let pixels = self.win.pixels();
        self.padded[..pixels].copy_from_slice(image);
        // The zero the padding's taps read (a col2im may have added onto it).
        self.padded[pixels] = 0.0;
        let padded = &self.padded[..=pixels];
        let l = self.win.positions();
        for (r, row_taps) in taps.chunks_exact(l).enumerate() {
            let dst = &mut cols[r * ld..][..l];
            for (d, &tap) in dst.iter_mut().zip(row_taps) {
                // SAFETY: every tap is at most `pixels` (checked in `new`). Unchecked, the loop
                // ran 1.5x faster in wasm (1,781 against 2,647 ns per image of `basic`'s
                // second layer).
                *d = unsafe { *padded.get_unchecked(tap as usize) };
            }
        }
    }

    /// `image += col2im(cols)` (layout as in [`Unfolder::im2col`]): each column's values summed
    /// back onto the pixels it read (those outside the image onto the zero, then dropped).
    fn col2im(&mut self, cols: &[f32], ld: usize, image: &mut [f32]) {
        let Some(taps) = self.taps else {
            return self.win.col2im_runs(cols, ld, image);
        };
        let pixels = self.win.pixels();
        self.padded[..pixels].copy_from_slice(image);
        let padded = &mut self.padded[..=pixels];
        let l = self.win.positions();
        for (r, row_taps) in taps.chunks_exact(l).enumerate() {
            for (s, &tap) in cols[r * ld..][..l].iter().zip(row_taps) {
                // SAFETY: as in `im2col`.
                unsafe { *padded.get_unchecked_mut(tap as usize) += s };
            }
        }
        image.copy_from_slice(&padded[..pixels]);
    }
}

/// One group of a weight gradient: `acc += [src_1 .. src_g] · [im2col_1 .. im2col_g]ᵀ`, the
/// samples `first..first + g` of src (`[n, a_rows, l]`) gathered into `grouped` (scratch) and
/// `cols` their unfolded images from [`Unfolder::unfold_group`].
fn accumulate_outer(
    acc: &mut [f32],
    (src, a_rows): (&[f32], usize),
    (first, g): (usize, usize),
    (cols, grouped): (&[f32], &mut [f32]),
    win: &Window,
) {
    let (rows, l) = (win.rows(), win.positions());
    gather(src, a_rows, l, first, g, grouped);
    // [im2col(x_1) .. im2col(x_g)]ᵀ: element (k, j) is cols[j * g * l + k].
    matmul(
        acc,
        (a_rows, rows, g * l),
        (grouped, g * l, 1),
        (cols, 1, g * l),
        true,
    );
}

/// One group of [`unfold_matmul`]: the outputs `outs` of samples `first..` (as many as fit)
/// from their images unfolded side by side into `cols` and one GEMM into `y` (both scratch).
fn unfold_matmul_group(
    unfolder: &mut Unfolder,
    images: &[f32],
    (a, a_rows): (&[f32], usize),
    first: usize,
    (cols, y): (&mut [f32], &mut [f32]),
    outs: &mut [f32],
) {
    let (rows, l) = (unfolder.win.rows(), unfolder.win.positions());
    let g = outs.len() / (a_rows * l).max(1);
    unfolder.unfold_group(images, (first, g), cols);
    matmul(
        y,
        (a_rows, g * l, rows),
        (a, rows, 1),
        (cols, g * l, 1),
        false,
    );
    scatter(y, a_rows, l, g, outs);
}

/// Per sample: `out[n] = A · im2col(images[n])`, A `[a_rows, win.rows()]`; returns
/// `[n, a_rows, positions]`. Samples are taken [`Window::group`] at a time: one GEMM
/// `A · [im2col(x_1) .. im2col(x_g)]`, its columns then scattered to the samples.
fn unfold_matmul(images: &[f32], a: &[f32], a_rows: usize, win: &Window, n: usize) -> Vec<f32> {
    let (rows, l) = (win.rows(), win.positions());
    let per_out = a_rows * l;
    let mut out = vec![0.0; n * per_out];
    let taps = win.taps();
    for_sample_blocks(&mut out, n, per_out, |first, block| {
        let count = block.len() / per_out.max(1);
        let g_max = win.group().min(count).max(1);
        let mut unfolder = Unfolder::new(win, taps.as_deref());
        let mut cols = vec![0.0; rows * g_max * l];
        let mut y = vec![0.0; a_rows * g_max * l];
        for (gi, outs) in block.chunks_mut(g_max * per_out).enumerate() {
            let s = first + gi * g_max;
            let scratch = (&mut cols[..], &mut y[..]);
            unfold_matmul_group(&mut unfolder, images, (a, a_rows), s, scratch, outs);
        }
    });
    out
}

/// Per sample: `images[n] = col2im(Aᵀ · src[n])`, A `[a_rows, win.rows()]`, src
/// `[n, a_rows, positions]`; returns `[n, c, h, w]` of the window's image. Grouped as in
/// [`unfold_matmul`].
fn matmul_fold(src: &[f32], a: &[f32], a_rows: usize, win: &Window, n: usize) -> Vec<f32> {
    let (rows, l, per_image) = (win.rows(), win.positions(), win.pixels());
    let mut out = vec![0.0; n * per_image];
    let taps = win.taps();
    for_sample_blocks(&mut out, n, per_image, |first, block| {
        let count = block.len() / per_image.max(1);
        let g_max = win.group().min(count).max(1);
        let mut unfolder = Unfolder::new(win, taps.as_deref());
        let mut cols = vec![0.0; rows * g_max * l];
        let mut grouped = vec![0.0; a_rows * g_max * l];
        for (gi, images) in block.chunks_mut(g_max * per_image).enumerate() {
            let g = images.len() / per_image;
            gather(src, a_rows, l, first + gi * g_max, g, &mut grouped);
            // Aᵀ: element (i, k) is a[k * rows + i].
            matmul(
                &mut cols,
                (rows, g * l, a_rows),
                (a, 1, rows),
                (&grouped, g * l, 1),
                false,
            );
            for (j, image) in images.chunks_mut(per_image).enumerate() {
                unfolder.col2im(&cols[j * l..], g * l, image);
            }
        }
    });
    out
}

/// `Σ_n src[n] · im2col(images[n])ᵀ`, src `[n, a_rows, positions]`; returns `[a_rows, rows]`.
/// Grouped as in [`unfold_matmul`]: one GEMM per group sums over its samples' columns.
fn outer_unfold(src: &[f32], images: &[f32], a_rows: usize, win: &Window, n: usize) -> Vec<f32> {
    let (rows, l) = (win.rows(), win.positions());
    let taps = win.taps();
    sum_over_blocks(n, a_rows * rows, |samples, acc| {
        let g_max = win.group().min(samples.len()).max(1);
        let mut unfolder = Unfolder::new(win, taps.as_deref());
        let mut cols = vec![0.0; rows * g_max * l];
        let mut grouped = vec![0.0; a_rows * g_max * l];
        let mut s = samples.start;
        while s < samples.end {
            let g = g_max.min(samples.end - s);
            unfolder.unfold_group(images, (s, g), &mut cols);
            accumulate_outer(acc, (src, a_rows), (s, g), (&cols, &mut grouped), win);
            s += g;
        }
    })
}

/// Both gradients of a transposed convolution from one unfold of its output gradient per
/// group: `dx[n] = W · im2col(gy[n])` ([`unfold_matmul`]) and `dW = Σ x[n] · im2col(gy[n])ᵀ`
/// ([`outer_unfold`]); W and x have `c_in` rows. Returns (dx `[n, c_in, l]`, dW `[c_in, rows]`).
fn unfold_both(
    gy: &[f32],
    w: &[f32],
    x: &[f32],
    c_in: usize,
    win: &Window,
    n: usize,
) -> (Vec<f32>, Vec<f32>) {
    let (rows, l) = (win.rows(), win.positions());
    let (per_out, chunk) = (c_in * l, block_len(n));
    let mut dx = vec![0.0; n * per_out];
    if dx.is_empty() {
        return (dx, vec![0.0; c_in * rows]);
    }
    let items: Vec<_> = dx.chunks_mut(chunk * per_out).collect();
    let taps = win.taps();
    let partials = run_all(items, |b, block| {
        let g_max = win.group().min(block.len() / per_out).max(1);
        let mut unfolder = Unfolder::new(win, taps.as_deref());
        let mut cols = vec![0.0; rows * g_max * l];
        let mut y = vec![0.0; c_in * g_max * l];
        let mut xs = vec![0.0; c_in * g_max * l];
        let mut dw = vec![0.0; c_in * rows];
        for (gi, outs) in block.chunks_mut(g_max * per_out).enumerate() {
            let (s, g) = (b * chunk + gi * g_max, outs.len() / per_out);
            unfold_matmul_group(&mut unfolder, gy, (w, c_in), s, (&mut cols, &mut y), outs);
            accumulate_outer(&mut dw, (x, c_in), (s, g), (&cols, &mut xs), win);
        }
        dw
    });
    (dx, sum(partials, c_in * rows))
}

/// `dst[m x n] (+)= lhs[m x k] · rhs[k x n]`; `dst` is row-major and contiguous, the operands
/// are (slice, row stride, column stride).
fn matmul(
    dst: &mut [f32],
    (m, n, k): (usize, usize, usize),
    (lhs, lhs_rs, lhs_cs): (&[f32], usize, usize),
    (rhs, rhs_rs, rhs_cs): (&[f32], usize, usize),
    accumulate: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst[..m * n].fill(0.0);
        }
        return;
    }
    let last = |rows: usize, cols: usize, rs: usize, cs: usize| (rows - 1) * rs + (cols - 1) * cs;
    assert!(dst.len() >= m * n, "matmul: destination too small");
    assert!(
        lhs.len() > last(m, k, lhs_rs, lhs_cs),
        "matmul: lhs too small"
    );
    assert!(
        rhs.len() > last(k, n, rhs_rs, rhs_cs),
        "matmul: rhs too small"
    );
    // SAFETY: the asserts above keep every index gemm reads or writes inside the slices, and
    // `dst` does not alias the operands (it is borrowed mutably).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.as_ptr(),
            lhs_cs as isize,
            lhs_rs as isize,
            rhs.as_ptr(),
            rhs_cs as isize,
            rhs_rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// How many samples each thread's block holds: the batch cut into one block per thread of rayon's
/// pool, one block where there is no pool (the single-threaded wasm build).
fn block_len(n: usize) -> usize {
    n.div_ceil(threads().clamp(1, n.max(1))).max(1)
}

/// The element-wise sum of `partials` (`len` floats each).
fn sum(partials: Vec<Vec<f32>>, len: usize) -> Vec<f32> {
    partials.into_iter().fold(vec![0.0; len], |mut acc, p| {
        acc.iter_mut().zip(&p).for_each(|(a, b)| *a += b);
        acc
    })
}

/// Runs `work(first_sample, block)` on each thread's block of samples of `out` (`per` floats
/// per sample).
fn for_sample_blocks(
    out: &mut [f32],
    n: usize,
    per: usize,
    work: impl Fn(usize, &mut [f32]) + Sync,
) {
    if out.is_empty() {
        return;
    }
    let chunk = block_len(n);
    run_all(out.chunks_mut(chunk * per).collect(), |b, block| {
        work(b * chunk, block)
    });
}

/// Sums `work(samples, partial)` over each thread's block of samples, each block into its own
/// zeroed partial of `len` floats.
fn sum_over_blocks(
    n: usize,
    len: usize,
    work: impl Fn(std::ops::Range<usize>, &mut [f32]) + Sync,
) -> Vec<f32> {
    let chunk = block_len(n);
    let partials = run_all((0..n.div_ceil(chunk)).collect(), |_, b| {
        let mut partial = vec![0.0; len];
        work(b * chunk..((b + 1) * chunk).min(n), &mut partial);
        partial
    });
    sum(partials, len)
}

pub(super) fn contiguous(t: FlexTensor) -> FlexTensor {
    if t.is_contiguous() && t.as_slice::<f32>().is_some() {
        t
    } else {
        t.to_contiguous()
    }
}

/// The f32 values of a contiguous tensor (checked by the window functions).
pub(super) fn f32s(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>()
        .expect("conv kernels: a contiguous f32 tensor")
}

fn tensor(values: Vec<f32>, shape: [usize; 4]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Windows with short runs and long, strided and not, padded and not.
    fn windows() -> Vec<Window> {
        let win = |c, h, k, s, p| {
            let o = (h + 2 * p - k) / s + 1;
            Window {
                c,
                h,
                w: h + 1,
                kh: k,
                kw: k,
                sh: s,
                sw: s,
                ph: p,
                pw: p,
                oh: o,
                ow: (h + 1 + 2 * p - k) / s + 1,
            }
        };
        vec![
            win(1, 28, 3, 2, 1),
            win(8, 14, 3, 2, 1),
            win(16, 7, 3, 2, 0),
            win(3, 28, 2, 1, 1),
            win(17, 10, 3, 3, 1),
            win(2, 5, 4, 1, 3),
            win(4, 9, 5, 4, 2),
        ]
    }

    /// The two ways of unfolding (and folding) give the same floats: the table of taps is
    /// checked against the runs it was built from, on every window, whichever way
    /// [`Window::taps`] would choose for it.
    #[test]
    fn taps_and_runs_unfold_alike() {
        for win in windows() {
            let (l, per) = (win.positions(), win.pixels());
            let g = 3;
            let images: Vec<f32> = (0..g * per)
                .map(|i| ((i * 37) % 101) as f32 - 50.0)
                .collect();
            let table = win.tap_table();
            let mut by_runs = Unfolder::new(&win, None);
            let mut by_taps = Unfolder::new(&win, Some(&table));
            // Not zeroed: the taps write every entry, the runs zero the matrix first.
            let mut a = vec![f32::NAN; win.rows() * g * l];
            let mut b = vec![f32::NAN; win.rows() * g * l];
            by_runs.unfold_group(&images, (0, g), &mut a);
            by_taps.unfold_group(&images, (0, g), &mut b);
            assert_eq!(a, b, "im2col of {win:?}");
            let (mut x, mut y) = (images.clone(), images.clone());
            for j in 0..g {
                by_runs.col2im(&a[j * l..], g * l, &mut x[j * per..(j + 1) * per]);
                by_taps.col2im(&a[j * l..], g * l, &mut y[j * per..(j + 1) * per]);
            }
            assert_eq!(x, y, "col2im of {win:?}");
            assert_ne!(x, images, "col2im added something");
            // The same unfolder unfolds alike after a fold (which adds onto its zero).
            by_taps.unfold_group(&images, (0, g), &mut b);
            assert_eq!(a, b, "im2col after col2im of {win:?}");
        }
    }
}
