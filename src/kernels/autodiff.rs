//! [`ConvKernels`] on `Autodiff<B>`: the forward runs on `B`, the backward calls `B`'s gradient
//! primitives, so flex's GEMM kernels serve both passes (burn's pattern: "Backend Extension").

use std::fmt::Debug;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::{Autodiff, NodeId};
use burn::backend::tensor::FloatTensor;
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};

use super::ConvKernels;

/// A convolution's forward: (x, weight, options) to its output.
type Forward<B, O> = fn(FloatTensor<B>, FloatTensor<B>, O) -> FloatTensor<B>;

/// Its backward: (x, weight, output gradient, options, [x wanted, weight wanted]) to the
/// gradients asked for.
type GradientsFn<B, O> = fn(
    FloatTensor<B>,
    FloatTensor<B>,
    FloatTensor<B>,
    O,
    [bool; 2],
) -> (Option<FloatTensor<B>>, Option<FloatTensor<B>>);

/// The backward step of a bias-free convolution `f(x, weight)` with options `O`: its input and
/// weight gradients, each computed only when that input is tracked.
struct ConvBackward<B: ConvKernels, O> {
    gradients: GradientsFn<B, O>,
}

impl<B: ConvKernels, O> Debug for ConvBackward<B, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConvBackward")
    }
}

impl<B, O> Backward<B, 2> for ConvBackward<B, O>
where
    B: ConvKernels,
    O: Clone + Send + Debug + 'static,
{
    type State = (NodeId, NodeId, O);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_weight] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (x_state, weight_state, options) = ops.state;
        let x: FloatTensor<B> = checkpointer.retrieve_node_output(x_state);
        let weight: FloatTensor<B> = checkpointer.retrieve_node_output(weight_state);
        let wanted = [node_x.is_some(), node_weight.is_some()];
        let (dx, dw) = (self.gradients)(x, weight, grad, options, wanted);
        if let (Some(node), Some(g)) = (node_x, dx) {
            grads.register::<B>(node.id, g);
        }
        if let (Some(node), Some(g)) = (node_weight, dw) {
            grads.register::<B>(node.id, g);
        }
    }
}

/// Runs `forward` on the inner backend and, when x or the weight is tracked, records
/// [`ConvBackward`] with the checkpointed inputs.
fn record<B, C, O>(
    x: FloatTensor<Autodiff<B, C>>,
    weight: FloatTensor<Autodiff<B, C>>,
    options: O,
    forward: Forward<B, O>,
    step: ConvBackward<B, O>,
) -> FloatTensor<Autodiff<B, C>>
where
    B: ConvKernels,
    C: CheckpointStrategy,
    O: Clone + Send + Debug + 'static,
{
    match step
        .prepare::<C>([x.node(), weight.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(mut prep) => {
            let x_state = prep.checkpoint(&x);
            let weight_state = prep.checkpoint(&weight);
            let out = forward(x.into_primitive(), weight.into_primitive(), options.clone());
            prep.finish((x_state, weight_state, options), out)
        }
        OpsKind::UnTracked(prep) => prep.finish(forward(
            x.into_primitive(),
            weight.into_primitive(),
            options,
        )),
    }
}

impl<B: ConvKernels, C: CheckpointStrategy> ConvKernels for Autodiff<B, C> {
    fn lab_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        // The weight gradient unfolds x again rather than keeping the forward's unfolded x:
        // measured on `best`, keeping it (tens of MB per step, out of cache by the backward)
        // trained 10% slower than unfolding a group at a time in cache.
        let step = ConvBackward {
            gradients: |x: FloatTensor<B>,
                        weight: FloatTensor<B>,
                        grad: FloatTensor<B>,
                        options: ConvOptions<2>,
                        [want_x, want_w]| {
                let dx = want_x.then(|| {
                    B::lab_conv2d_x_backward(
                        x.clone(),
                        weight.clone(),
                        grad.clone(),
                        options.clone(),
                    )
                });
                let dw = want_w.then(|| B::lab_conv2d_weight_backward(x, weight, grad, options));
                (dx, dw)
            },
        };
        record::<B, C, _>(x, weight, options, B::lab_conv2d, step)
    }

    fn lab_conv_transpose2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvTransposeOptions<2>,
    ) -> FloatTensor<Self> {
        let step = ConvBackward {
            gradients: B::lab_conv_transpose2d_backward,
        };
        record::<B, C, _>(x, weight, options, B::lab_conv_transpose2d, step)
    }
}
