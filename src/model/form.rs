//! A spec as the page's editor holds it: every field as text, parsed and checked as a whole so
//! the editor can explain what is wrong before anything trains.

use super::spec::{Activation, ArchSpec, ConvSpec, LossKind, ModelSpec, PruneSpec, TrainSpec};

/// The editable text of every field of a [`ModelSpec`].
#[derive(Clone, Debug, PartialEq)]
pub struct SpecForm {
    pub name: String,
    pub channels: String,
    pub kernels: String,
    pub strides: String,
    pub paddings: String,
    pub hidden: String,
    pub latent: String,
    pub encoder_dropout: String,
    pub decoder_dropout: String,
    pub activation: Activation,
    pub loss: LossKind,
    pub lr: String,
    pub weight_decay: String,
    pub batch_size: String,
    pub epochs: String,
    /// Empty: no early stopping.
    pub patience: String,
    /// Reconstructions in the loss (iterative autoencoding); 1 is plain.
    pub iterations: String,
    /// Input corruption for denoising, e.g. `urn:0.7,snp:0.1`; empty or `none`: clean inputs.
    pub noise: String,
    /// Magnitude pruning as [`PruneSpec::with_options`] reads it ("study", or key=value pairs
    /// over the study's schedule); empty: none.
    pub pruning: String,
}

fn join(values: impl IntoIterator<Item = usize>) -> String {
    values
        .into_iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn list(field: &str, text: &str) -> Result<Vec<usize>, String> {
    text.split([',', ' '])
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            s.trim()
                .parse::<usize>()
                .map_err(|_| format!("{field}: '{}' is not a whole number", s.trim()))
        })
        .collect()
}

fn number<T: std::str::FromStr>(field: &str, text: &str) -> Result<T, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("{field}: '{}' is not a number", text.trim()))
}

impl From<&ModelSpec> for SpecForm {
    fn from(spec: &ModelSpec) -> Self {
        let conv = &spec.arch.conv;
        Self {
            name: spec.name.clone(),
            channels: join(conv.iter().map(|c| c.channels)),
            kernels: join(conv.iter().map(|c| c.kernel)),
            strides: join(conv.iter().map(|c| c.stride)),
            paddings: join(conv.iter().map(|c| c.padding)),
            hidden: join(spec.arch.hidden.iter().copied()),
            latent: spec.arch.latent.to_string(),
            encoder_dropout: spec.arch.encoder_dropout.to_string(),
            decoder_dropout: spec.arch.decoder_dropout.to_string(),
            activation: spec.arch.activation,
            loss: spec.train.loss,
            lr: spec.train.lr.to_string(),
            weight_decay: spec.train.weight_decay.to_string(),
            batch_size: spec.train.batch_size.to_string(),
            epochs: spec.train.epochs.to_string(),
            patience: spec
                .train
                .patience
                .map(|p| p.to_string())
                .unwrap_or_default(),
            iterations: spec.train.iterations.to_string(),
            pruning: spec
                .train
                .pruning
                .as_ref()
                .map(PruneSpec::to_options)
                .unwrap_or_default(),
            noise: if spec.train.noise.is_empty() {
                String::new()
            } else {
                spec.train.noise.to_string()
            },
        }
    }
}

impl SpecForm {
    /// Parses every field and validates the result (shapes included).
    pub fn parse(&self) -> Result<ModelSpec, String> {
        let channels = list("channels", &self.channels)?;
        let kernels = list("kernels", &self.kernels)?;
        let strides = list("strides", &self.strides)?;
        let paddings = list("paddings", &self.paddings)?;
        let n = channels.len();
        if [kernels.len(), strides.len(), paddings.len()]
            .iter()
            .any(|&l| l != n)
        {
            return Err(format!(
                "give one kernel, stride and padding per conv layer: {n} channel counts, {} kernels, {} strides, {} paddings",
                kernels.len(),
                strides.len(),
                paddings.len()
            ));
        }
        let conv = (0..n)
            .map(|i| ConvSpec {
                channels: channels[i],
                kernel: kernels[i],
                stride: strides[i],
                padding: paddings[i],
            })
            .collect();
        let patience = match self.patience.trim() {
            "" => None,
            p => Some(number("patience", p)?),
        };
        let spec = ModelSpec {
            name: if self.name.trim().is_empty() {
                "custom".into()
            } else {
                self.name.trim().into()
            },
            arch: ArchSpec {
                conv,
                hidden: list("hidden layers", &self.hidden)?,
                latent: number("latent size", &self.latent)?,
                encoder_dropout: number("encoder dropout", &self.encoder_dropout)?,
                decoder_dropout: number("decoder dropout", &self.decoder_dropout)?,
                activation: self.activation,
            },
            train: TrainSpec {
                loss: self.loss,
                lr: number("learning rate", &self.lr)?,
                // The editor has no schedule field: a spec from it trains at a constant rate.
                lr_decay: None,
                weight_decay: number("weight decay", &self.weight_decay)?,
                batch_size: number("batch size", &self.batch_size)?,
                epochs: number("epochs", &self.epochs)?,
                patience,
                iterations: number("iterations", &self.iterations)?,
                noise: self
                    .noise
                    .trim()
                    .parse()
                    .map_err(|e| format!("noise: {e}"))?,
                pruning: match self.pruning.trim() {
                    "" => None,
                    options => Some(
                        PruneSpec::with_options(options).map_err(|e| format!("pruning: {e}"))?,
                    ),
                },
            },
        };
        spec.validate().map_err(|e| e.to_string())?;
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_round_trip_through_the_form() {
        let mut pruned = ModelSpec::best();
        pruned.train.pruning = Some(PruneSpec::with_options("scope=group,until=20").unwrap());
        for spec in [ModelSpec::basic(), ModelSpec::best(), pruned] {
            assert_eq!(SpecForm::from(&spec).parse().unwrap(), spec);
        }
    }

    #[test]
    fn bad_fields_are_explained() {
        let base = SpecForm::from(&ModelSpec::basic());
        let with = |f: fn(&mut SpecForm)| {
            let mut form = base.clone();
            f(&mut form);
            form.parse().unwrap_err()
        };
        assert!(
            with(|f| f.kernels = "3, 3".into())
                .contains("one kernel, stride and padding per conv layer")
        );
        assert!(with(|f| f.latent = "four".into()).contains("latent size: 'four'"));
        assert!(with(|f| f.channels = "8, 16, x".into()).contains("channels: 'x'"));
        // Shape inference runs too: a fourth 5x5 layer does not fit the 3x3 map.
        let err = with(|f| {
            f.channels = "8,16,32,64".into();
            f.kernels = "3,3,3,5".into();
            f.strides = "2,2,2,1".into();
            f.paddings = "1,1,0,0".into();
        });
        assert!(
            err.contains("conv layer 4") && err.contains("does not fit"),
            "{err}"
        );
        assert!(with(|f| f.batch_size = "0".into()).contains("batch size"));
        assert!(with(|f| f.pruning = "scope=net".into()).contains("pruning: "));
        let mut form = base.clone();
        form.pruning = "study".into();
        assert_eq!(
            form.parse().unwrap().train.pruning,
            Some(PruneSpec::study())
        );
        form.patience = " ".into();
        assert_eq!(form.parse().unwrap().train.patience, None);
    }
}
