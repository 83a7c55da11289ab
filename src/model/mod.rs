//! Models: the serialisable spec with its shape inference, and the burn modules built from it.

pub mod autoencoder;
pub mod classifier;
pub mod dropout;
pub mod form;
pub mod gan;
pub mod spec;

pub use autoencoder::{Autoencoder, Decoder, Encoder};
pub use classifier::{CLASSES, Classifier, ClassifierSpec, Unfreeze};
pub use form::SpecForm;
pub use gan::{
    Conditioning, Discriminator, Gan, GanKind, GanOptimizer, GanSpec, GanTrain, Generator,
    stddev_group,
};
pub use spec::{
    Activation, ArchSpec, ConvSpec, LossKind, ModelSpec, PruneReading, PruneScope, PruneSpec,
    Shapes, SpecError, TrainSpec, from_json,
};
