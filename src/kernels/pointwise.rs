//! The logistic function and the logistic loss (binary cross-entropy on logits) as single
//! pointwise kernels, plugged into burn as the convolutions are ([`super::ConvKernels`]).
//!
//! Burn builds the loss from eight elementwise ops (abs, neg, exp, log1p, clamp, mul, sub, add),
//! each with its own pass over the data and its own backward, and its flex ops call the scalar
//! `expf` / `log1pf` per element (in wasm, a call into compiler-builtins). Here:
//! - flex computes each in one vectorised pass ([`super::fastmath`]);
//! - the loss's forward also yields its gradient `sigmoid(z) - t`, so its backward is one
//!   multiply; the sigmoid's backward reads the output it saved instead of recomputing it;
//! - the GPU backends (cubecl) compose burn's own ops in the trait's default bodies.

use std::fmt::Debug;

#[cfg(any(not(target_arch = "wasm32"), feature = "webgpu"))]
use burn::backend::Cube;
use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, binary, unary};
use burn::backend::flex::FlexTensor;
use burn::backend::ops::ActivationOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, Flex, TensorMetadata, backend_extension};
use burn::tensor::{DType, Tensor, TensorData};

use super::fastmath;

/// Pointwise kernels latentlab implements per backend.
#[backend_extension(Flex, Cube: cfg(any(not(target_arch = "wasm32"), feature = "webgpu")), Autodiff)]
pub trait PointwiseKernels: Backend {
    /// `1 / (1 + e^-x)`.
    fn lab_sigmoid(x: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::sigmoid(x)
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

/// The binary cross-entropy of `logits` against `target`, elementwise (see
/// [`PointwiseKernels::lab_bce_logits`]): the mean of it is the usual BCE loss.
pub fn bce_logits<const D: usize>(logits: Tensor<D>, target: Tensor<D>) -> Tensor<D> {
    let (loss, _) = Dispatch::lab_bce_logits(logits.into_dispatch(), target.into_dispatch(), false);
    Tensor::from_dispatch(loss)
}

// ---- flex ---------------------------------------------------------------------------------

impl PointwiseKernels for Flex {
    fn lab_sigmoid(x: FlexTensor) -> FlexTensor {
        if x.dtype() != DType::F32 {
            return Self::sigmoid(x);
        }
        let x = contiguous(x);
        let out = x
            .as_slice::<f32>()
            .expect("f32")
            .iter()
            .map(|&v| fastmath::sigmoid(v));
        FlexTensor::from_data(TensorData::new(out.collect::<Vec<f32>>(), x.shape()))
    }

    fn lab_bce_logits(
        z: FlexTensor,
        t: FlexTensor,
        want_grad: bool,
    ) -> (FlexTensor, Option<FlexTensor>) {
        if z.dtype() != DType::F32 || t.dtype() != DType::F32 || z.shape() != t.shape() {
            return bce_logits_composed::<Self>(z, t, want_grad);
        }
        let (z, t) = (contiguous(z), contiguous(t));
        let (zs, ts) = (
            z.as_slice::<f32>().expect("f32"),
            t.as_slice::<f32>().expect("f32"),
        );
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

/// `t` laid out contiguously (a no-op when it already is).
fn contiguous(t: FlexTensor) -> FlexTensor {
    if t.is_contiguous() {
        t
    } else {
        t.to_contiguous()
    }
}

// ---- autodiff -----------------------------------------------------------------------------

/// The sigmoid's backward: `grad · y (1 - y)` from its saved output `y`.
#[derive(Debug)]
struct SigmoidBackward;

impl<B: PointwiseKernels> Backward<B, 1> for SigmoidBackward {
    type State = FloatTensor<B>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let output = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |grad| {
            B::sigmoid_backward(output, grad)
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
        match SigmoidBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let out = B::lab_sigmoid(x.into_primitive());
                prep.finish(out.clone(), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::lab_sigmoid(x.into_primitive())),
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
