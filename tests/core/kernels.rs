//! latentlab's flex convolutions (src/kernels) give burn's numbers: forward outputs and the
//! gradients of x, weight and bias, on the presets' layers and on random shapes with odd strides
//! and paddings, to 1e-4.

use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2dConfig, ConvTranspose2dConfig};
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::Gradients;
use latentlab::kernels;
use latentlab::model::ModelSpec;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::common::rng_shared;

/// One layer to check: channels in/out, kernel, stride, padding, output padding (transposed),
/// input side, batch.
#[derive(Debug, Clone, Copy)]
struct Case {
    c_in: usize,
    c_out: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    padding_out: usize,
    side: usize,
    batch: usize,
}

fn max_diff(a: Tensor<4>, b: Tensor<4>) -> f32 {
    assert_eq!(a.dims(), b.dims());
    (a - b).abs().max().into_scalar::<f32>()
}

fn max_diff_any<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
    assert_eq!(a.dims(), b.dims());
    (a - b).abs().max().into_scalar::<f32>()
}

/// Scale-aware closeness: 1e-4 relative to the reference's largest magnitude (at least 1).
fn assert_close<const D: usize>(what: &str, case: &Case, ours: Tensor<D>, burns: Tensor<D>) {
    let scale = burns.clone().abs().max().into_scalar::<f32>().max(1.0);
    let diff = max_diff_any(ours, burns);
    assert!(
        diff <= 1e-4 * scale,
        "{what}: max diff {diff} (scale {scale}) for {case:?}"
    );
}

/// Checks a layer's forward on random x and the gradients of x, weight and bias (of a random
/// projection of the output) against burn's layer.
fn check_layer<M: Module>(
    what: &str,
    case: &Case,
    layer: &M,
    ours: impl Fn(&M, Tensor<4>) -> Tensor<4>,
    burns: impl Fn(&M, Tensor<4>) -> Tensor<4>,
    params: impl Fn(&M, &Gradients) -> (Tensor<4>, Tensor<1>),
) {
    let device = Device::flex().autodiff();
    let x = Tensor::<4>::random(
        [case.batch, case.c_in, case.side, case.side],
        Distribution::Normal(0.0, 1.0),
        &device,
    )
    .require_grad();
    let (y_ours, y_burn) = (ours(layer, x.clone()), burns(layer, x.clone()));
    assert_close(
        &format!("{what} forward"),
        case,
        y_ours.clone(),
        y_burn.clone(),
    );
    let r = Tensor::<4>::random(y_ours.dims(), Distribution::Normal(0.0, 1.0), &device);
    let g_ours = (y_ours * r.clone()).sum().backward();
    let g_burn = (y_burn * r).sum().backward();
    let (x_ours, x_burn) = (x.grad(&g_ours).unwrap(), x.grad(&g_burn).unwrap());
    assert_close(&format!("{what} x grad"), case, x_ours, x_burn);
    let ((w_ours, b_ours), (w_burn, b_burn)) = (params(layer, &g_ours), params(layer, &g_burn));
    assert_close(&format!("{what} weight grad"), case, w_ours, w_burn);
    assert_close(&format!("{what} bias grad"), case, b_ours, b_burn);
}

fn check_conv2d(case: Case) {
    let layer = Conv2dConfig::new([case.c_in, case.c_out], [case.kernel; 2])
        .with_stride([case.stride; 2])
        .with_padding(PaddingConfig2d::Explicit(
            case.padding,
            case.padding,
            case.padding,
            case.padding,
        ))
        .init(&Device::flex().autodiff());
    check_layer(
        "conv2d",
        &case,
        &layer,
        kernels::conv2d,
        |l, x| l.forward(x),
        |l, g| {
            let bias = l.bias.as_ref().unwrap();
            (l.weight.grad(g).unwrap(), bias.grad(g).unwrap())
        },
    );
}

