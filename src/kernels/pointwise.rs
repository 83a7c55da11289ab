//! The logistic function, the square root, the leaky ReLU and the logistic loss (binary
//! cross-entropy on logits) as single pointwise kernels, plugged into burn as the convolutions
//! are ([`super::ConvKernels`]). Each replaced a hot spot of a profile (README, "Speed"):
//! - flex's sigmoid calls the scalar `expf` per element (in wasm, a call into
//!   compiler-builtins), and burn's autodiff computes it again in the backward;
//! - burn builds the loss from eight elementwise ops (abs, neg, exp, log1p, clamp, mul, sub,
//!   add), each a pass over the data with its own backward;
//! - the leaky ReLU is a comparison, a scaled copy and `mask_where`, and two more `mask_where`s
//!   backward;
//! - the square root's backward raises the input to the power -0.5, a `powf` per element.
//!
//! Here flex computes each in one vectorised pass ([`super::fastmath`]); the loss's forward
//! also yields its gradient `sigmoid(z) - t`, so its backward is one multiply; the sigmoid's and
//! the square root's backward read the saved output. The GPU backends (cubecl) compose burn's
//! own ops in the trait's default bodies.

use std::fmt::Debug;

#[cfg(any(not(target_arch = "wasm32"), feature = "webgpu"))]
use burn::backend::Cube;
use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, binary, unary};
use burn::backend::flex::FlexTensor;
use burn::backend::ops::{ActivationOps, FloatTensorOps};
use burn::backend::tensor::FloatTensor;
use burn::backend::{
    Backend, Dispatch, Flex, TensorMetadata, backend_extension, get_or_init_device_settings,
};
use burn::tensor::{Tensor, TensorData};

use super::fastmath;
use super::flex::{contiguous, f32s, is_f32};

/// Pointwise kernels latentlab implements per backend.
#[backend_extension(Flex, Cube: cfg(any(not(target_arch = "wasm32"), feature = "webgpu")), Autodiff)]
pub trait PointwiseKernels: Backend {
    /// `1 / (1 + e^-x)`.
    fn lab_sigmoid(x: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::sigmoid(x)
    }

    /// `√x`.
    fn lab_sqrt(x: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::float_sqrt(x)
    }

    /// The gradient of [`Self::lab_sqrt`] from its output `y`: `grad / (2 y)`.
    fn lab_sqrt_backward(y: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
        sqrt_backward_composed::<Self>(y, grad)
    }

    /// `x` where positive, `slope · x` elsewhere.
    fn lab_leaky_relu(x: FloatTensor<Self>, slope: f64) -> FloatTensor<Self> {
        Self::leaky_relu(x, slope.into())
    }

    /// The gradient of [`Self::lab_leaky_relu`] at `x`: `grad` where `x` is positive, `slope ·
    /// grad` elsewhere.
    fn lab_leaky_relu_backward(
        x: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        slope: f64,
    ) -> FloatTensor<Self> {
        leaky_relu_backward_composed::<Self>(x, grad, slope)
    }

    /// The binary cross-entropy of logits `z` against targets `t` (same shape), elementwise:
    /// `max(z, 0) - z t + ln(1 + e^-|z|)`; with `want_grad`, also its derivative in `z`,
    /// `sigmoid(z) - t`.
    fn lab_bce_logits(
        z: FloatTensor<Self>,
        t: FloatTensor<Self>,
        want_grad: bool,
    ) -> (FloatTensor<Self>, Option<FloatTensor<Self>>) {
        bce_logits_composed::<Self>(z, t, want_grad)
    }
}

/// [`PointwiseKernels::lab_sqrt_backward`] composed of burn's ops.
fn sqrt_backward_composed<B: Backend>(y: FloatTensor<B>, grad: FloatTensor<B>) -> FloatTensor<B> {
    B::float_div(grad, B::float_mul_scalar(y, 2.0.into()))
}

/// [`PointwiseKernels::lab_leaky_relu_backward`] composed of burn's ops.
fn leaky_relu_backward_composed<B: Backend>(
    x: FloatTensor<B>,
    grad: FloatTensor<B>,
    slope: f64,
) -> FloatTensor<B> {
    let bool_dtype = get_or_init_device_settings::<B>(&x.device()).bool_dtype;
    let negative = B::float_lower_equal_elem(x, 0.0.into(), bool_dtype);
    let scaled = B::float_mul_scalar(grad.clone(), slope.into());
    B::float_mask_where(grad, negative, scaled)
}

/// [`PointwiseKernels::lab_bce_logits`] composed of burn's ops (any backend, dtype or shape).
fn bce_logits_composed<B: Backend>(
    z: FloatTensor<B>,
    t: FloatTensor<B>,
    want_grad: bool,
) -> (FloatTensor<B>, Option<FloatTensor<B>>) {
    let grad = want_grad.then(|| B::float_sub(B::sigmoid(z.clone()), t.clone()));
    let softplus = B::float_log1p(B::float_exp(B::float_neg(B::float_abs(z.clone()))));
    let relu = B::float_clamp_min(z.clone(), 0.0.into());
    let loss = B::float_add(B::float_sub(relu, B::float_mul(z, t)), softplus);
    (loss, grad)
}

