//! `latentlab arch`: the layer shapes and parameter counts of a spec.

use super::{CliResult, SpecArgs};

#[derive(clap::Args, Debug)]
pub struct ArchArgs {
    #[command(flatten)]
    spec: SpecArgs,
    /// Print the spec itself as JSON (the format of spec.json and --spec) instead.
    #[arg(long)]
    json: bool,
}

pub fn run(args: ArchArgs) -> CliResult {
    let spec = args.spec.load()?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&spec).expect("serialisable")
        );
        return Ok(());
    }
    let shapes = spec
        .arch
        .shapes()
        .map_err(|e| format!("spec {}: {e}", spec.name))?;
    let (enc, dec) = spec.arch.param_counts().map_err(|e| e.to_string())?;
    println!("{} ({:?} activation)", spec.name, spec.arch.activation);
    println!("encoder");
    for (i, (c, s)) in shapes.conv.iter().zip(&spec.arch.conv).enumerate() {
        println!(
            "  conv {}: {}x{}x{} -> {}x{}x{}  (kernel {}, stride {}, padding {})",
            i + 1,
            c.in_channels,
            c.input,
            c.input,
            c.out_channels,
            c.output,
            c.output,
            s.kernel,
            s.stride,
            s.padding
        );
    }
    let [ch, side, _] = shapes.conv_out();
    println!("  flatten: {ch}x{side}x{side} -> {}", shapes.flat);
    for w in shapes.linear.windows(2) {
        println!("  linear: {} -> {}", w[0], w[1]);
    }
    println!("decoder");
    for w in shapes.linear.windows(2).rev() {
        println!("  linear: {} -> {}", w[1], w[0]);
    }
    println!("  unflatten: {} -> {ch}x{side}x{side}", shapes.flat);
    for (i, (c, s)) in shapes.conv.iter().zip(&spec.arch.conv).enumerate().rev() {
        println!(
            "  conv-transpose {}: {}x{}x{} -> {}x{}x{}  (kernel {}, stride {}, padding {}, output padding {})",
            i + 1,
            c.out_channels,
            c.output,
            c.output,
            c.in_channels,
            c.input,
            c.input,
            s.kernel,
            s.stride,
            s.padding,
            c.output_padding
        );
    }
    println!("  sigmoid: 1x28x28");
    println!(
        "parameters: encoder {enc}, decoder {dec}, total {}",
        enc + dec
    );
    Ok(())
}