fn check_conv_transpose2d(case: Case) {
    let layer = ConvTranspose2dConfig::new([case.c_in, case.c_out], [case.kernel; 2])
        .with_stride([case.stride; 2])
        .with_padding([case.padding; 2])
        .with_padding_out([case.padding_out; 2])
        .init(&Device::flex().autodiff());
    check_layer(
        "conv_transpose2d",
        &case,
        &layer,
        kernels::conv_transpose2d,
        |l, x| l.forward(x),
        |l, g| {
            let bias = l.bias.as_ref().unwrap();
            (l.weight.grad(g).unwrap(), bias.grad(g).unwrap())
        },
    );
}

/// Every conv layer of both presets, encoder and decoder, at the sizes the nets feed them.
#[test]
fn preset_layers_match_burn() {
    let _rng = rng_shared();
    for spec in [ModelSpec::basic(), ModelSpec::best()] {
        let shapes = spec.arch.shapes().unwrap();
        let mut side = 28;
        for (conv, shape) in spec.arch.conv.iter().zip(&shapes.conv) {
            let case = Case {
                c_in: shape.in_channels,
                c_out: shape.out_channels,
                kernel: conv.kernel,
                stride: conv.stride,
                padding: conv.padding,
                padding_out: shape.output_padding,
                side,
                // More samples than one GEMM's group (6 at 14 x 14) in a thread's block, so
                // full and partial groups both run.
                batch: 13,
            };
            check_conv2d(case);
            let out_side = (side + 2 * conv.padding - conv.kernel) / conv.stride + 1;
            // The decoder's mirror image: out_channels back to in_channels, out_side to side.
            check_conv_transpose2d(Case {
                c_in: shape.out_channels,
                c_out: shape.in_channels,
                side: out_side,
                ..case
            });
            side = out_side;
        }
    }
}

/// Random layers: kernels 1-6, strides 1-4, padding up to the kernel, output padding below the
/// stride, batches 1-7 (more samples than threads, and fewer).
#[test]
fn random_layers_match_burn() {
    let _rng = rng_shared();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut checked = 0;
    while checked < 40 {
        let kernel = rng.random_range(1..=6);
        let stride = rng.random_range(1..=4);
        let case = Case {
            c_in: rng.random_range(1..=5),
            c_out: rng.random_range(1..=5),
            kernel,
            stride,
            padding: rng.random_range(0..=kernel),
            padding_out: rng.random_range(0..stride),
            side: rng.random_range(1..=13),
            batch: rng.random_range(1..=7),
        };
        if case.side + 2 * case.padding < kernel {
            continue;
        }
        check_conv2d(case);
        // burn requires the transposed convolution's output to exist.
        if (case.side - 1) * stride + kernel + case.padding_out > 2 * case.padding {
            check_conv_transpose2d(case);
        }
        checked += 1;
    }
}

/// Large images: a group holds one to three samples (kernels group samples up to 1,024 im2col
/// columns), so a batch of 7 makes full and partial groups in each thread's block.
#[test]
fn grouped_samples_match_burn() {
    let _rng = rng_shared();
    for (side, stride, kernel, padding) in
        [(20, 1, 3, 1), (30, 1, 3, 1), (41, 1, 2, 0), (33, 2, 4, 2)]
    {
        let case = Case {
            c_in: 2,
            c_out: 3,
            kernel,
            stride,
            padding,
            padding_out: 0,
            side,
            batch: 7,
        };
        check_conv2d(case);
        check_conv_transpose2d(case);
    }
}

/// Without autodiff (inference) the same kernels run on the plain backend.
#[test]
fn inference_on_plain_flex_matches_burn() {
    let _rng = rng_shared();
    let device = Device::flex();
    let layer = Conv2dConfig::new([3, 4], [3, 3])
        .with_stride([2, 2])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .init(&device);
    let x = Tensor::<4>::random([3, 3, 9, 9], Distribution::Normal(0.0, 1.0), &device);
    assert!(max_diff(kernels::conv2d(&layer, x.clone()), layer.forward(x)) < 1e-4);
    let layer = ConvTranspose2dConfig::new([4, 2], [3, 3])
        .with_stride([2, 2])
        .with_padding([1, 1])
        .with_padding_out([1, 1])
        .init(&device);
    let x = Tensor::<4>::random([3, 4, 5, 5], Distribution::Normal(0.0, 1.0), &device);
    assert!(
        max_diff(
            kernels::conv_transpose2d(&layer, x.clone()),
            layer.forward(x)
        ) < 1e-4
    );
}