#[cfg(any(not(target_arch = "wasm32"), feature = "webgpu"))]
impl PointwiseKernels for Cube {}

/// `activation::sigmoid(x)`, by the backend's [`PointwiseKernels`].
pub fn sigmoid<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    Tensor::from_dispatch(Dispatch::lab_sigmoid(x.into_dispatch()))
}

/// `x.sqrt()`, by the backend's [`PointwiseKernels`]: its backward divides by the saved output
/// (burn's raises the input to the power -0.5, a `powf` call per element: in wasm, 3% of the
/// page's ACGAN training, on the thread the others wait for).
pub fn sqrt<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    Tensor::from_dispatch(Dispatch::lab_sqrt(x.into_dispatch()))
}

/// `activation::leaky_relu(x, slope)`, by the backend's [`PointwiseKernels`].
pub fn leaky_relu<const D: usize>(x: Tensor<D>, slope: f64) -> Tensor<D> {
    Tensor::from_dispatch(Dispatch::lab_leaky_relu(x.into_dispatch(), slope))
}

/// The binary cross-entropy of `logits` against `target`, elementwise (see
/// [`PointwiseKernels::lab_bce_logits`]): the mean of it is the usual BCE loss.
pub fn bce_logits<const D: usize>(logits: Tensor<D>, target: Tensor<D>) -> Tensor<D> {
    let (loss, _) = Dispatch::lab_bce_logits(logits.into_dispatch(), target.into_dispatch(), false);
    Tensor::from_dispatch(loss)
}

// ---- flex ---------------------------------------------------------------------------------

impl PointwiseKernels for Flex {
    fn lab_sigmoid(x: FlexTensor) -> FlexTensor {
        if !is_f32(&x) {
            return Self::sigmoid(x);
        }
        map_f32(x, fastmath::sigmoid)
    }

    fn lab_sqrt(x: FlexTensor) -> FlexTensor {
        if !is_f32(&x) {
            return Self::float_sqrt(x);
        }
        map_f32(x, f32::sqrt)
    }

    fn lab_sqrt_backward(y: FlexTensor, grad: FlexTensor) -> FlexTensor {
        if !same_f32(&y, &grad) {
            return sqrt_backward_composed::<Self>(y, grad);
        }
        zip_f32(y, grad, |y, g| g / (2.0 * y))
    }

    fn lab_leaky_relu(x: FlexTensor, slope: f64) -> FlexTensor {
        if !is_f32(&x) {
            return Self::leaky_relu(x, slope.into());
        }
        let slope = slope as f32;
        map_f32(x, |v| if v > 0.0 { v } else { slope * v })
    }

    fn lab_leaky_relu_backward(x: FlexTensor, grad: FlexTensor, slope: f64) -> FlexTensor {
        if !same_f32(&x, &grad) {
            return leaky_relu_backward_composed::<Self>(x, grad, slope);
        }
        let slope = slope as f32;
        zip_f32(x, grad, |x, g| if x > 0.0 { g } else { slope * g })
    }

    fn lab_bce_logits(
        z: FlexTensor,
        t: FlexTensor,
        want_grad: bool,
    ) -> (FlexTensor, Option<FlexTensor>) {
        if !same_f32(&z, &t) {
            return bce_logits_composed::<Self>(z, t, want_grad);
        }
        let (z, t) = (contiguous(z), contiguous(t));
        let (zs, ts) = (f32s(&z), f32s(&t));
        let mut loss = vec![0.0f32; zs.len()];
        let grad = if want_grad {
            let mut grad = vec![0.0f32; zs.len()];
            for (((l, g), &z), &t) in loss.iter_mut().zip(&mut grad).zip(zs).zip(ts) {
                (*l, *g) = fastmath::bce_logits(z, t);
            }
            Some(grad)
        } else {
            for ((l, &z), &t) in loss.iter_mut().zip(zs).zip(ts) {
                *l = fastmath::bce_logits(z, t).0;
            }
            None
        };
        let shape = z.shape();
        let grad = grad.map(|g| FlexTensor::from_data(TensorData::new(g, shape.clone())));
        (FlexTensor::from_data(TensorData::new(loss, shape)), grad)
    }
}

/// `f` of every value of the f32 tensor `x`, in one pass.
fn map_f32(x: FlexTensor, f: impl Fn(f32) -> f32) -> FlexTensor {
    let x = contiguous(x);
    let out = f32s(&x).iter().map(|&v| f(v));
    FlexTensor::from_data(TensorData::new(out.collect::<Vec<f32>>(), x.shape()))
}

/// `f(a, b)` of every pair of values of two f32 tensors of one shape ([`same_f32`]), in one pass.
fn zip_f32(a: FlexTensor, b: FlexTensor, f: impl Fn(f32, f32) -> f32) -> FlexTensor {
    let (a, b) = (contiguous(a), contiguous(b));
    let out = f32s(&a).iter().zip(f32s(&b)).map(|(&x, &y)| f(x, y));
    FlexTensor::from_data(TensorData::new(out.collect::<Vec<f32>>(), a.shape()))
}

