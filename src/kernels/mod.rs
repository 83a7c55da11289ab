//! latentlab's own convolutions, plugged into burn through its backend-extension mechanism.
//!
//! Burn's flex (CPU) backend computes a convolution's weight gradient with a generic
//! dilated-convolution form and its transposed convolution with a direct loop; together they were
//! most of a training step's time (README, "Speed"). [`ConvKernels`] is a backend trait with six
//! primitives (forward, input gradient and weight gradient of `conv2d` and `conv_transpose2d`):
//!
//! - flex implements them with im2col/col2im and GEMM, parallel over the batch ([`flex`]);
//! - the GPU backends (cubecl: wgpu, WebGPU) keep burn's own ops (the trait's default bodies);
//! - `Autodiff<B>` wires them into the graph with its own backward ([`autodiff`]).
//!
//! The model code calls [`conv2d`] and [`conv_transpose2d`] with burn's layer modules (their
//! parameters, records and files are unchanged); the backend is picked by the tensor's device, so
//! the model stays backend-agnostic.

mod autodiff;
mod fastmath;
mod flex;
mod pointwise;

pub use pointwise::{PointwiseKernels, bce_logits, leaky_relu, sigmoid, sqrt};

#[cfg(any(not(target_arch = "wasm32"), feature = "webgpu"))]
use burn::backend::Cube;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, backend_extension};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::tensor::Tensor;
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};

/// The convolution primitives latentlab implements per backend. Biases are added outside (a
/// broadcast add, differentiated by burn), so every primitive is bias-free.
// Cube (wgpu, WebGPU, CUDA) everywhere but in the page's threaded build, which has no WebGPU.
#[backend_extension(Flex, Cube: cfg(any(not(target_arch = "wasm32"), feature = "webgpu")), Autodiff)]
pub trait ConvKernels: Backend {
    /// `conv2d` without bias: x [n, c, h, w], weight [o, c, kh, kw].
    fn lab_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        Self::conv2d(x, weight, None, options)
    }

    /// The gradient of [`Self::lab_conv2d`] with respect to `x`.
    fn lab_conv2d_x_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        Self::conv2d_x_backward(x, weight, output_grad, options)
    }

    /// The gradient of [`Self::lab_conv2d`] with respect to `weight`.
    fn lab_conv2d_weight_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        Self::conv2d_weight_backward(x, weight, output_grad, options)
    }

    /// `conv_transpose2d` without bias: x [n, c_in, h, w], weight [c_in, c_out, kh, kw].
    fn lab_conv_transpose2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvTransposeOptions<2>,
    ) -> FloatTensor<Self> {
        Self::conv_transpose2d(x, weight, None, options)
    }

    /// The gradient of [`Self::lab_conv_transpose2d`] with respect to `x`.
    fn lab_conv_transpose2d_x_backward(
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        options: ConvTransposeOptions<2>,
    ) -> FloatTensor<Self> {
        Self::conv_transpose2d_x_backward(weight, output_grad, options)
    }

    /// The gradient of [`Self::lab_conv_transpose2d`] with respect to `weight`.
    fn lab_conv_transpose2d_weight_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        options: ConvTransposeOptions<2>,
    ) -> FloatTensor<Self> {
        Self::conv_transpose2d_weight_backward(x, weight, output_grad, options)
    }

    /// Both gradients of [`Self::lab_conv_transpose2d`], each only where `wanted` ([x, weight])
    /// asks for it. Flex unfolds the output gradient once for the two.
    fn lab_conv_transpose2d_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        options: ConvTransposeOptions<2>,
        wanted: [bool; 2],
    ) -> (Option<FloatTensor<Self>>, Option<FloatTensor<Self>>) {
        let dx = wanted[0].then(|| {
            Self::lab_conv_transpose2d_x_backward(
                weight.clone(),
                output_grad.clone(),
                options.clone(),
            )
        });
        let dw = wanted[1]
            .then(|| Self::lab_conv_transpose2d_weight_backward(x, weight, output_grad, options));
        (dx, dw)
    }
}

/// The GPU backends keep burn's convolutions: the default bodies.
#[cfg(any(not(target_arch = "wasm32"), feature = "webgpu"))]
impl ConvKernels for Cube {}

/// A `[channels]` bias as `[1, channels, 1, 1]`, added to a convolution's output.
fn add_bias(x: Tensor<4>, bias: Option<Tensor<1>>) -> Tensor<4> {
    match bias {
        Some(bias) => {
            let c = bias.dims()[0];
            x + bias.reshape([1, c, 1, 1])
        }
        None => x,
    }
}

/// Bias-free `conv2d` through the backend's [`ConvKernels`].
pub fn conv2d_raw(x: Tensor<4>, weight: Tensor<4>, options: ConvOptions<2>) -> Tensor<4> {
    Tensor::from_dispatch(Dispatch::lab_conv2d(
        x.into_dispatch(),
        weight.into_dispatch(),
        options,
    ))
}

/// Bias-free `conv_transpose2d` through the backend's [`ConvKernels`].
pub fn conv_transpose2d_raw(
    x: Tensor<4>,
    weight: Tensor<4>,
    options: ConvTransposeOptions<2>,
) -> Tensor<4> {
    Tensor::from_dispatch(Dispatch::lab_conv_transpose2d(
        x.into_dispatch(),
        weight.into_dispatch(),
        options,
    ))
}

/// `layer.forward(x)`, computed by latentlab's kernels where the backend has them.
pub fn conv2d(layer: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    // latentlab's nets use explicit padding; burn's layer computes the others ("same").
    let PaddingConfig2d::Explicit(top, left, bottom, right) = layer.padding else {
        return layer.forward(x);
    };
    let options = ConvOptions::new_with_padding(
        layer.stride,
        [(top, bottom), (left, right)],
        layer.dilation,
        layer.groups,
    );
    let y = conv2d_raw(x, layer.weight.val(), options);
    add_bias(y, layer.bias.as_ref().map(|b| b.val()))
}

/// `layer.forward(x)`, computed by latentlab's kernels where the backend has them.
pub fn conv_transpose2d(layer: &ConvTranspose2d, x: Tensor<4>) -> Tensor<4> {
    let options = ConvTransposeOptions::new(
        layer.stride,
        layer.padding,
        layer.padding_out,
        layer.dilation,
        layer.groups,
    );
    let y = conv_transpose2d_raw(x, layer.weight.val(), options);
    add_bias(y, layer.bias.as_ref().map(|b| b.val()))
}