/// The pointwise kernels (sigmoid, square root, leaky ReLU, BCE on logits) against burn's ops:
/// values and the gradients of logits and targets, tracked or not, on a non-contiguous
/// (transposed) input too, and on the plain backend.
#[test]
fn pointwise_kernels_match_burn() {
    let _rng = rng_shared();
    let device = Device::flex().autodiff();
    // Logits over the range the nets reach and beyond (saturated ends), targets in [0, 1].
    let z = Tensor::<3>::random([4, 7, 9], Distribution::Uniform(-30.0, 30.0), &device);
    let z = z.swap_dims(1, 2).require_grad();
    let t = Tensor::<3>::random([4, 9, 7], Distribution::Uniform(0.0, 1.0), &device).require_grad();
    let case = Case {
        c_in: 0,
        c_out: 0,
        kernel: 0,
        stride: 0,
        padding: 0,
        padding_out: 0,
        side: 0,
        batch: 0,
    };
    let r = Tensor::<3>::random([4, 9, 7], Distribution::Normal(0.0, 1.0), &device);

    // Values, then the gradients of a random projection with respect to each input of `wrt`.
    let check = |what: &str, ours: Tensor<3>, burns: Tensor<3>, wrt: &[(&str, &Tensor<3>)]| {
        assert_close(what, &case, ours.clone(), burns.clone());
        let g_ours = (ours * r.clone()).sum().backward();
        let g_burn = (burns * r.clone()).sum().backward();
        for (name, x) in wrt {
            let (ours, burns) = (x.grad(&g_ours).unwrap(), x.grad(&g_burn).unwrap());
            assert_close(&format!("{what}: {name} grad"), &case, ours, burns);
        }
    };
    let logits = [("logits", &z)];

    let burns = burn::tensor::activation::sigmoid(z.clone());
    check("sigmoid", kernels::sigmoid(z.clone()), burns, &logits);

    let softplus = z.clone().abs().neg().exp().log1p();
    let burns = z.clone().clamp_min(0.0) - z.clone() * t.clone() + softplus;
    let ours = kernels::bce_logits(z.clone(), t.clone());
    check("bce", ours, burns, &[("logits", &z), ("target", &t)]);

    for slope in [0.2, 0.01, 0.0] {
        let burns = burn::tensor::activation::leaky_relu(z.clone(), slope);
        let ours = kernels::leaky_relu(z.clone(), slope);
        check(&format!("leaky relu, slope {slope}"), ours, burns, &logits);
    }

    // Each graph its own copy of the input (a backward consumes its graph).
    let positive = || z.clone().abs() + 1e-3;
    check(
        "sqrt",
        kernels::sqrt(positive()),
        positive().sqrt(),
        &logits,
    );

    // The target alone untracked (the usual case) still gives the logits' gradient.
    let t = t.set_require_grad(false);
    let g = (kernels::bce_logits(z.clone(), t.clone()) * r.clone())
        .sum()
        .backward();
    let want = (burn::tensor::activation::sigmoid(z.clone()) - t.clone()) * r;
    assert_close(
        "bce grad, target constant",
        &case,
        z.grad(&g).unwrap(),
        want.inner(),
    );
    assert!(t.grad(&g).is_none());

    // Inference: the plain backend.
    let (z, t) = (z.inner(), t.inner());
    let want =
        z.clone().clamp_min(0.0) - z.clone() * t.clone() + z.clone().abs().neg().exp().log1p();
    assert_close(
        "bce, plain flex",
        &case,
        kernels::bce_logits(z.clone(), t),
        want,
    );
    let want = burn::tensor::activation::leaky_relu(z.clone(), 0.2);
    assert_close(
        "leaky relu, plain flex",
        &case,
        kernels::leaky_relu(z.clone(), 0.2),
        want,
    );
    assert_close(
        "sigmoid, plain flex",
        &case,
        kernels::sigmoid(z.clone()),
        burn::tensor::activation::sigmoid(z),
    );
}