/// Whether two tensors are both f32 and of one shape: what the two-input kernels cover (burn's
/// ops take the rest, broadcasting included).
fn same_f32(a: &FlexTensor, b: &FlexTensor) -> bool {
    is_f32(a) && is_f32(b) && a.shape() == b.shape()
}

// ---- autodiff -----------------------------------------------------------------------------

/// The backward of a pointwise `y = f(x)` whose derivative is a function of `y` (the sigmoid's
/// `y (1 - y)`, the square root's `1 / 2y`): `derivative(y, grad)` from the saved output.
struct FromOutput<B: Backend> {
    derivative: fn(FloatTensor<B>, FloatTensor<B>) -> FloatTensor<B>,
}

impl<B: Backend> Debug for FromOutput<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FromOutput")
    }
}

impl<B: PointwiseKernels> Backward<B, 1> for FromOutput<B> {
    type State = FloatTensor<B>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let output = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |grad| {
            (self.derivative)(output, grad)
        });
    }
}

/// `forward(x)` on the inner backend, recorded with [`FromOutput`]`(derivative)` when x is
/// tracked.
fn record_from_output<B: PointwiseKernels, C: CheckpointStrategy>(
    x: FloatTensor<Autodiff<B, C>>,
    forward: fn(FloatTensor<B>) -> FloatTensor<B>,
    derivative: fn(FloatTensor<B>, FloatTensor<B>) -> FloatTensor<B>,
) -> FloatTensor<Autodiff<B, C>> {
    let step = FromOutput { derivative };
    match step.prepare::<C>([x.node()]).compute_bound().stateful() {
        OpsKind::Tracked(prep) => {
            let out = forward(x.into_primitive());
            prep.finish(out.clone(), out)
        }
        OpsKind::UnTracked(prep) => prep.finish(forward(x.into_primitive())),
    }
}

/// The leaky ReLU's backward, from its saved input and slope.
#[derive(Debug)]
struct LeakyReluBackward;

impl<B: PointwiseKernels> Backward<B, 1> for LeakyReluBackward {
    type State = (FloatTensor<B>, f64);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (x, slope) = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |grad| {
            B::lab_leaky_relu_backward(x, grad, slope)
        });
    }
}

/// The loss's backward: `grad · (sigmoid(z) - t)` for `z` (computed by the forward), and
/// `grad · -z` for `t` when the target is tracked too.
#[derive(Debug)]
struct BceLogitsBackward;

impl<B: PointwiseKernels> Backward<B, 2> for BceLogitsBackward {
    /// (`sigmoid(z) - t` when z is tracked, `z` when t is).
    type State = (Option<FloatTensor<B>>, Option<FloatTensor<B>>);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (dz, z) = ops.state;
        binary::<B, _, _>(
            ops.parents,
            ops.node,
            grads,
            |grad| B::float_mul(grad, dz.expect("z's gradient is saved when z is tracked")),
            |grad| B::float_neg(B::float_mul(grad, z.expect("z is saved when t is tracked"))),
        );
    }
}

impl<B: PointwiseKernels, C: CheckpointStrategy> PointwiseKernels for Autodiff<B, C> {
    fn lab_sigmoid(x: FloatTensor<Self>) -> FloatTensor<Self> {
        record_from_output::<B, C>(x, B::lab_sigmoid, B::sigmoid_backward)
    }

    fn lab_sqrt(x: FloatTensor<Self>) -> FloatTensor<Self> {
        record_from_output::<B, C>(x, B::lab_sqrt, B::lab_sqrt_backward)
    }

    fn lab_leaky_relu(x: FloatTensor<Self>, slope: f64) -> FloatTensor<Self> {
        match LeakyReluBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let x = x.into_primitive();
                prep.finish((x.clone(), slope), B::lab_leaky_relu(x, slope))
            }
            OpsKind::UnTracked(prep) => prep.finish(B::lab_leaky_relu(x.into_primitive(), slope)),
        }
    }

    fn lab_bce_logits(
        z: FloatTensor<Self>,
        t: FloatTensor<Self>,
        want_grad: bool,
    ) -> (FloatTensor<Self>, Option<FloatTensor<Self>>) {
        // `want_grad` is for the inner backend: autodiff's caller differentiates the loss.
        debug_assert!(!want_grad, "autodiff differentiates lab_bce_logits itself");
        let (z_tracked, t_tracked) = (z.is_tracked(), t.is_tracked());
        let loss = match BceLogitsBackward
            .prepare::<C>([z.node(), t.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let z = z.into_primitive();
                let (loss, dz) = B::lab_bce_logits(z.clone(), t.into_primitive(), z_tracked);
                prep.finish((dz, t_tracked.then_some(z)), loss)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::lab_bce_logits(z.into_primitive(), t.into_primitive(), false).0)
            }
        };
        (loss, None)
    }
}
