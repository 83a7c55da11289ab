//! The spec editor: a preset, or every field of the architecture and of training, checked as
//! you type (shape inference included) so an impossible spec is explained before training.

use leptos::prelude::*;

use crate::model::{Activation, LossKind, ModelSpec, SpecForm};

type GetField = fn(&SpecForm) -> String;
type SetField = fn(&mut SpecForm, String);

fn text_field(
    label: &'static str,
    id: &'static str,
    hint: &'static str,
    form: RwSignal<SpecForm>,
    get: GetField,
    set: SetField,
) -> impl IntoView {
    view! {
        <label class="field" title=hint>
            <span>{label}</span>
            <input
                id=id
                type="text"
                spellcheck="false"
                prop:value=move || form.with(get)
                on:input=move |ev| {
                    let value = event_target_value(&ev);
                    form.update(|f| set(f, value));
                }
            />
        </label>
    }
}

#[component]
pub fn SpecEditor(form: RwSignal<SpecForm>, #[prop(into)] disabled: Signal<bool>) -> impl IntoView {
    let parsed = Memo::new(move |_| form.with(SpecForm::parse));
    let load_preset = move |name: String| {
        if let Some(spec) = ModelSpec::preset(&name) {
            form.set(SpecForm::from(&spec));
        }
    };
    view! {
        <fieldset class="spec" prop:disabled=move || disabled.get()>
            <div class="row">
                <label class="field">
                    <span>"preset"</span>
                    <select id="preset" on:change=move |ev| load_preset(event_target_value(&ev))>
                        <option value="basic" selected=true>"basic (study 2.1)"</option>
                        <option value="best">"best (study 2.2)"</option>
                    </select>
                </label>
                {text_field("name", "spec-name", "a name for the saved model", form, |f| f.name.clone(), |f, v| f.name = v)}
            </div>
            <h3>"Encoder (the decoder mirrors it)"</h3>
            <div class="row">
                {text_field("conv channels", "spec-channels", "one number per conv layer", form, |f| f.channels.clone(), |f, v| f.channels = v)}
                {text_field("kernels", "spec-kernels", "kernel size per conv layer", form, |f| f.kernels.clone(), |f, v| f.kernels = v)}
                {text_field("strides", "spec-strides", "stride per conv layer", form, |f| f.strides.clone(), |f, v| f.strides = v)}
                {text_field("paddings", "spec-paddings", "padding per conv layer", form, |f| f.paddings.clone(), |f, v| f.paddings = v)}
            </div>
            <div class="row">
                {text_field("hidden layers", "spec-hidden", "widths of the hidden linear layers", form, |f| f.hidden.clone(), |f, v| f.hidden = v)}
                {text_field("latent size", "spec-latent", "dimensions of the code", form, |f| f.latent.clone(), |f, v| f.latent = v)}
                {text_field("encoder dropout", "spec-enc-dropout", "0 to <1", form, |f| f.encoder_dropout.clone(), |f, v| f.encoder_dropout = v)}
                {text_field("decoder dropout", "spec-dec-dropout", "0 to <1", form, |f| f.decoder_dropout.clone(), |f, v| f.decoder_dropout = v)}
                <label class="field">
                    <span>"activation"</span>
                    <select
                        id="spec-activation"
                        prop:value=move || form.with(|f| serde_json::to_value(f.activation).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default())
                        on:change=move |ev| {
                            let act = match event_target_value(&ev).as_str() {
                                "leaky_relu" => Activation::LeakyRelu,
                                "gelu" => Activation::Gelu,
                                "tanh" => Activation::Tanh,
                                _ => Activation::Relu,
                            };
                            form.update(|f| f.activation = act);
                        }
                    >
                        <option value="relu">"ReLU"</option>
                        <option value="leaky_relu">"leaky ReLU"</option>
                        <option value="gelu">"GELU"</option>
                        <option value="tanh">"tanh"</option>
                    </select>
                </label>
            </div>
            <h3>"Training"</h3>
            <div class="row">
                <label class="field">
                    <span>"loss"</span>
                    <select
                        id="spec-loss"
                        prop:value=move || form.with(|f| f.loss.name().to_string())
                        on:change=move |ev| {
                            let loss = if event_target_value(&ev) == "bce" { LossKind::Bce } else { LossKind::Mse };
                            form.update(|f| f.loss = loss);
                        }
                    >
                        <option value="mse">"MSE"</option>
                        <option value="bce">"BCE"</option>
                    </select>
                </label>
                {text_field("learning rate", "spec-lr", "Adam learning rate", form, |f| f.lr.clone(), |f, v| f.lr = v)}
                {text_field("weight decay", "spec-wd", "Adam weight decay (L2)", form, |f| f.weight_decay.clone(), |f, v| f.weight_decay = v)}
                {text_field("batch", "spec-batch", "images per step", form, |f| f.batch_size.clone(), |f, v| f.batch_size = v)}
                {text_field("epochs", "spec-epochs", "at most this many epochs", form, |f| f.epochs.clone(), |f, v| f.epochs = v)}
                {text_field("patience", "spec-patience", "early stopping patience in epochs; empty: none", form, |f| f.patience.clone(), |f, v| f.patience = v)}
                {text_field("iterations", "spec-iterations", "reconstructions fed back in the loss (iterative autoencoder); 1: plain", form, |f| f.iterations.clone(), |f, v| f.iterations = v)}
                {text_field("input noise", "spec-noise", "denoising: corrupt inputs, e.g. urn:0.7,snp:0.1 (urn, snp, hole, rot); empty: none", form, |f| f.noise.clone(), |f, v| f.noise = v)}
            </div>
            <div class="row">
                <label class="field wide" title="magnitude pruning: 'study' (every 5 epochs; encoder conv 0.1, encoder linear 0.398, decoder linear 0.214, decoder conv 0.068 of each layer's remaining weights), or key=value pairs over it: every, until, reading (remaining|target), scope (layer|group), encoder_conv, encoder_linear, decoder_linear, decoder_conv; empty: none">
                    <span>"pruning"</span>
                    <input id="spec-pruning" type="text" spellcheck="false" placeholder="none (try: study, or reading=target)"
                        prop:value=move || form.with(|f| f.pruning.clone())
                        on:input=move |ev| {
                            let value = event_target_value(&ev);
                            form.update(|f| f.pruning = value);
                        } />
                </label>
            </div>
            <p class=move || if parsed.with(Result::is_ok) { "check ok" } else { "check bad" } id="spec-check" role="status">
                {move || match parsed.get() {
                    Ok(spec) => {
                        let (enc, dec) = spec.arch.param_counts().unwrap_or((0, 0));
                        let shapes = spec.arch.shapes().ok();
                        let flat = shapes.map(|s| s.flat).unwrap_or(0);
                        format!("✓ {} parameters (encoder {enc}, decoder {dec}); conv output {flat} values", enc + dec)
                    }
                    Err(e) => format!("✗ {e}"),
                }}
            </p>
        </fieldset>
    }
}
